//! Closed connections, kept apart from the live ones while they linger.
//!
//! A connection that closed has been flushed and judged; it lingers
//! [`super::CLOSED_FLOW_TIMEOUT_SECS`] only so that its late packets (a last ACK, a
//! retransmitted FIN or data segment) are recognised instead of starting a new flow
//! mid-stream. Kept in the live table, every short connection would hold a full slot
//! (key, flow, reassembly state) for those seconds: on a busy site tens of thousands of
//! them, spread over the table, and every lookup of a live flow would miss the cache.
//! Here a closed connection is its key and 24 bytes, and the live table holds only the
//! connections still open, which stay in cache.
//!
//! Closed connections still count against the table's cap on flows, expire by the same
//! timeouts (shortened under pressure), and rank for eviction as the flow they were.

use std::collections::HashMap;

use super::{Flow, FlowKey, TcpState};
use crate::time::Timestamp;

/// Bytes one closed connection costs in its hash table: key, entry and control byte.
pub const CLOSED_SLOT_BYTES: usize = std::mem::size_of::<(FlowKey, Closed)>() + 1;

/// What is kept of a closed connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Closed {
    pub id: u64,
    pub last_seen: Timestamp,
    /// Whether it carried payload (eviction ranks data-less flows first).
    pub carried_data: bool,
    /// Whether the key's first endpoint is the client (to rebuild the flow's sides).
    pub client_first: bool,
}

/// The closed connections of one table.
#[derive(Debug)]
pub(super) struct ClosedFlows {
    pub map: HashMap<FlowKey, Closed, ahash::RandomState>,
}

impl Default for ClosedFlows {
    fn default() -> Self {
        ClosedFlows {
            // Random seeds, as for the live table: no aimed hash collisions.
            map: HashMap::with_hasher(ahash::RandomState::new()),
        }
    }
}

impl ClosedFlows {
    /// Heap bytes the closed connections' table holds (its capacity, not its count).
    pub fn heap_bytes(&self) -> usize {
        // hashbrown keeps at most 7/8 of its buckets full.
        if self.map.capacity() == 0 {
            0
        } else {
            (self.map.capacity() * 8 / 7).next_power_of_two() * CLOSED_SLOT_BYTES
        }
    }

    /// Keeps what is needed of a flow that closed.
    pub fn insert<S>(&mut self, key: FlowKey, flow: &Flow<S>) {
        let entry = Closed {
            id: flow.id,
            last_seen: flow.last_seen,
            carried_data: flow.bytes != [0, 0],
            client_first: key.lower == flow.client,
        };
        self.map.insert(key, entry);
    }

    /// A closed connection as the flow the callers of the table are handed when it
    /// leaves: already finished, holding nothing, with its sides, id and times.
    pub fn as_flow<S: Default>(key: &FlowKey, c: Closed) -> Flow<S> {
        let (client, server) = if c.client_first {
            (key.lower, key.upper)
        } else {
            (key.upper, key.lower)
        };
        Flow {
            id: c.id,
            client,
            server,
            state: TcpState::Closed,
            handshake_seen: false,
            first_seen: c.last_seen,
            last_seen: c.last_seen,
            packets: [0; 2],
            // Only whether it carried data matters once it is closed (eviction class).
            bytes: [u64::from(c.carried_data), 0],
            streams: Default::default(),
            fin_seen: [true; 2],
            finished: true,
            accounted: 0,
            app: S::default(),
        }
    }
}
