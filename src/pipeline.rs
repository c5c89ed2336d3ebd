//! The pipeline: the one place that wires capture → decode → flow → reassembly → HTTP.
//!
//! [`Pipeline::process_frame`] takes one frame and its time, and hands every finished
//! HTTP transaction (and TLS ClientHello) to a [`TransactionObserver`]; detection and
//! the sinks sit behind that trait. Per packet nothing is allocated on the in-order
//! path; per-flow buffers are reused. Every packet that cannot be used is counted by
//! reason in [`Summary`].

use std::fmt;
use std::net::SocketAddr;

use crate::capture::{CaptureError, Frame, PacketSource};
use crate::decode::fragment::{Defragmenter, Reassembled};
use crate::decode::{self, DecodeError, Decoded, LinkType, PacketView, Transport};
use crate::detect::shared::SharedDetector;
use crate::detect::Detector;
use crate::flow::{Direction, Flow, FlowEnd, FlowTable, TcpState, DEFAULT_MAX_FLOWS};
use crate::http::session::{FlowContext, HttpStats};
use crate::http::{HttpSession, HttpTransaction};
use crate::reassembly::{Chunk, SeqNumber, StreamStats};
use crate::time::Timestamp;
use crate::tls::{self, ClientHello};

/// Receives what the pipeline finds.
pub trait TransactionObserver {
    /// A finished HTTP transaction.
    fn on_transaction(&mut self, txn: &HttpTransaction);
    /// A TLS ClientHello (statistics only).
    fn on_client_hello(&mut self, _hello: &ClientHello) {}
    /// A TCP packet, for per-client TCP-level detectors (SYN floods, port scans).
    fn on_tcp_packet(&mut self, _packet: &PacketView<'_>, _now: Timestamp) {}
    /// The flow table was full and evicted `evicted` flows to admit a new one to
    /// `server` (a connection flood, or a table too small for the site).
    fn on_flow_evictions(&mut self, _evicted: u64, _server: SocketAddr, _now: Timestamp) {}
    /// A connection completed its three-way handshake (half-open accounting).
    fn on_handshake(&mut self, _now: Timestamp) {}
}

/// An observer that ignores everything (for counting-only replays and benchmarks).
#[derive(Debug, Default)]
pub struct NullObserver;

impl TransactionObserver for NullObserver {
    fn on_transaction(&mut self, _txn: &HttpTransaction) {}
}

/// Settings of the packet stages.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub max_flows: usize,
    /// Ports that identify the server side of a flow picked up mid-stream.
    pub server_ports: Vec<u16>,
    /// When set, TCP packets not to or from the site are skipped after decoding. The
    /// live capture sets it: its kernel filter lets every fragment and every IPv6
    /// packet through (ports are not visible to BPF in them), so the site's ports are
    /// checked here. Replay leaves it unset and judges every flow in the capture.
    pub site: Option<SiteScope>,
}

/// The site's addresses and ports, as a test on decoded packets.
#[derive(Debug, Clone, Default)]
pub struct SiteScope {
    /// Empty means any address.
    pub addresses: Vec<ipnet::IpNet>,
    /// Empty means any port.
    pub ports: Vec<u16>,
}

impl SiteScope {
    /// The scope of a configuration's `site:` section.
    pub fn of(site: &crate::config::SiteConfig) -> SiteScope {
        SiteScope {
            addresses: site.addresses.clone(),
            ports: site.ports.clone(),
        }
    }

    /// True when either end of the packet is a site address and port.
    pub fn contains(&self, src: SocketAddr, dst: SocketAddr) -> bool {
        let is_site = |a: SocketAddr| {
            (self.addresses.is_empty() || self.addresses.iter().any(|n| n.contains(&a.ip())))
                && (self.ports.is_empty() || self.ports.contains(&a.port()))
        };
        is_site(dst) || is_site(src)
    }
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            max_flows: DEFAULT_MAX_FLOWS,
            server_ports: vec![80, 8080, 8000, 443, 3128, 8443],
            site: None,
        }
    }
}

