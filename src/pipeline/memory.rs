//! The pipeline's side of the memory budget: the emergency steps when the flows' heap
//! runs out, and the heap limit a sharded replay's lender sets each epoch.

use super::app::{self, finish_flow};
use super::Pipeline;
use crate::flow::FlowEnd;
use crate::observe::{Pressure, TransactionObserver};
use crate::time::Timestamp;

impl Pipeline {
    /// The memory budget ran out: the flow table's emergency steps
    /// ([`crate::flow::budget`]); evicted flows are judged, and reported as evictions.
    pub(super) fn relieve_memory(
        &mut self,
        now: Timestamp,
        observer: &mut dyn TransactionObserver,
    ) {
        let pending = &mut self.pending;
        let summary = &mut self.summary;
        let keep = self.keep_response_bytes;
        let mut evicted = 0u64;
        let mut server = None;
        let mut trimmed = Vec::new();
        self.flows.relieve(
            now,
            &mut |flow, end| {
                if end == FlowEnd::Evicted {
                    evicted += 1;
                    server.get_or_insert(flow.server());
                }
                finish_flow(flow, now, pending, summary);
            },
            &mut |flow, limit| app::trim_flow(flow, limit, now, keep, &mut trimmed),
        );
        self.pending.append(&mut trimmed);
        if let Some(server) = server {
            observer.on_pressure(Pressure::FlowTable, evicted, server, now);
        }
    }

    /// Sets the flows' heap limit: a sharded replay's workers lend each other heap
    /// between epochs ([`crate::replay`]).
    pub fn set_heap_limit(&mut self, limit: usize) {
        self.flows.set_heap_limit(limit);
    }

    /// The most heap the flows held since the last call.
    pub fn take_peak_heap(&mut self) -> usize {
        self.flows.take_peak_heap()
    }
}
