//! The flow table: every live flow of one worker, created on first packet, ended on
//! close, idle timeout or eviction (in the order a defender loses least; see the module
//! doc of [`crate::flow`]), within the worker's share of the memory budget.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::budget::{self, PressureStats};
use super::closed::ClosedFlows;
use super::heap_pool::HeapPool;
use super::{Endpoint, EvictionHint, Flow, FlowEnd, FlowKey, TcpState};
use crate::decode::TcpFlags;
use crate::time::Timestamp;

/// Eviction classes, in the order flows are given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum EvictionClass {
    /// No payload either way: half-open SYNs, bare handshakes.
    NoData = 0,
    Established = 1,
    /// A message half received.
    MidMessage = 2,
}

/// Counters kept by the flow table.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowStats {
    pub created: u64,
    pub closed: u64,
    pub timed_out: u64,
    /// Every eviction; the three below split it by class.
    pub evicted: u64,
    pub evicted_without_data: u64,
    pub evicted_established: u64,
    pub evicted_mid_message: u64,
    pub picked_up_mid_stream: u64,
    /// Memory budget: the emergency steps taken, and bytes held.
    pub pressure: PressureStats,
}

/// All live flows of one worker.
#[derive(Debug)]
pub struct FlowTable<S> {
    /// Open connections.
    pub(super) flows: HashMap<FlowKey, Flow<S>, ahash::RandomState>,
    /// Closed connections lingering to absorb late packets ([`super::closed`]).
    pub(super) closed: ClosedFlows,
    pub(super) max_flows: usize,
    pub(super) next_id: u64,
    pub(super) last_sweep_secs: u64,
    /// Ports that mark the server side of a flow picked up without its SYN.
    pub(super) server_ports: Vec<u16>,
    /// Heap bytes held by all flows (the sum of their accounted bytes).
    pub(super) heap_bytes: usize,
    /// What flows may hold on the heap before the emergency steps begin.
    pub(super) heap_limit: usize,
    /// Bytes of the slots allocated up front (zero for a table without a budget).
    pub(super) table_bytes: usize,
    /// Short timeouts in force (pressure step 2), until the pressure eases.
    pub(super) short_timeouts: bool,
    /// The live workers' pooled heap this table borrows from ([`super::heap_pool`]),
    /// and the bytes of its limit that are on loan from it.
    pub(super) pool: Option<Arc<HeapPool>>,
    pub(super) borrowed: usize,
    /// The most heap flows held since [`FlowTable::take_peak_heap`] last asked (a
    /// sharded replay's lender reads it each epoch).
    pub(super) peak_heap: usize,
    pub stats: FlowStats,
}

impl<S: Default + EvictionHint> FlowTable<S> {
    /// A table holding at most `max_flows` flows, without a byte budget;
    /// `server_ports` tell which side serves when a flow is picked up without its SYN.
    pub fn new(max_flows: usize, server_ports: Vec<u16>) -> Self {
        FlowTable {
            // Random seeds per table, so an attacker cannot aim hash collisions at it.
            // Nothing depends on iteration order: expiry and shutdown sort by id, and
            // eviction ranks flows by a total order (class, last seen, id).
            flows: HashMap::with_hasher(ahash::RandomState::new()),
            closed: ClosedFlows::default(),
            max_flows: max_flows.max(1),
            next_id: 1,
            last_sweep_secs: 0,
            server_ports,
            heap_bytes: 0,
            heap_limit: usize::MAX,
            table_bytes: 0,
            short_timeouts: false,
            pool: None,
            borrowed: 0,
            peak_heap: 0,
            stats: FlowStats::default(),
        }
    }

    /// A table within `budget_bytes`: its slots (at most half the budget, and at most
    /// `max_flows`) are reserved now, and flows may hold the rest on the heap.
    ///
    /// The slots are accounted in full from the start but allocated as the table
    /// grows: a table sized for a flood and mostly empty would spread the few open
    /// connections of ordinary traffic over megabytes, one cache miss and one TLB miss
    /// per packet. Growth stops at the reserved size, because the cap on flows keeps
    /// the table at most half full (budget.rs says why); the step into that size
    /// briefly holds the half-size table too, which the process's fixed overhead covers.
    pub fn with_budget(max_flows: usize, server_ports: Vec<u16>, budget_bytes: usize) -> Self {
        let mut table = FlowTable::new(
            budget::table_flows_for(max_flows, budget_bytes),
            server_ports,
        );
        table.table_bytes = budget::table_bytes_for(max_flows, budget_bytes);
        table.heap_limit = budget::heap_share_for(max_flows, budget_bytes);
        table
    }

