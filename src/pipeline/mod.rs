//! The pipeline: the one place that wires capture → decode → flow → reassembly → HTTP.
//!
//! [`Pipeline::process_frame`] takes one frame and its time, and hands every finished
//! HTTP transaction (and TLS ClientHello) to a [`TransactionObserver`]; detection and
//! the sinks sit behind that trait. Per packet nothing is allocated on the in-order
//! path; per-flow buffers are reused. Every packet that cannot be used is counted by
//! reason in [`Summary`].

use std::net::SocketAddr;

use crate::capture::{CaptureError, Frame, PacketSource};
use crate::decode::fragment::{Defragmenter, Reassembled};
use crate::decode::{self, DecodeError, Decoded, LinkType, PacketView, Transport};
use crate::flow::{Direction, Flow, FlowEnd, FlowTable, TcpState};
use crate::http::session::FlowContext;
use crate::http::HttpTransaction;
use crate::reassembly::{Chunk, SeqNumber};
use crate::time::Timestamp;

mod app;
mod memory;
mod settings;
pub mod shard;

pub use app::FlowApp;
use app::{deliver, finish_flow, flush_flow};
pub use settings::{PipelineSettings, SiteScope};

pub use crate::detect::{DetectionStage, DetectorRef};
pub use crate::observe::{NullObserver, Pressure, Summary, TransactionObserver, NOBODY};

/// The packet stages of one worker.
pub struct Pipeline {
    flows: FlowTable<FlowApp>,
    site: Option<SiteScope>,
    /// Response body bytes sessions keep per transaction (settings).
    keep_response_bytes: usize,
    /// Requests arriving this long or longer are counted at each second's sweep and
    /// reported (settings).
    slow_request_secs: u64,
    defrag: Defragmenter,
    pending: Vec<HttpTransaction>,
    /// The number the next frame gets when the caller does not number frames.
    next_frame: u64,
    /// Packet time (seconds) of the last sweep of fragments.
    last_expiry_secs: u64,
    /// Fragments the full defragmenter refused and not yet reported, and the packet
    /// second of the last report (at most one a second goes to the observer).
    fragments_refused: u64,
    fragments_reported_secs: u64,
    pub summary: Summary,
}

impl Pipeline {
    /// A pipeline with the given settings.
    pub fn new(settings: PipelineSettings) -> Self {
        let mut flows = FlowTable::with_budget(
            settings.max_flows,
            settings.server_ports,
            settings.memory_bytes,
        );
        if let Some(pool) = settings.heap_pool {
            flows.join_pool(pool);
        }
        Pipeline {
            flows,
            site: settings.site,
            keep_response_bytes: settings.response_body_prefix_bytes,
            slow_request_secs: settings.slow_request_secs,
            defrag: Defragmenter::default(),
            pending: Vec::new(),
            next_frame: 1,
            last_expiry_secs: 0,
            fragments_refused: 0,
            fragments_reported_secs: 0,
            summary: Summary::default(),
        }
    }

    /// Processes every frame of a source.
    pub fn run_source(
        &mut self,
        source: &mut dyn PacketSource,
        observer: &mut dyn TransactionObserver,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), CaptureError> {
        let link = source.link_type();
        while let Some(frame) = source.next_frame()? {
            progress(u64::from(frame.wire_len.min(frame.data.len() as u32)) + 16);
            self.process_frame(link, &frame, observer);
        }
        Ok(())
    }

    /// Processes one frame, numbered by this pipeline (one more than the last).
    pub fn process_frame(
        &mut self,
        link: LinkType,
        frame: &Frame<'_>,
        observer: &mut dyn TransactionObserver,
    ) {
        let number = self.next_frame;
        self.process_numbered(link, frame, number, observer);
    }

    /// Processes the capture's `number`-th frame (1-based, as Wireshark counts), then
    /// expires idle flows. A flow the frame opens takes `number` as its id: unique in
    /// the run, and the same whichever worker of a sharded run holds the flow.
    pub fn process_numbered(
        &mut self,
        link: LinkType,
        frame: &Frame<'_>,
        number: u64,
        observer: &mut dyn TransactionObserver,
    ) {
        self.ingest(link, frame, number, observer);
        self.expire(frame.ts, observer);
    }

