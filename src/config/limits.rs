//! The `limits:` section: one memory budget for flows, reassembly, open HTTP
//! transactions and detector state (the flow module spends it: `crate::flow::budget`).

use serde::Deserialize;

/// The default budget: a quarter of what Suricata 7 holds under a million-source SYN
/// flood.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 << 20;
/// The smallest budget accepted: below it a worker could not hold a useful table.
pub const MIN_MEMORY_BYTES: u64 = 4 << 20;
/// The largest budget accepted (a typo guard).
pub const MAX_MEMORY_BYTES: u64 = 1 << 40;
/// The detectors' share of the budget is one part in this many.
pub const DETECTOR_SHARE_DIVISOR: u64 = 8;

/// The `limits:` section of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Bytes for flows, reassembly, open HTTP transactions and detector state, all
    /// workers together (the process adds a fixed overhead: rules, CRS, capture buffers).
    pub memory_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            memory_bytes: DEFAULT_MEMORY_BYTES,
        }
    }
}

impl LimitsConfig {
    /// Why the section cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&self.memory_bytes) {
            return Some(format!(
                "limits.memory_bytes: {} is outside {MIN_MEMORY_BYTES}..={MAX_MEMORY_BYTES}",
                self.memory_bytes
            ));
        }
        None
    }

    /// The detectors' share (per-client windows), for all workers together.
    pub fn detector_bytes(&self) -> usize {
        to_usize(self.memory_bytes / DETECTOR_SHARE_DIVISOR)
    }

    /// One worker's share of flows, reassembly and HTTP state, of `workers`.
    pub fn worker_bytes(&self, workers: usize) -> usize {
        let flows = self.memory_bytes - self.memory_bytes / DETECTOR_SHARE_DIVISOR;
        to_usize(flows / workers.max(1) as u64)
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