impl PipelineSettings {
    /// The defaults, with the site's ports added to the server ports.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let mut settings = PipelineSettings::default();
        for p in &config.site.ports {
            if !settings.server_ports.contains(p) {
                settings.server_ports.push(*p);
            }
        }
        settings
    }
}

/// What a flow carries, decided by its first bytes.
#[derive(Debug, Default)]
pub enum FlowApp {
    #[default]
    Undecided,
    Http(Box<HttpSession>),
    /// TLS: the ClientHello was read; the rest is not parsed.
    Tls,
}

impl crate::flow::EvictionHint for FlowApp {
    fn mid_message(&self) -> bool {
        match self {
            FlowApp::Http(session) => session.mid_request(),
            _ => false,
        }
    }
}

/// Counters over a whole run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    /// Packets that are not IP or not TCP/UDP (ARP, ICMP): skipped, not errors.
    pub other_packets: u64,
    pub decode_errors: [u64; DecodeError::ALL.len()],
    pub fragments_reassembled: u64,
    pub flows: u64,
    pub flows_picked_up_mid_stream: u64,
    pub flows_evicted: u64,
    /// Evictions by class: without data, established, mid-message.
    pub flows_evicted_by_class: [u64; 3],
    pub flows_timed_out: u64,
    pub reassembly: StreamStats,
    pub http: HttpStats,
    pub transactions: u64,
    pub tls_client_hellos: u64,
    /// TCP packets skipped as not to or from the site (live capture only).
    pub outside_site: u64,
    /// IP fragment reassembly counters.
    pub fragments: crate::decode::fragment::FragmentStats,
}

impl Summary {
    /// Total packets that could not be decoded.
    pub fn decode_error_total(&self) -> u64 {
        self.decode_errors.iter().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "packets            {}", self.packets)?;
        writeln!(f, "bytes              {}", self.bytes)?;
        writeln!(f, "tcp packets        {}", self.tcp_packets)?;
        writeln!(f, "udp packets        {}", self.udp_packets)?;
        writeln!(
            f,
            "other packets      {} (not IP, or not TCP/UDP)",
            self.other_packets
        )?;
        writeln!(
            f,
            "flows              {} ({} picked up mid-stream, {} timed out, {} evicted: {} without data, {} established, {} mid-message)",
            self.flows,
            self.flows_picked_up_mid_stream,
            self.flows_timed_out,
            self.flows_evicted,
            self.flows_evicted_by_class[0],
            self.flows_evicted_by_class[1],
            self.flows_evicted_by_class[2]
        )?;
        writeln!(f, "transactions       {}", self.transactions)?;
        writeln!(f, "tls client hellos  {}", self.tls_client_hellos)?;
        let r = &self.reassembly;
        writeln!(
            f,
            "reassembly         {} gaps ({} bytes), {} retransmitted, {} out of order, {} conflicting overlaps",
            r.gaps, r.gap_bytes, r.retransmitted_segments, r.out_of_order_segments, r.conflicting_overlaps
        )?;
        let fr = &self.fragments;
        writeln!(
            f,
            "ip fragments       {} ({} datagrams reassembled, {} overlaps, {} conflicting, {} timed out, {} dropped over limits, {} inconsistent)",
            fr.fragments,
            fr.reassembled,
            fr.overlaps,
            fr.overlap_conflicts,
            fr.timed_out,
            fr.dropped_over_limit + fr.dropped_over_memory,
            fr.inconsistent
        )?;
        if self.outside_site > 0 {
            writeln!(
                f,
                "outside the site   {} tcp packets skipped",
                self.outside_site
            )?;
        }
        writeln!(f, "decode errors      {}", self.decode_error_total())?;
        for e in DecodeError::ALL {
            let n = self.decode_errors[e.index()];
            if n > 0 {
                writeln!(f, "  {:<24} {n}", e.as_str())?;
            }
        }
        let http_errors: u64 = self.http.errors.iter().sum();
        writeln!(
            f,
            "http parse errors  {http_errors} ({} resyncs, {} bytes scanned to resync)",
            self.http.resyncs, self.http.resync_scan_bytes
        )?;
        let h = &self.http;
        if h.headers_dropped + h.multipart_parts_dropped + h.multipart_params_dropped > 0 {
            writeln!(
                f,
                "http over caps     {} header lines, {} multipart parts, {} multipart params",
                h.headers_dropped, h.multipart_parts_dropped, h.multipart_params_dropped
            )?;
        }
        let d = &h.decode;
        if h.lenient_responses + d.bomb_capped + d.corrupt + d.truncated > 0
            || d.layers_over_limit + d.unknown_coding > 0
        {
            writeln!(
                f,
                "http responses     {} read the browsers' way; content decoding: {} bomb-capped, \
                 {} corrupt, {} truncated, {} over the layer limit, {} unknown codings",
                h.lenient_responses,
                d.bomb_capped,
                d.corrupt,
                d.truncated,
                d.layers_over_limit,
                d.unknown_coding
            )?;
        }
        for e in crate::http::HttpError::ALL {
            let n = self.http.errors[e.index()];
            if n > 0 {
                writeln!(f, "  {:<24} {n}", e.as_str())?;
            }
        }
        Ok(())
    }
}