    /// [`Pipeline::process_numbered`] without expiring idle flows: a sharded replay
    /// expires every worker's flows at the same points of the capture, through
    /// [`Pipeline::advance`].
    pub fn ingest(
        &mut self,
        link: LinkType,
        frame: &Frame<'_>,
        number: u64,
        observer: &mut dyn TransactionObserver,
    ) {
        self.next_frame = number.saturating_add(1);
        self.flows.number_next(number);
        let now = frame.ts;
        self.summary.packets += 1;
        self.summary.bytes += u64::from(frame.wire_len);
        match decode::decode(link, frame.data) {
            Ok(Decoded::Packet(packet)) => self.process_packet(&packet, now, observer),
            Ok(Decoded::Fragment(frag)) => {
                let refused = self.defrag.stats.refused();
                match self.defrag.insert(&frag, now.secs()) {
                    Ok(Some(whole)) => self.process_reassembled(&whole, now, observer),
                    Ok(None) => {}
                    Err(e) => {
                        self.summary.decode_errors[e.index()] += 1;
                        if self.defrag.stats.refused() > refused {
                            self.report_refused_fragment(now, observer);
                        }
                    }
                }
            }
            Err(DecodeError::NotIp | DecodeError::OtherTransport) => {
                self.summary.other_packets += 1
            }
            Err(e) => self.summary.decode_errors[e.index()] += 1,
        }
    }

    /// Tells the observer that the defragmenter refused a fragment: the first refusal
    /// at once, then at most once a second of packet time with the count since. The
    /// event names neither end: later fragments carry no ports, so which side is the
    /// site's is unknown.
    fn report_refused_fragment(&mut self, now: Timestamp, observer: &mut dyn TransactionObserver) {
        self.fragments_refused += 1;
        if self.fragments_reported_secs != 0 && now.secs() <= self.fragments_reported_secs {
            return;
        }
        observer.on_pressure(Pressure::Fragments, self.fragments_refused, NOBODY, now);
        self.fragments_reported_secs = now.secs().max(1);
        self.fragments_refused = 0;
    }

    fn process_reassembled(
        &mut self,
        whole: &Reassembled,
        now: Timestamp,
        observer: &mut dyn TransactionObserver,
    ) {
        self.summary.fragments_reassembled += 1;
        match decode::decode_transport_of(whole) {
            Ok(packet) => self.process_packet(&packet, now, observer),
            Err(e) => self.summary.decode_errors[e.index()] += 1,
        }
    }

