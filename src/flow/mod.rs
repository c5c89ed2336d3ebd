//! Flow table: TCP connections keyed by a canonical 5-tuple, with state and timeouts.
//!
//! Receives decoded TCP packets; owns each flow's per-direction reassembly and the
//! application state above it (`S`). Both directions of a connection map to one
//! [`FlowKey`], whose hash is symmetric so a sharded pipeline meets both in one worker.
//! Flows end on FIN/RST, on idle timeout, or by eviction when the table reaches its cap;
//! every ending is counted and handed back to the caller so the layers above can flush
//! (an evicted flow's half-seen transaction is still judged). Time is always the
//! caller's `now`.
//!
//! Eviction is an attacker's tool: flood the table with spoofed SYNs between an
//! upload's head and its body and the upload's connection is pushed out. So eviction
//! takes flows in the order a defender loses least: first flows that never carried data
//! (half-open SYNs, bare handshakes), then established flows, and last those in the
//! middle of a message ([`EvictionHint::mid_message`]); the oldest idle first in each
//! class. Each class is counted.
//!
//! A connection that closed is flushed at once and then lingers, as its key and a few
//! bytes, apart from the open ones ([`closed`]), so that the table searched for every
//! packet holds only open connections.
//!
//! A table built [`FlowTable::with_budget`] holds a byte budget ([`budget`]): its slots
//! are reserved once, and what flows hold on the heap is accounted flow by flow
//! ([`Flow::reaccount`]); [`pressure`] takes the emergency steps when it runs out.

pub mod budget;
mod closed;
pub mod heap_pool;
mod key;
mod pressure;
mod table;

use std::net::SocketAddr;

pub use budget::{LimitsConfig, PressureStats};
pub use heap_pool::HeapPool;
pub use key::{Endpoint, FlowKey};
pub use table::{FlowStats, FlowTable};

use crate::decode::TcpFlags;
use crate::reassembly::StreamReassembler;
use crate::time::Timestamp;

/// A connection still opening (no data both ways yet) expires after this idle time.
pub const NEW_FLOW_TIMEOUT_SECS: u64 = 30;
/// An established connection expires after this idle time.
pub const ESTABLISHED_FLOW_TIMEOUT_SECS: u64 = 300;
/// A closed connection lingers this long so late packets are recognised.
pub const CLOSED_FLOW_TIMEOUT_SECS: u64 = 10;
/// Default cap on flows held at once.
pub const DEFAULT_MAX_FLOWS: usize = 262_144;

/// Which way a packet travels relative to the connection's initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToServer = 0,
    ToClient = 1,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// TCP connection state as seen by a passive observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// SYN seen, no SYN-ACK yet.
    SynSent,
    /// SYN-ACK seen, waiting for the final ACK or data.
    SynReceived,
    /// Handshake done, or picked up mid-stream.
    Established,
    /// One side sent FIN.
    Closing,
    /// Both sides sent FIN, or a RST was seen.
    Closed,
}

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEnd {
    /// FIN both ways or RST.
    Closed,
    /// Idle past its timeout.
    TimedOut,
    /// Evicted to stay under the flow cap.
    Evicted,
    /// The capture ended.
    Shutdown,
}

/// One TCP connection and the state layered on it.
#[derive(Debug)]
pub struct Flow<S> {
    /// EVE's `flow_id`: unique within one run. The pipeline sets it to the number of the
    /// flow's first frame in the capture (see [`FlowTable::number_next`]), so it does
    /// not depend on which worker holds the flow.
    pub id: u64,
    client: Endpoint,
    server: Endpoint,
    pub state: TcpState,
    /// Whether the three-way handshake was seen (false: picked up mid-stream).
    pub handshake_seen: bool,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// Reassembly per direction, indexed by [`Direction`].
    pub streams: [StreamReassembler; 2],
    fin_seen: [bool; 2],
    /// Set once the layers above have been told the flow ended.
    pub finished: bool,
    /// Heap bytes this flow held when last accounted ([`Flow::reaccount`]).
    accounted: u32,
    pub app: S,
}