/// The packet stages of one worker.
pub struct Pipeline {
    flows: FlowTable<FlowApp>,
    site: Option<SiteScope>,
    defrag: Defragmenter,
    pending: Vec<HttpTransaction>,
    pub summary: Summary,
}

impl Pipeline {
    /// A pipeline with the given settings.
    pub fn new(settings: PipelineSettings) -> Self {
        Pipeline {
            flows: FlowTable::new(settings.max_flows, settings.server_ports),
            site: settings.site,
            defrag: Defragmenter::default(),
            pending: Vec::new(),
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

    /// Processes one frame.
    pub fn process_frame(
        &mut self,
        link: LinkType,
        frame: &Frame<'_>,
        observer: &mut dyn TransactionObserver,
    ) {
        let now = frame.ts;
        self.summary.packets += 1;
        self.summary.bytes += u64::from(frame.wire_len);
        match decode::decode(link, frame.data) {
            Ok(Decoded::Packet(packet)) => self.process_packet(&packet, now, observer),
            Ok(Decoded::Fragment(frag)) => match self.defrag.insert(&frag, now.secs()) {
                Ok(Some(whole)) => self.process_reassembled(&whole, now, observer),
                Ok(None) => {}
                Err(e) => self.summary.decode_errors[e.index()] += 1,
            },
            Err(DecodeError::NotIp | DecodeError::OtherTransport) => {
                self.summary.other_packets += 1
            }
            Err(e) => self.summary.decode_errors[e.index()] += 1,
        }
        self.expire(now, observer);
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
            observer.on_flow_evictions(evicted, dst, now);
        }
        let Some(flow) = found else {
            self.drain_pending(observer);
            return;
        };
        if flow.finished {
            // Late packets of a connection already closed and flushed.
            self.drain_pending(observer);
            return;
        }
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
        let ctx = FlowContext {
            flow_id: flow.id,
            client: flow.client,
            server: flow.server,
        };
        let Flow { streams, app, .. } = flow;
        let [to_server, to_client] = streams;
        let (this, peer) = match dir {
            Direction::ToServer => (to_server, to_client),
            Direction::ToClient => (to_client, to_server),
        };
        let mut deliver_peer = |chunk: Chunk<'_>| {
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
            deliver(app, dir, chunk, now, &ctx, &mut self.pending, observer);
        };
        let data_seq = if flags.syn() {
            SeqNumber(seq) + 1
        } else {
            SeqNumber(seq)
        };
        this.insert_segment(data_seq, packet.payload, &mut deliver_this);
        if flow.state == TcpState::Closed {
            // Flush now; the entry lingers (CLOSED_FLOW_TIMEOUT_SECS) to absorb late packets.
            flush_flow(flow, now, &mut self.pending, &mut self.summary);
        }
        self.drain_pending(observer);
    }