    fn process_packet(
        &mut self,
        packet: &PacketView<'_>,
        now: Timestamp,
        observer: &mut dyn TransactionObserver,
    ) {
        let Transport::Tcp {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
        } = packet.transport
        else {
            self.summary.udp_packets += 1;
            return;
        };
        let src = SocketAddr::new(packet.src, src_port);
        let dst = SocketAddr::new(packet.dst, dst_port);
        if let Some(site) = &self.site {
            if !site.contains(src, dst) {
                self.summary.outside_site += 1;
                return;
            }
        }
        self.summary.tcp_packets += 1;
        observer.on_tcp_packet(packet, now);
        let pending = &mut self.pending;
        let summary = &mut self.summary;
        let mut evicted = 0u64;
        let mut ended = |flow: Flow<FlowApp>, end: FlowEnd| {
            evicted += u64::from(end == FlowEnd::Evicted);
            finish_flow(flow, now, pending, summary);
        };
        let found = self.flows.lookup_or_create(
            src,
            dst,
            flags,
            !packet.payload.is_empty(),
            now,
            &mut ended,
        );
        if evicted > 0 {
            observer.on_pressure(Pressure::FlowTable, evicted, dst, now);
        }
        let Some(flow) = found else {
            self.drain_pending(observer);
            return;
        };
        let dir = flow.direction_of(src);
        flow.packets[dir as usize] += 1;
        flow.bytes[dir as usize] += packet.payload.len() as u64;
        if flags.syn() {
            flow.streams[dir as usize].set_isn(SeqNumber(seq));
        }
        if flags.rst() && !flow.streams[dir as usize].accepts_reset(SeqNumber(seq)) {
            // A RST outside the window (RFC 5961): the endpoints ignore it; so do we.
            self.drain_pending(observer);
            return;
        }
        let was_opening = flow.state == TcpState::SynReceived;
        flow.track_flags(dir, flags);
        if was_opening && flow.state == TcpState::Established {
            observer.on_handshake(now);
        }
        // What a session stamps on transactions, built on the first chunk delivered:
        // most packets (handshakes, bare ACKs, FINs) deliver none.
        let (flow_id, ends) = (flow.id, flow.endpoints());
        let keep_response_bytes = self.keep_response_bytes;
        let mut ctx: Option<FlowContext> = None;
        let ctx_for = |ctx: &mut Option<FlowContext>| {
            *ctx.get_or_insert_with(|| app::context_of(flow_id, ends, keep_response_bytes))
        };
        // Whether anything reached or may have changed what the flow holds: only then
        // is its memory re-read (the walk costs more than the rest of a bare ACK).
        let mut touched = !packet.payload.is_empty();
        let Flow { streams, app, .. } = flow;
        let [to_server, to_client] = streams;
        let (this, peer) = match dir {
            Direction::ToServer => (to_server, to_client),
            Direction::ToClient => (to_client, to_server),
        };
        let mut deliver_peer = |chunk: Chunk<'_>| {
            touched = true;
            let ctx = ctx_for(&mut ctx);
            deliver(
                app,
                dir.reverse(),
                chunk,
                now,
                &ctx,
                &mut self.pending,
                observer,
            );
        };
        if flags.ack() {
            peer.on_peer_ack(SeqNumber(ack), &mut deliver_peer);
        }
        let mut deliver_this = |chunk: Chunk<'_>| {
            touched = true;
            let ctx = ctx_for(&mut ctx);
            deliver(app, dir, chunk, now, &ctx, &mut self.pending, observer);
        };
        let data_seq = if flags.syn() {
            SeqNumber(seq) + 1
        } else {
            SeqNumber(seq)
        };
        this.insert_segment(data_seq, packet.payload, &mut deliver_this);
        let closed = flow.state == TcpState::Closed;
        if closed {
            flush_flow(flow, now, &mut self.pending, &mut self.summary);
        }
        if touched || closed {
            let change = flow.reaccount();
            self.flows.account(change);
        }
        if closed {
            // Flushed: it lingers as a closed connection (CLOSED_FLOW_TIMEOUT_SECS) to
            // absorb late packets, outside the table of open ones.
            self.flows.retire(src, dst);
        }
        // A live worker borrows from the pooled heap before it takes any step.
        if self.flows.over_budget() && !self.flows.borrow_heap() {
            self.relieve_memory(now, observer);
        }
        self.drain_pending(observer);
    }

    fn drain_pending(&mut self, observer: &mut dyn TransactionObserver) {
        // Most packets complete nothing: an empty drain still cost its iterator's drop.
        if self.pending.is_empty() {
            return;
        }
        self.summary.transactions += self.pending.len() as u64;
        observer.take_transactions(&mut self.pending);
    }

    fn expire(&mut self, now: Timestamp, observer: &mut dyn TransactionObserver) {
        // Once per second of packet time, for every worker alike (not only when a
        // fragment arrives), so fragment timeouts do not depend on sharding.
        let new_second = now.secs() > self.last_expiry_secs;
        if new_second {
            self.last_expiry_secs = now.secs();
            self.defrag.expire(now.secs());
        }
        let pending = &mut self.pending;
        let summary = &mut self.summary;
        self.flows.expire_idle(now, &mut |flow, _end| {
            finish_flow(flow, now, pending, summary)
        });
        self.drain_pending(observer);
        if new_second {
            let (count, server) = self.flows.slow_requests(now, self.slow_request_secs);
            observer.on_slow_requests(count, server.unwrap_or(NOBODY), now);
        }
    }

    /// Ends every flow (end of input): flushes reassembly and open transactions.
    pub fn finish(&mut self, observer: &mut dyn TransactionObserver) {
        let pending = &mut self.pending;
        let summary = &mut self.summary;
        let now = Timestamp::default();
        self.flows
            .drain_all(&mut |flow, _end| finish_flow(flow, now, pending, summary));
        self.drain_pending(observer);
        self.refresh_flow_counters();
    }

    /// Expires idle flows as of `now` without a packet (a live capture that went quiet).
    pub fn advance(&mut self, now: Timestamp, observer: &mut dyn TransactionObserver) {
        self.expire(now, observer);
    }

    /// Copies the flow table's counters into [`Summary`] (they are otherwise copied at
    /// [`Pipeline::finish`]); a live worker calls it before reporting.
    pub fn refresh_flow_counters(&mut self) {
        let s = self.flows.stats;
        self.summary.flows = s.created;
        self.summary.flows_picked_up_mid_stream = s.picked_up_mid_stream;
        self.summary.flows_evicted = s.evicted;
        self.summary.flows_evicted_by_class = [
            s.evicted_without_data,
            s.evicted_established,
            s.evicted_mid_message,
        ];
        self.summary.flows_timed_out = s.timed_out;
        self.summary.fragments = self.defrag.stats;
        self.summary.memory = self.flows.stats.pressure;
    }

    /// Flows currently held (for metrics and memory bounds).
    pub fn live_flows(&self) -> usize {
        self.flows.len()
    }
}
