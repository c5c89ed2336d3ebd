//! One memory budget for everything a flood can grow: flows, reassembly buffers, open
//! HTTP transactions and detector state.
//!
//! The configured byte budget (`limits: { memory_bytes }`, default 64 MiB) is split
//! once at start: an eighth for the detectors' per-client windows (shared by all
//! workers, [`crate::detect::threshold::ThresholdTable`]), the rest evenly over the
//! workers, so no worker takes a lock to check its share. A worker's share is split
//! again: at most half for its flow table, whose slots are reserved and accounted in
//! full at start and allocated as the table grows (a slot costs [`FLOW_SLOT_BYTES`]; a
//! bare SYN flow holds nothing else, [`BARE_SYN_FLOW_BYTES`]), and the rest for what
//! flows hold on the heap (reassembly buffers, HTTP sessions and their open
//! transactions, and the closed connections lingering apart, [`super::closed`]). The
//! live daemon's workers pool three quarters of their heap shares, so a flood that
//! lands on one worker can use what the others do not ([`super::heap_pool`]).
//! Every component reports the bytes it holds, from its buffers' capacities and its
//! fixed size, and the table keeps the sum up to date flow by flow as each packet
//! changes it: the budget is accounted, not estimated from counts.
//!
//! Under pressure the table takes the emergency steps in the order a defender wants
//! ([`PressureStats`] counts each): drop data-less flows, shorten timeouts, shrink
//! reassembly windows, and last evict the oldest established flows, flushing them to
//! detection first so what was seen is judged.

pub use crate::config::limits::{
    DEFAULT_MEMORY_BYTES, DETECTOR_SHARE_DIVISOR, MAX_MEMORY_BYTES, MIN_MEMORY_BYTES,
};
/// A flow table takes at most one part in this many of its worker's share.
pub const TABLE_SHARE_DIVISOR: usize = 2;

/// The application state a slot is sized for: two words. The pipeline's `FlowApp` (an
/// enum around one box) is defined above this layer; `pipeline` asserts at compile time
/// that its flows are exactly this size, so the slot size below is exact.
pub type AppSlot = [usize; 2];

/// Bytes of one flow-table slot: the key, the flow and the hash table's control byte.
/// The table's slots are reserved up front, at most 7/8 of them used.
pub const FLOW_SLOT_BYTES: usize =
    std::mem::size_of::<(super::FlowKey, super::Flow<AppSlot>)>() + 1;

/// Bytes a flow that saw only a SYN holds, stated and tested: its share of the table
/// (a slot, with the table at most 7/16 full: 16/7 of a slot, 496 bytes) and nothing
/// on the heap, because reassembly and the HTTP session are allocated on its first
/// payload.
pub const BARE_SYN_FLOW_BYTES: usize = 512;
const _: () = assert!(FLOW_SLOT_BYTES * 16 / 7 <= BARE_SYN_FLOW_BYTES);

/// Reassembly buffer kept per direction once the budget is under pressure (step 3),
/// where it is otherwise [`crate::reassembly::MAX_PENDING_BYTES`].
pub const PRESSURE_PENDING_BYTES: usize = 64 * 1024;
/// Idle timeout of an opening flow under pressure (otherwise
/// [`super::NEW_FLOW_TIMEOUT_SECS`]).
pub const PRESSURE_NEW_FLOW_TIMEOUT_SECS: u64 = 5;
/// Idle timeout of an established flow under pressure (otherwise
/// [`super::ESTABLISHED_FLOW_TIMEOUT_SECS`]).
pub const PRESSURE_ESTABLISHED_FLOW_TIMEOUT_SECS: u64 = 30;
/// Idle timeout of a closed flow under pressure.
pub const PRESSURE_CLOSED_FLOW_TIMEOUT_SECS: u64 = 1;

pub use crate::config::limits::LimitsConfig;

/// Flows a worker's budget allows: the largest power of two of hash-table buckets whose
/// slots fit in the table's share, kept at most half full. (The table removes by
/// tombstones; once they use up its free slots it rebuilds itself, in place while at
/// most half of its 7/8 capacity is used, otherwise into a table twice the size, which
/// would break the budget.)
pub fn flow_slots_for(worker_bytes: usize) -> usize {
    table_buckets_for(worker_bytes) / 16 * 7
}

/// The hash-table buckets a worker's budget allocates for its flow table.
pub fn table_buckets_for(worker_bytes: usize) -> usize {
    let share = worker_bytes / TABLE_SHARE_DIVISOR;
    let mut buckets = 16usize;
    while buckets.saturating_mul(2).saturating_mul(FLOW_SLOT_BYTES) <= share {
        buckets *= 2;
    }
    buckets
}