    fn drain_pending(&mut self, observer: &mut dyn TransactionObserver) {
        for txn in self.pending.drain(..) {
            self.summary.transactions += 1;
            observer.on_transaction(&txn);
        }
    }

    fn expire(&mut self, now: Timestamp, observer: &mut dyn TransactionObserver) {
        let pending = &mut self.pending;
        let summary = &mut self.summary;
        self.flows.expire_idle(now, &mut |flow, _end| {
            finish_flow(flow, now, pending, summary)
        });
        self.drain_pending(observer);
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
    }

    /// Flows currently held (for metrics and memory bounds).
    pub fn live_flows(&self) -> usize {
        self.flows.len()
    }
}

/// Hands a chunk of one direction to the flow's application layer.
fn deliver(
    app: &mut FlowApp,
    dir: Direction,
    chunk: Chunk<'_>,
    now: Timestamp,
    ctx: &FlowContext,
    pending: &mut Vec<HttpTransaction>,
    observer: &mut dyn TransactionObserver,
) {
    if let FlowApp::Undecided = app {
        match chunk {
            Chunk::Data(d) if dir == Direction::ToServer && tls::looks_like_tls(d) => {
                if let Some(hello) = tls::parse_client_hello(d) {
                    observer.on_client_hello(&hello);
                }
                *app = FlowApp::Tls;
                return;
            }
            _ => *app = FlowApp::Http(Box::default()),
        }
    }
    if let FlowApp::Http(session) = app {
        session.on_chunk(dir, chunk, now, ctx, pending);
    }
}

/// A flow left the table: flush it unless that was done when it closed.
fn finish_flow(
    mut flow: Flow<FlowApp>,
    now: Timestamp,
    pending: &mut Vec<HttpTransaction>,
    summary: &mut Summary,
) {
    flush_flow(&mut flow, now, pending, summary);
}

/// Flushes a flow's streams and HTTP state once, and adds its counters.
fn flush_flow(
    flow: &mut Flow<FlowApp>,
    now: Timestamp,
    pending: &mut Vec<HttpTransaction>,
    summary: &mut Summary,
) {
    if flow.finished {
        return;
    }
    flow.finished = true;
    let now = now.max(flow.last_seen);
    let ctx = FlowContext {
        flow_id: flow.id,
        client: flow.client,
        server: flow.server,
    };
    let Flow { streams, app, .. } = flow;
    for (i, stream) in streams.iter_mut().enumerate() {
        let dir = if i == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        stream.finish(&mut |chunk| {
            if let FlowApp::Http(session) = app {
                session.on_chunk(dir, chunk, now, &ctx, pending);
            }
        });
        summary.reassembly += stream.stats;
    }
    if let FlowApp::Http(session) = app {
        session.finish(now, &ctx, pending);
        summary.http += session.stats;
    } else if let FlowApp::Tls = app {
        summary.tls_client_hellos += 1;
    }
}

/// The detector a [`DetectionStage`] uses: fixed for a replay, or the live daemon's
/// [`SharedDetector`], read once per transaction or packet so a reload takes effect at
/// the next one.
#[derive(Debug, Clone, Copy)]
pub enum DetectorRef<'a> {
    Fixed(&'a Detector),
    Shared(&'a SharedDetector),
}

impl DetectorRef<'_> {
    fn with<R>(self, f: impl FnOnce(&Detector) -> R) -> R {
        match self {
            DetectorRef::Fixed(d) => f(d),
            DetectorRef::Shared(s) => f(&s.load()),
        }
    }
}

