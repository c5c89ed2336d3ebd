//! The emergency steps a flow table takes when its budget runs out, in the order a
//! defender loses least:
//!
//! 1. drop flows that never carried data (half-open SYNs, bare handshakes): a real
//!    client's connection is picked up again by its first data;
//! 2. shorten the idle timeouts ([`super::budget::PRESSURE_NEW_FLOW_TIMEOUT_SECS`] ...)
//!    and expire what they end;
//! 3. shrink the reassembly windows to [`super::budget::PRESSURE_PENDING_BYTES`] per
//!    direction, delivering the holes as gaps;
//! 4. last, evict established flows, the oldest idle first and flows in the middle of
//!    a message after the others; each is flushed, so what was seen is judged.
//!
//! Two things run out: slots (a new flow finds the table full: steps 1, 2 and 4 free
//! slots) and heap (flows' buffers pass the heap share: steps 2, 3 and 4 free heap;
//! data-less flows hold none). Each pass frees enough to leave headroom (an eighth of
//! the slots, a quarter of the heap share), so the walks it makes are paid for by
//! many packets. Every step is counted in [`super::PressureStats`].

use super::budget::PRESSURE_PENDING_BYTES;
use super::closed::Closed;
use super::table::{eviction_class, EvictionClass};
use super::{EvictionHint, Flow, FlowEnd, FlowKey, FlowTable};
use crate::time::Timestamp;

impl<S: Default + EvictionHint> FlowTable<S> {
    /// The table is full and a new flow arrives: frees an eighth of the slots.
    pub(super) fn make_room(&mut self, now: Timestamp, ended: &mut impl FnMut(Flow<S>, FlowEnd)) {
        let goal = self.max_flows - (self.max_flows / 8).max(1);
        // Step 1: data-less flows, oldest first.
        let need = self.len().saturating_sub(goal);
        let dropped = self.evict_ranked(need, Some(EvictionClass::NoData), ended);
        self.stats.pressure.dataless_dropped += dropped as u64;
        if self.len() <= goal {
            return;
        }
        // Step 2: short timeouts.
        self.shorten_timeouts(now, ended);
        if self.len() <= goal {
            return;
        }
        // Step 4: the oldest established flows (step 3 frees no slot).
        let need = self.len().saturating_sub(goal);
        let evicted = self.evict_ranked(need, None, ended);
        self.stats.pressure.established_evicted += evicted as u64;
    }

    /// Flows hold more heap than the budget allows: takes steps 2 to 4 until a quarter
    /// of the heap share is free. `trim` gives up a flow's buffered holes down to the
    /// byte limit it is passed (delivering gaps to the layers above) and returns the
    /// bytes released.
    pub fn relieve(
        &mut self,
        now: Timestamp,
        ended: &mut impl FnMut(Flow<S>, FlowEnd),
        trim: &mut impl FnMut(&mut Flow<S>, usize) -> usize,
    ) {
        let goal = self.heap_limit / 4 * 3;
        if self.heap_bytes <= goal {
            return;
        }
        // Step 2: short timeouts.
        self.shorten_timeouts(now, ended);
        if self.heap_bytes <= goal {
            return;
        }
        // Step 3: shorter reassembly windows.
        self.stats.pressure.windows_shrunk += 1;
        let mut released = 0usize;
        let mut changes = Vec::new();
        for flow in self.flows.values_mut() {
            if flow.streams[0]
                .pending_bytes()
                .max(flow.streams[1].pending_bytes())
                > PRESSURE_PENDING_BYTES
            {
                released += trim(flow, PRESSURE_PENDING_BYTES);
                changes.push(flow.reaccount());
            }
        }
        for change in changes {
            self.account(change);
        }
        self.stats.pressure.window_bytes_released += released as u64;
        if self.heap_bytes <= goal {
            return;
        }
        // Step 4: evict the oldest established flows, the heaviest classes last.
        let mut ranked = self.ranked(None);
        ranked.sort_unstable();
        for (_, _, _, key) in ranked {
            if self.heap_bytes <= goal {
                break;
            }
            if let Some(flow) = self.take(&key) {
                self.count_eviction(&flow);
                self.stats.pressure.established_evicted += 1;
                ended(flow, FlowEnd::Evicted);
            }
        }
    }

    /// Puts the short timeouts in force (counted once per episode) and expires by them.
    fn shorten_timeouts(&mut self, now: Timestamp, ended: &mut impl FnMut(Flow<S>, FlowEnd)) {
        if !self.short_timeouts {
            self.short_timeouts = true;
            self.stats.pressure.timeouts_shortened += 1;
        }
        self.expire_now(now, ended);
    }

    /// Lifts the short timeouts once flows hold under half of both shares.
    pub(super) fn ease_pressure(&mut self) {
        if self.short_timeouts
            && self.heap_bytes < self.heap_limit / 2
            && self.len() < self.max_flows / 2
        {
            self.short_timeouts = false;
        }
    }

    /// Evicts up to `count` flows of `only` that class (or of any class but
    /// data-less, classes in order), the oldest idle first. Returns how many.
    fn evict_ranked(
        &mut self,
        count: usize,
        only: Option<EvictionClass>,
        ended: &mut impl FnMut(Flow<S>, FlowEnd),
    ) -> usize {
        if count == 0 {
            return 0;
        }
        let mut ranked = self.ranked(only);
        if ranked.len() > count {
            ranked.select_nth_unstable(count - 1);
            ranked.truncate(count);
        }
        ranked.sort_unstable();
        let mut evicted = 0;
        for (_, _, _, key) in ranked {
            if let Some(flow) = self.take(&key) {
                self.count_eviction(&flow);
                evicted += 1;
                ended(flow, FlowEnd::Evicted);
            }
        }
        evicted
    }

    /// Flows ranked for eviction: class, then the oldest idle, then the oldest.
    fn ranked(&self, only: Option<EvictionClass>) -> Vec<(EvictionClass, Timestamp, u64, FlowKey)> {
        let closed_class = |c: &Closed| {
            if c.carried_data {
                EvictionClass::Established
            } else {
                EvictionClass::NoData
            }
        };
        self.flows
            .iter()
            .map(|(k, f)| (eviction_class(f), f.last_seen, f.id, *k))
            .chain(
                self.closed
                    .map
                    .iter()
                    .map(|(k, c)| (closed_class(c), c.last_seen, c.id, *k)),
            )
            .filter(|(class, ..)| match only {
                Some(c) => *class == c,
                None => *class != EvictionClass::NoData,
            })
            .collect()
    }

    fn count_eviction(&mut self, flow: &Flow<S>) {
        self.stats.evicted += 1;
        match eviction_class(flow) {
            EvictionClass::NoData => self.stats.evicted_without_data += 1,
            EvictionClass::Established => self.stats.evicted_established += 1,
            EvictionClass::MidMessage => self.stats.evicted_mid_message += 1,
        }
    }
}