impl<S> Flow<S> {
    /// The connection's initiator (the SYN's sender, or the side judged client).
    pub fn client(&self) -> SocketAddr {
        self.client.addr()
    }

    /// The side that serves.
    pub fn server(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Client and server in their compact form, to turn into addresses only when
    /// needed.
    pub fn endpoints(&self) -> (Endpoint, Endpoint) {
        (self.client, self.server)
    }

    /// The direction of a packet from `src`.
    pub fn direction_of(&self, src: SocketAddr) -> Direction {
        if Endpoint::new(src) == self.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    /// Updates TCP state for one packet's flags.
    pub fn track_flags(&mut self, dir: Direction, flags: TcpFlags) {
        if flags.rst() {
            self.state = TcpState::Closed;
            return;
        }
        if flags.syn() {
            if flags.ack() && dir == Direction::ToClient {
                if self.state == TcpState::SynSent {
                    self.state = TcpState::SynReceived;
                }
            } else if self.state == TcpState::SynSent {
                self.handshake_seen = true;
            }
            return;
        }
        if self.state == TcpState::SynReceived && flags.ack() {
            self.state = TcpState::Established;
        }
        if flags.fin() {
            self.fin_seen[dir as usize] = true;
            self.state = if self.fin_seen[0] && self.fin_seen[1] {
                TcpState::Closed
            } else {
                TcpState::Closing
            };
        }
    }

    fn idle_timeout_secs(&self, short: bool) -> u64 {
        idle_timeout_secs(self.state, short)
    }
}

/// How long a flow in `state` may stay idle, with the short timeouts in force or not
/// (closed connections lingering apart, [`closed`], go by the `Closed` row).
fn idle_timeout_secs(state: TcpState, short: bool) -> u64 {
    use budget::*;
    match (state, short) {
        (TcpState::SynSent | TcpState::SynReceived, false) => NEW_FLOW_TIMEOUT_SECS,
        (TcpState::SynSent | TcpState::SynReceived, true) => PRESSURE_NEW_FLOW_TIMEOUT_SECS,
        (TcpState::Established | TcpState::Closing, false) => ESTABLISHED_FLOW_TIMEOUT_SECS,
        (TcpState::Established | TcpState::Closing, true) => PRESSURE_ESTABLISHED_FLOW_TIMEOUT_SECS,
        (TcpState::Closed, false) => CLOSED_FLOW_TIMEOUT_SECS,
        (TcpState::Closed, true) => PRESSURE_CLOSED_FLOW_TIMEOUT_SECS,
    }
}

impl<S: EvictionHint> Flow<S> {
    /// Heap bytes the flow holds now: both reassembly directions and the layers above.
    pub fn heap_bytes(&self) -> usize {
        self.streams[0].heap_bytes() + self.streams[1].heap_bytes() + self.app.heap_bytes()
    }

    /// Re-reads what the flow holds; returns (before, now) for
    /// [`FlowTable::account`]. Called after each packet changed the flow, so the
    /// table's total follows every buffer as it grows and shrinks.
    pub fn reaccount(&mut self) -> (usize, usize) {
        let before = self.accounted as usize;
        let now = self.heap_bytes();
        self.accounted = u32::try_from(now).unwrap_or(u32::MAX);
        (before, self.accounted as usize)
    }
}

/// What the layers above a flow tell the table when it must evict.
pub trait EvictionHint {
    /// True while a message is half received (an upload's body still arriving): such a
    /// flow is evicted last.
    fn mid_message(&self) -> bool {
        false
    }

    /// Heap bytes held by the layers above (sessions, open transactions, buffers),
    /// for the memory budget.
    fn heap_bytes(&self) -> usize {
        0
    }

    /// When the request still arriving began (its first byte), if one is.
    fn request_open_since(&self) -> Option<Timestamp> {
        None
    }
}

impl EvictionHint for () {}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod budget_tests;