impl<'a> From<&'a Detector> for DetectorRef<'a> {
    fn from(d: &'a Detector) -> Self {
        DetectorRef::Fixed(d)
    }
}

impl<'a> From<&'a SharedDetector> for DetectorRef<'a> {
    fn from(d: &'a SharedDetector) -> Self {
        DetectorRef::Shared(d)
    }
}

/// Detection behind the pipeline: evaluates each transaction and TCP packet, and hands
/// alerts to every sink in order. Alerts are also counted per category.
pub struct DetectionStage<'a> {
    detector: DetectorRef<'a>,
    sinks: Vec<&'a mut dyn crate::sink::AlertSink>,
    alerts: Vec<crate::detect::alert::Alert>,
    last_sweep_secs: u64,
    /// Alerts raised, by category (index of `Category::ALL`).
    pub alerts_by_category: [u64; 8],
    /// The first sink error; a failing sink does not stop the others.
    pub sink_errors: u64,
    /// Other observers that also see every transaction (e.g. metrics).
    pub also: Option<&'a mut dyn TransactionObserver>,
}

impl<'a> DetectionStage<'a> {
    /// A stage writing to these sinks.
    pub fn new(
        detector: impl Into<DetectorRef<'a>>,
        sinks: Vec<&'a mut dyn crate::sink::AlertSink>,
    ) -> Self {
        DetectionStage {
            detector: detector.into(),
            sinks,
            alerts: Vec::new(),
            last_sweep_secs: 0,
            alerts_by_category: [0; 8],
            sink_errors: 0,
            also: None,
        }
    }

    fn emit(&mut self) {
        for alert in self.alerts.drain(..) {
            if let Some(i) = crate::detect::alert::Category::ALL
                .iter()
                .position(|c| *c == alert.rule.category)
            {
                self.alerts_by_category[i] += 1;
            }
            for sink in self.sinks.iter_mut() {
                if sink.record(&alert).is_err() {
                    self.sink_errors += 1;
                }
            }
        }
    }

    /// Flushes every sink.
    pub fn flush(&mut self) -> Result<(), crate::sink::SinkError> {
        for sink in self.sinks.iter_mut() {
            sink.flush()?;
        }
        Ok(())
    }

    /// Total alerts raised.
    pub fn alert_count(&self) -> u64 {
        self.alerts_by_category.iter().sum()
    }
}

impl TransactionObserver for DetectionStage<'_> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        if let Some(o) = self.also.as_mut() {
            o.on_transaction(txn);
        }
        let alerts = &mut self.alerts;
        self.detector.with(|d| d.evaluate(txn, alerts));
        self.emit();
    }

    fn on_client_hello(&mut self, hello: &ClientHello) {
        if let Some(o) = self.also.as_mut() {
            o.on_client_hello(hello);
        }
    }

    fn on_handshake(&mut self, now: Timestamp) {
        if let Some(o) = self.also.as_mut() {
            o.on_handshake(now);
        }
        self.detector.with(|d| d.observe_handshake(now));
    }

    fn on_flow_evictions(&mut self, evicted: u64, server: SocketAddr, now: Timestamp) {
        if let Some(o) = self.also.as_mut() {
            o.on_flow_evictions(evicted, server, now);
        }
        let alerts = &mut self.alerts;
        self.detector
            .with(|d| d.observe_evictions(evicted, server, now, alerts));
        self.emit();
    }

    fn on_tcp_packet(&mut self, packet: &PacketView<'_>, now: Timestamp) {
        if let Some(o) = self.also.as_mut() {
            o.on_tcp_packet(packet, now);
        }
        let alerts = &mut self.alerts;
        let sweep = now.secs() >= self.last_sweep_secs + 10;
        if sweep {
            self.last_sweep_secs = now.secs();
        }
        self.detector.with(|d| {
            d.observe_packet(packet, now, alerts);
            if sweep {
                d.sweep(now);
            }
        });
        if !self.alerts.is_empty() {
            self.emit();
        }
    }
}