    /// Records a flow's change in held bytes, from [`Flow::reaccount`].
    pub fn account(&mut self, (before, now): (usize, usize)) {
        self.heap_bytes = (self.heap_bytes + now).saturating_sub(before);
        self.peak_heap = self.peak_heap.max(self.heap_bytes);
        let held = (self.table_bytes + self.heap_bytes) as u64;
        let p = &mut self.stats.pressure;
        p.held_bytes = held;
        p.peak_held_bytes = p.peak_held_bytes.max(held);
    }

    /// Heap bytes all flows hold now.
    pub fn heap_bytes(&self) -> usize {
        self.heap_bytes
    }

    /// Whether flows hold more heap than the budget allows: time for
    /// [`FlowTable::relieve`].
    pub fn over_budget(&self) -> bool {
        self.heap_bytes > self.heap_limit
    }

    /// Removes a flow, open or closed, and its accounted bytes.
    pub(super) fn take(&mut self, key: &FlowKey) -> Option<Flow<S>> {
        match self.flows.remove(key) {
            Some(flow) => {
                self.account((flow.accounted as usize, 0));
                Some(flow)
            }
            None => {
                let closed = self.closed.map.remove(key)?;
                Some(ClosedFlows::as_flow(key, closed))
            }
        }
    }

    /// A flow that closed and was flushed leaves the open table and lingers as a closed
    /// connection ([`super::closed`]) until its timeout.
    pub fn retire(&mut self, src: SocketAddr, dst: SocketAddr) {
        let key = FlowKey::new(src, dst);
        let Some(flow) = self.flows.remove(&key) else {
            return;
        };
        self.account((flow.accounted as usize, 0));
        let before = self.closed.heap_bytes();
        self.closed.insert(key, &flow);
        self.account((before, self.closed.heap_bytes()));
    }

    /// Sets the id the next flow created gets (then counted up from there). The
    /// pipeline passes each frame's number, so a flow's id is its first frame's number.
    pub fn number_next(&mut self, id: u64) {
        self.next_id = id;
    }

    /// Flows currently held, open or closed and lingering.
    pub fn len(&self) -> usize {
        self.flows.len() + self.closed.map.len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finds the flow of a packet or creates it; evicted flows are passed to `ended`.
    /// `None`: the packet starts no flow, or belongs to a connection already closed.
    ///
    /// `server_ports` tells which side serves when the SYN was not captured.
    pub fn lookup_or_create(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        flags: TcpFlags,
        has_payload: bool,
        now: Timestamp,
        ended: &mut impl FnMut(Flow<S>, FlowEnd),
    ) -> Option<&mut Flow<S>> {
        let key = FlowKey::new(src, dst);
        // A lone RST, FIN or bare ACK for an unknown connection starts nothing: a
        // connection is picked up mid-stream only by a packet carrying data.
        let may_start =
            !(flags.rst() || (flags.fin() && !flags.syn()) || (!flags.syn() && !has_payload));
        // A full table makes room before a new flow; a closed connection's new SYN
        // takes that connection's place.
        if may_start
            && self.len() >= self.max_flows
            && !self.flows.contains_key(&key)
            && !self.closed.map.contains_key(&key)
        {
            self.make_room(now, ended);
        }
        // One hash and one probe for the packet's flow, found or made: this runs for
        // every packet.
        let flow = match self.flows.entry(key) {
            Entry::Occupied(found) => found.into_mut(),
            Entry::Vacant(slot) => {
                let opens_anew = flags.syn() && !flags.ack();
                // A packet that can neither start a flow nor reopen a closed one
                // (a bare ACK, a FIN or a RST of a connection not open) has nothing
                // to find among closed connections: the last ACK of every close.
                if !may_start && !opens_anew {
                    return None;
                }
                if let Some(closed) = self.closed.map.get_mut(&key) {
                    if !opens_anew {
                        // A late packet of a connection already closed and flushed.
                        closed.last_seen = closed.last_seen.max(now);
                        return None;
                    }
                    // A new SYN on a connection that already ended is a new connection
                    // (port reuse). A closed connection holds nothing accounted.
                    if let Some(old) = self.closed.map.remove(&key) {
                        ended(ClosedFlows::as_flow(&key, old), FlowEnd::Closed);
                    }
                }
                if !may_start {
                    return None;
                }
                let (client, server, state, mid_stream) = if opens_anew {
                    (src, dst, TcpState::SynSent, false)
                } else if flags.syn() {
                    (dst, src, TcpState::SynReceived, true)
                } else if is_server_side(src.port(), dst.port(), &self.server_ports) {
                    (dst, src, TcpState::Established, true)
                } else {
                    (src, dst, TcpState::Established, true)
                };
                if mid_stream {
                    self.stats.picked_up_mid_stream += 1;
                }
                self.stats.created += 1;
                let id = self.next_id;
                self.next_id += 1;
                slot.insert(Flow {
                    id,
                    client: Endpoint::new(client),
                    server: Endpoint::new(server),
                    state,
                    handshake_seen: false,
                    first_seen: now,
                    last_seen: now,
                    packets: [0; 2],
                    bytes: [0; 2],
                    streams: Default::default(),
                    fin_seen: [false; 2],
                    finished: false,
                    accounted: 0,
                    app: S::default(),
                })
            }
        };
        flow.last_seen = flow.last_seen.max(now);
        Some(flow)
    }

    /// Ends flows idle past their timeout; runs at most once per second of packet time.
    pub fn expire_idle(&mut self, now: Timestamp, ended: &mut impl FnMut(Flow<S>, FlowEnd)) {
        let now_secs = now.secs();
        if now_secs <= self.last_sweep_secs {
            return;
        }
        self.last_sweep_secs = now_secs;
        self.ease_pressure();
        self.expire_now(now, ended);
        self.repay_surplus();
    }

    /// Ends every flow idle past its timeout (short ones while in force).
    pub(super) fn expire_now(
        &mut self,
        now: Timestamp,
        ended: &mut impl FnMut(Flow<S>, FlowEnd),
    ) -> usize {
        let short = self.short_timeouts;
        // Keys and ids only (48 bytes a flow): a sweep that ends every flow must not
        // copy the whole table. Open and closed flows end in one order, by id.
        let closed_timeout = super::idle_timeout_secs(TcpState::Closed, short);
        let mut expired: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| now.secs_since(f.last_seen) >= f.idle_timeout_secs(short))
            .map(|(k, f)| (f.id, *k))
            .chain(
                self.closed
                    .map
                    .iter()
                    .filter(|(_, c)| now.secs_since(c.last_seen) >= closed_timeout)
                    .map(|(k, c)| (c.id, *k)),
            )
            .collect();
        expired.sort_unstable();
        let count = expired.len();
        for (_, key) in expired {
            let Some(flow) = self.take(&key) else {
                continue;
            };
            let end = if flow.state == TcpState::Closed {
                self.stats.closed += 1;
                FlowEnd::Closed
            } else {
                self.stats.timed_out += 1;
                if short {
                    self.stats.pressure.short_timeout_expired += 1;
                }
                FlowEnd::TimedOut
            };
            ended(flow, end);
        }
        count
    }

