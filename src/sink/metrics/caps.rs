//! Every cap that can be hit, as a `tamperwatch_*_total` series: the one list.
//!
//! A stage that stops keeping something (a full flow table evicts, a reassembly buffer
//! fills, a decompression bomb is cut, a tunnel nests too deep, a threshold table is
//! full, a sink drops an alert) counts it in its stage counters; [`CAPS`] says which
//! series shows each counter, and how the value is read: from the pipeline's
//! [`Summary`] (each worker reports its differences), from the detector's shared
//! counters at scrape time ([`DetectorCounts`]), or pushed by a sink. Input anomalies
//! that travel with the caps (corrupt gzip, lenient framing, fragment overlaps) are
//! listed too, so one walk of the table covers them. [`NOT_CAPS`] names the stage
//! counters that are deliberately not here, with the series (or reason) that covers
//! them; a test fails when a counter is in neither list, so a new cap cannot be
//! forgotten. Every label value is fixed in the table (`caps/table.rs`): nothing comes
//! from traffic.

mod detector_counts;
mod not_caps;
mod table;
pub use detector_counts::DetectorCounts;
pub use not_caps::NOT_CAPS;
pub use table::CAPS;

use super::names::MetricName;
use super::Metrics;
use crate::http::HttpTransaction;
use crate::observe::Summary;

/// How a cap's series gets its value.
#[derive(Clone, Copy)]
pub enum Reading {
    /// A field of the pipeline's [`Summary`]; `write` sets it (for tests and tools).
    Summary {
        read: fn(&Summary) -> u64,
        write: fn(&mut Summary, u64),
    },
    /// A field of [`DetectorCounts`], a running total (a reload may restart it).
    Detector {
        read: fn(&DetectorCounts) -> u64,
        write: fn(&mut DetectorCounts, u64),
    },
    /// Counted per finished transaction when `hit` says it ran into the cap; `make`
    /// turns a transaction into one that does (for tests and tools).
    Transaction {
        hit: fn(&HttpTransaction) -> bool,
        make: fn(&mut HttpTransaction),
    },
    /// Pushed by a sink or the capture through this [`Metrics`] method.
    Pushed { add: fn(&Metrics, u64) },
}

/// One cap: its series (name, help and at most one fixed label) and its counter.
#[derive(Clone, Copy)]
pub struct Cap {
    pub metric: MetricName,
    /// A fixed `(label, value)` when several counters share the series.
    pub label: Option<(&'static str, &'static str)>,
    /// The stage counter, as a path in its stats struct (`reassembly.gaps`).
    pub field: &'static str,
    pub reading: Reading,
}

impl Cap {
    /// This cap's value in rendered `/metrics` text (`name{label="value"} N`), if the
    /// series is there: what a test or an operator's script reads back.
    pub fn value_in(&self, text: &str) -> Option<u64> {
        let (name, label) = (self.metric.name, self.label);
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|line| {
                let rest = line.strip_prefix(name)?;
                let rest = match label {
                    Some((k, v)) => rest
                        .strip_prefix('{')?
                        .strip_prefix(k)?
                        .strip_prefix("=\"")?
                        .strip_prefix(v)?
                        .strip_prefix("\"}")?,
                    None => rest,
                };
                rest.strip_prefix(' ')?.trim().parse().ok()
            })
    }
}

#[cfg(test)]
mod tests;