/// Flows a table within `worker_bytes` holds at most, of `max_flows` asked for.
pub fn table_flows_for(max_flows: usize, worker_bytes: usize) -> usize {
    flow_slots_for(worker_bytes).min(max_flows.max(1))
}

/// Bytes of the slots such a table reserves: room for twice its flows, once grown (it
/// stays at most half full).
pub fn table_bytes_for(max_flows: usize, worker_bytes: usize) -> usize {
    let flows = table_flows_for(max_flows, worker_bytes);
    (flows * 2 * 8 / 7).next_power_of_two() * FLOW_SLOT_BYTES
}

/// What a worker's flows may hold on the heap: its share less its table's slots.
pub fn heap_share_for(max_flows: usize, worker_bytes: usize) -> usize {
    worker_bytes.saturating_sub(table_bytes_for(max_flows, worker_bytes))
}

/// Emergency steps taken under memory pressure, each counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PressureStats {
    /// Step 1: flows that never carried data (half-open, bare handshakes) dropped.
    pub dataless_dropped: u64,
    /// Step 2: times the short timeouts were put in force.
    pub timeouts_shortened: u64,
    /// Flows ended by a short timeout while in force.
    pub short_timeout_expired: u64,
    /// Step 3: times the reassembly windows were shrunk.
    pub windows_shrunk: u64,
    /// Buffered out-of-order bytes given up as gaps by step 3.
    pub window_bytes_released: u64,
    /// Step 4: established flows evicted (flushed to detection first).
    pub established_evicted: u64,
    /// Bytes held by flows now (slots in use and heap), and the most ever held.
    pub held_bytes: u64,
    pub peak_held_bytes: u64,
    /// Live daemon: heap on loan from the other workers' pooled shares now
    /// ([`super::heap_pool`]), and the times the pool had less left than asked.
    pub borrowed_bytes: u64,
    pub pool_refusals: u64,
}

/// Adds another worker's counters (gauges add too: the workers' sum is the total).
impl std::ops::AddAssign for PressureStats {
    // Every field named: a counter added to the struct and not summed does not compile.
    fn add_assign(&mut self, o: PressureStats) {
        let PressureStats {
            dataless_dropped,
            timeouts_shortened,
            short_timeout_expired,
            windows_shrunk,
            window_bytes_released,
            established_evicted,
            held_bytes,
            peak_held_bytes,
            borrowed_bytes,
            pool_refusals,
        } = o;
        self.dataless_dropped += dataless_dropped;
        self.timeouts_shortened += timeouts_shortened;
        self.short_timeout_expired += short_timeout_expired;
        self.windows_shrunk += windows_shrunk;
        self.window_bytes_released += window_bytes_released;
        self.established_evicted += established_evicted;
        self.held_bytes += held_bytes;
        self.peak_held_bytes += peak_held_bytes;
        self.borrowed_bytes += borrowed_bytes;
        self.pool_refusals += pool_refusals;
    }
}

/// The process's peak resident set so far (`VmHWM` of `/proc/self/status`), for the
/// replay summary: what a flood cost, measured rather than estimated. `None` where
/// `/proc` is not there.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_splits_into_detector_and_worker_shares() {
        let l = LimitsConfig::default();
        assert_eq!(l.detector_bytes(), 8 << 20);
        assert_eq!(l.worker_bytes(1), 56 << 20);
        assert_eq!(l.worker_bytes(4), 14 << 20);
        assert!(l.problem().is_none());
        let tiny = LimitsConfig { memory_bytes: 1024 };
        assert!(tiny.problem().is_some());
    }

    #[test]
    fn peak_rss_is_read_from_proc() {
        if std::path::Path::new("/proc/self/status").exists() {
            let peak = peak_rss_bytes().expect("VmHWM");
            assert!(peak > 1 << 20, "{peak}");
        }
    }

    #[test]
    fn the_flow_table_fits_in_half_a_worker_share() {
        for workers in [1, 2, 4, 8] {
            let share = LimitsConfig::default().worker_bytes(workers);
            let buckets = table_buckets_for(share);
            assert!(buckets * FLOW_SLOT_BYTES <= share / TABLE_SHARE_DIVISOR);
            assert!(buckets * 2 * FLOW_SLOT_BYTES > share / TABLE_SHARE_DIVISOR);
        }
    }
}
