//! The counters other parts push into [`Metrics`]: the pipeline's summary deltas and
//! the caps they carry ([`caps::CAPS`]), the detector's shared counters, the capture's
//! libpcap statistics, reloads, and the sinks' store and events counters.

use super::caps::{self, DetectorCounts};
use super::registry::{advance_to, lock};
use super::{DetectorCountsSource, Metrics};
use crate::decode::DecodeError;
use crate::http::HttpError;
use crate::observe::Summary;

impl Metrics {
    /// Adds the counters a pipeline gained between two of its [`Summary`]s. Each
    /// worker keeps its last reported summary and reports the difference.
    pub fn observe_summary_delta(&self, before: &Summary, after: &Summary) {
        self.add_packets(
            after.packets.saturating_sub(before.packets),
            after.bytes.saturating_sub(before.bytes),
        );
        self.add_flows(after.flows.saturating_sub(before.flows));
        self.add_reassembly_gaps(after.reassembly.gaps.saturating_sub(before.reassembly.gaps));
        for e in DecodeError::ALL {
            let i = e.index();
            self.add_decode_errors(
                e,
                after.decode_errors[i].saturating_sub(before.decode_errors[i]),
            );
        }
        for e in HttpError::ALL {
            let i = e.index();
            self.add_http_parse_errors(
                e,
                after.http.errors[i].saturating_sub(before.http.errors[i]),
            );
        }
        let (a, b) = (&after.http, &before.http);
        self.http_resyncs
            .inc_by(a.resyncs.saturating_sub(b.resyncs));
        self.http_resync_scanned_bytes
            .inc_by(a.resync_scan_bytes.saturating_sub(b.resync_scan_bytes));
        self.outside_site
            .inc_by(after.outside_site.saturating_sub(before.outside_site));
        for (cap, counter) in caps::CAPS.iter().zip(&self.caps) {
            if let (caps::Reading::Summary { read, .. }, Some(c)) = (cap.reading, counter) {
                c.inc_by(read(after).saturating_sub(read(before)));
            }
        }
        // A level: each worker adds the change in its own loan, so the gauge is the sum.
        let loan = |s: &Summary| i64::try_from(s.memory.borrowed_bytes).unwrap_or(i64::MAX);
        self.memory_borrowed.add(loan(after) - loan(before));
    }

    /// Where [`Metrics::render`] reads the detector's shared counters (threshold
    /// table, CRS engine); set once, by the daemon at start.
    pub fn watch_detector(&self, source: DetectorCountsSource) {
        let _ = self.detector_counts.set(source);
    }

    /// Brings the detector's cap series to these running totals; a lower total (a
    /// reload started a new engine) restarts the series, as a counter reset.
    pub fn set_detector_counts(&self, counts: &DetectorCounts) {
        let _one_writer = lock(&self.detector_lock);
        for (cap, counter) in caps::CAPS.iter().zip(&self.caps) {
            if let (caps::Reading::Detector { read, .. }, Some(c)) = (cap.reading, counter) {
                advance_to(c, read(counts));
            }
        }
    }

    /// Adds frames and their wire bytes.
    pub fn add_packets(&self, packets: u64, bytes: u64) {
        self.packets.inc_by(packets);
        self.bytes.inc_by(bytes);
    }

    /// Adds TCP flows created.
    pub fn add_flows(&self, flows: u64) {
        self.flows.inc_by(flows);
    }

    /// Adds reassembly gaps.
    pub fn add_reassembly_gaps(&self, gaps: u64) {
        self.reassembly_gaps.inc_by(gaps);
    }

    /// Adds frames that failed to decode for one reason.
    pub fn add_decode_errors(&self, reason: DecodeError, n: u64) {
        if let Some(c) = self.decode_errors.get(reason.index()) {
            c.inc_by(n);
        }
    }

    /// Adds HTTP messages that failed to parse for one reason.
    pub fn add_http_parse_errors(&self, reason: HttpError, n: u64) {
        if let Some(c) = self.http_parse_errors.get(reason.index()) {
            c.inc_by(n);
        }
    }

    /// Sets the capture counters from libpcap's cumulative statistics (`ps_recv`,
    /// `ps_drop`, `ps_ifdrop`). A value below the last one (a reopened handle, a 32-bit
    /// wrap) restarts the counter, which Prometheus reads as a counter reset.
    pub fn set_capture_stats(&self, received: u64, dropped: u64, if_dropped: u64) {
        let _one_writer = lock(&self.capture);
        advance_to(&self.capture_received, received);
        advance_to(&self.capture_dropped[0], dropped);
        advance_to(&self.capture_dropped[1], if_dropped);
    }

    /// Adds packets the capture read but could not hand to a worker (queue full).
    pub fn add_queue_drops(&self, packets: u64) {
        self.capture_dropped[2].inc_by(packets);
    }

    /// Sets the number of rules running.
    pub fn set_rules_loaded(&self, rules: usize) {
        self.rules_loaded
            .set(i64::try_from(rules).unwrap_or(i64::MAX));
    }

    /// Counts a reload attempt.
    pub fn observe_reload(&self, ok: bool) {
        self.reloads[usize::from(!ok)].inc();
    }

    /// Sets the number of flagged records held.
    pub fn set_store_rows(&self, rows: u64) {
        self.store_rows.set(i64::try_from(rows).unwrap_or(i64::MAX));
    }

    /// Adds records removed by retention.
    pub fn add_store_purged_rows(&self, rows: u64) {
        self.store_purged_rows.inc_by(rows);
    }

    /// Adds records the store could not write.
    pub fn add_store_dropped_writes(&self, rows: u64) {
        self.store_dropped_writes.inc_by(rows);
    }

    /// Brings the store-recreated counter up to the writer's running `total` (never
    /// down), so publishing the same total twice counts it once.
    pub fn set_store_recreated_total(&self, total: u64) {
        let shown = self.store_recreated.get();
        self.store_recreated.inc_by(total.saturating_sub(shown));
    }

    /// Counts an idle endpoint connection closed for a new one.
    pub fn add_endpoint_idle_closed(&self) {
        self.endpoint_idle_closed.inc();
    }

    /// Counts a connection refused with 503 (every slot busy answering).
    pub fn add_endpoint_busy(&self) {
        self.endpoint_busy.inc();
    }

    /// Adds events a sink dropped.
    pub fn add_events_dropped(&self, events: u64) {
        self.events_dropped.inc_by(events);
    }
}