    /// The open flows whose request has been arriving for `secs` or longer at `now`,
    /// and the server of the oldest of them (earliest start, then lowest id).
    pub fn slow_requests(&self, now: Timestamp, secs: u64) -> (u64, Option<SocketAddr>) {
        let mut count = 0;
        let mut oldest: Option<(Timestamp, u64, SocketAddr)> = None;
        for flow in self.flows.values() {
            let Some(since) = flow.app.request_open_since() else {
                continue;
            };
            if now.secs_since(since) < secs {
                continue;
            }
            count += 1;
            if oldest.map_or(true, |(t, id, _)| (since, flow.id) < (t, id)) {
                oldest = Some((since, flow.id, flow.server.addr()));
            }
        }
        (count, oldest.map(|(_, _, server)| server))
    }

    /// Ends every open flow, in order of creation (end of capture). Connections that
    /// closed were ended (flushed) when they closed: their lingering keys are dropped
    /// without a call, since there is nothing left of them to end (on a capture of
    /// short connections they are most of the table, and sorting them was 3 % of
    /// the replay).
    pub fn drain_all(&mut self, ended: &mut impl FnMut(Flow<S>, FlowEnd)) {
        let lingering = self.closed.heap_bytes();
        self.closed = ClosedFlows::default();
        self.account((lingering, 0));
        let mut keys: Vec<(u64, FlowKey)> = self.flows.iter().map(|(k, f)| (f.id, *k)).collect();
        keys.sort_unstable();
        for (_, key) in keys {
            if let Some(flow) = self.take(&key) {
                ended(flow, FlowEnd::Shutdown);
            }
        }
    }
}

pub(super) fn eviction_class<S: EvictionHint>(f: &Flow<S>) -> EvictionClass {
    if f.bytes == [0, 0] {
        EvictionClass::NoData
    } else if f.app.mid_message() {
        EvictionClass::MidMessage
    } else {
        EvictionClass::Established
    }
}

/// Whether `src_port` is the server side, for a flow picked up without its SYN.
pub(super) fn is_server_side(src_port: u16, dst_port: u16, server_ports: &[u16]) -> bool {
    let src_listed = server_ports.contains(&src_port);
    let dst_listed = server_ports.contains(&dst_port);
    if src_listed != dst_listed {
        return src_listed;
    }
    // Neither or both listed: the lower port is the likelier service port.
    src_port < dst_port
}
