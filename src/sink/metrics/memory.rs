//! The memory budget's series: each emergency step taken, what it released, detector
//! state dropped at its cap, and the bytes flows hold ([`crate::flow::budget`]).
//!
//! Fed from the workers' summary deltas like the other packet-stage counters; the
//! detector's drops are a running total of the shared table, published as it grows.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::MetricsError;
use crate::flow::PressureStats;

/// Flows ended by each step: `dataless` (1), `short_timeout` (2), `established` (4).
pub const FLOWS_DROPPED: (&str, &str) = (
    "tamperwatch_memory_pressure_flows_dropped_total",
    "Flows ended by the memory budget's emergency steps, by step.",
);
/// Times a step was taken: `shorten_timeouts` (2), `shrink_windows` (3).
pub const STEPS: (&str, &str) = (
    "tamperwatch_memory_pressure_steps_total",
    "Times the memory budget shortened timeouts or shrank reassembly windows.",
);
/// Buffered out-of-order bytes given up as gaps by step 3.
pub const RELEASED: (&str, &str) = (
    "tamperwatch_memory_pressure_released_bytes_total",
    "Out-of-order bytes given up as gaps when reassembly windows shrank.",
);
/// Per-client detector observations not tracked at the detector's cap.
pub const DETECTOR_DROPPED: (&str, &str) = (
    "tamperwatch_detector_state_dropped_total",
    "Per-client detector observations not tracked because detector state was at its cap.",
);
/// Bytes flows hold now, all workers.
pub const HELD: (&str, &str) = (
    "tamperwatch_memory_held_bytes",
    "Bytes held by flows, reassembly and open HTTP transactions, all workers.",
);
/// The label naming a step.
pub const LABEL_STEP: &str = "step";
/// Every value of [`LABEL_STEP`]: a bounded set.
pub const STEP_LABELS: [&str; 5] = [
    "dataless",
    "short_timeout",
    "established",
    "shorten_timeouts",
    "shrink_windows",
];

/// The series above, registered.
pub struct MemoryMetrics {
    /// dataless, short_timeout, established.
    flows_dropped: [IntCounter; 3],
    /// shorten_timeouts, shrink_windows.
    steps: [IntCounter; 2],
    released: IntCounter,
    detector_dropped: IntCounter,
    held: IntGauge,
}

impl MemoryMetrics {
    /// Registers the series in `r`.
    pub fn new(r: &Registry) -> Result<Self, MetricsError> {
        let flows = IntCounterVec::new(Opts::new(FLOWS_DROPPED.0, FLOWS_DROPPED.1), &[LABEL_STEP])?;
        r.register(Box::new(flows.clone()))?;
        let steps = IntCounterVec::new(Opts::new(STEPS.0, STEPS.1), &[LABEL_STEP])?;
        r.register(Box::new(steps.clone()))?;
        let released = IntCounter::new(RELEASED.0, RELEASED.1)?;
        r.register(Box::new(released.clone()))?;
        let detector_dropped = IntCounter::new(DETECTOR_DROPPED.0, DETECTOR_DROPPED.1)?;
        r.register(Box::new(detector_dropped.clone()))?;
        let held = IntGauge::new(HELD.0, HELD.1)?;
        r.register(Box::new(held.clone()))?;
        Ok(MemoryMetrics {
            flows_dropped: [
                flows.get_metric_with_label_values(&[STEP_LABELS[0]])?,
                flows.get_metric_with_label_values(&[STEP_LABELS[1]])?,
                flows.get_metric_with_label_values(&[STEP_LABELS[2]])?,
            ],
            steps: [
                steps.get_metric_with_label_values(&[STEP_LABELS[3]])?,
                steps.get_metric_with_label_values(&[STEP_LABELS[4]])?,
            ],
            released,
            detector_dropped,
            held,
        })
    }

    /// Adds what one worker's budget did since its last report.
    pub fn observe_delta(&self, before: &PressureStats, after: &PressureStats) {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        self.flows_dropped[0].inc_by(d(after.dataless_dropped, before.dataless_dropped));
        self.flows_dropped[1].inc_by(d(after.short_timeout_expired, before.short_timeout_expired));
        self.flows_dropped[2].inc_by(d(after.established_evicted, before.established_evicted));
        self.steps[0].inc_by(d(after.timeouts_shortened, before.timeouts_shortened));
        self.steps[1].inc_by(d(after.windows_shrunk, before.windows_shrunk));
        self.released
            .inc_by(d(after.window_bytes_released, before.window_bytes_released));
        let change = i64::try_from(after.held_bytes).unwrap_or(i64::MAX)
            - i64::try_from(before.held_bytes).unwrap_or(i64::MAX);
        self.held.add(change);
    }

    /// Brings the detector-drop counter up to the shared table's running `total`.
    pub fn set_detector_dropped_total(&self, total: u64) {
        let shown = self.detector_dropped.get();
        self.detector_dropped.inc_by(total.saturating_sub(shown));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_is_exported_as_a_counter() {
        let r = Registry::new();
        let m = MemoryMetrics::new(&r).expect("register");
        let before = PressureStats::default();
        let after = PressureStats {
            dataless_dropped: 7,
            timeouts_shortened: 1,
            short_timeout_expired: 3,
            windows_shrunk: 2,
            window_bytes_released: 4096,
            established_evicted: 5,
            held_bytes: 1000,
            peak_held_bytes: 1000,
        };
        m.observe_delta(&before, &after);
        m.set_detector_dropped_total(9);
        let mut text = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &r.gather(), &mut text)
            .expect("encode");
        let text = String::from_utf8(text).expect("utf-8");
        for line in [
            "tamperwatch_memory_pressure_flows_dropped_total{step=\"dataless\"} 7",
            "tamperwatch_memory_pressure_flows_dropped_total{step=\"short_timeout\"} 3",
            "tamperwatch_memory_pressure_flows_dropped_total{step=\"established\"} 5",
            "tamperwatch_memory_pressure_steps_total{step=\"shorten_timeouts\"} 1",
            "tamperwatch_memory_pressure_steps_total{step=\"shrink_windows\"} 2",
            "tamperwatch_memory_pressure_released_bytes_total 4096",
            "tamperwatch_detector_state_dropped_total 9",
            "tamperwatch_memory_held_bytes 1000",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
