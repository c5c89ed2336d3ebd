//! Anonymous statistics for Prometheus: transactions, hellos and alerts in, counters out.
//!
//! Receives finished HTTP transactions, TLS ClientHellos, alerts and the pipeline's
//! counters; emits the Prometheus text format on [`Metrics::render`]. The invariant it
//! keeps (ARCHITECTURE.md, privacy): no label value ever comes from traffic. Every label
//! is drawn from a bounded set fixed in code ([`METHODS`], [`STATUS_CLASSES`],
//! [`VERSIONS`], [`Browser`], TLS versions, error reasons) or in configuration (content
//! groups, rule names, capped); distinct visitors are a HyperLogLog estimate over a
//! keyed hash whose key never leaves [`visitors::DailyVisitors`].
//!
//! The hot path ([`Metrics::observe_transaction`]) resolves label handles once: fixed
//! sets are resolved at construction, the method × status × version cube on first use,
//! so a call is a few lookups and atomic adds, plus one short lock for the visitor
//! sketch. [`names`] is the one place metric names are written.

pub mod browser;
pub mod caps;
pub mod content_group;
pub(crate) mod hyperloglog;
pub mod names;
mod counters;
mod labels;
mod registry;
mod siphash;
pub mod visitors;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use prometheus::{Encoder, Histogram, IntCounter, IntCounterVec, IntGauge, Registry, TextEncoder};

pub use browser::Browser;
pub use caps::DetectorCounts;
pub use content_group::ContentGroups;
pub use labels::{
    method_index, status_class_index, version_index, DROP_PLACES, MAX_RULE_LABELS,
    MAX_RULE_LABEL_BYTES, METHODS, STATUS_CLASSES, VERSIONS,
};

use crate::decode::DecodeError;
use crate::detect::alert::{Alert, Category};
use crate::http::{HttpError, HttpTransaction};
use crate::observe::TransactionObserver;
use crate::sink::{AlertSink, SinkError};
use crate::time::Timestamp;
use crate::tls::ClientHello;
use labels::{tls_version_index, LATENCY_BUCKETS, SIZE_BUCKETS, TLS_VERSIONS};
use registry::{
    cap_counters, children, counter, counter_vec, gauge, histogram, lock, pair, triple,
};
use visitors::DailyVisitors;

/// Reads the detector's shared counters (see [`Metrics::watch_detector`]).
pub type DetectorCountsSource = Box<dyn Fn() -> DetectorCounts + Send + Sync>;

/// Tells whether a finished transaction ran into a cap (see [`caps::Reading`]).
type TransactionCap = fn(&HttpTransaction) -> bool;

/// Why the metrics could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("no randomness for the visitor key: {0}")]
    Randomness(String),
    #[error("registering metrics: {0}")]
    Registry(#[from] prometheus::Error),
}

/// The anonymous statistics of one running tamperwatch; share it behind an `Arc`.
pub struct Metrics {
    registry: Registry,

    packets: IntCounter,
    bytes: IntCounter,
    flows: IntCounter,
    reassembly_gaps: IntCounter,
    decode_errors: Vec<IntCounter>,
    http_parse_errors: Vec<IntCounter>,
    http_resyncs: IntCounter,
    http_resync_scanned_bytes: IntCounter,
    outside_site: IntCounter,
    /// Indexed like [`caps::CAPS`]; `None` where the owner registers the series.
    caps: Vec<Option<IntCounter>>,
    /// The per-transaction caps of [`caps::CAPS`], resolved once for the hot path.
    transaction_caps: Vec<(TransactionCap, IntCounter)>,
    /// Reads the detector's shared counters when `/metrics` is scraped.
    detector_counts: OnceLock<DetectorCountsSource>,
    /// One caller at a time moves the detector's counters.
    detector_lock: Mutex<()>,

    capture: Mutex<()>,
    capture_received: IntCounter,
    capture_dropped: [IntCounter; 3],

    http_requests: IntCounterVec,
    /// method × status class × version, resolved on first use.
    http_request_cells: Box<[OnceLock<Option<IntCounter>>]>,
    latency: Histogram,
    request_size: Histogram,
    response_size: Histogram,
    content_groups: ContentGroups,
    by_content_group: Vec<IntCounter>,
    by_browser: Vec<IntCounter>,
    tls_client_hellos: Vec<IntCounter>,
    visitors_today: IntGauge,
    visitors: Mutex<DailyVisitors>,

    flagged_events: IntCounterVec,
    rule_labels: Mutex<HashSet<String>>,
    rules_loaded: IntGauge,
    reloads: [IntCounter; 2],

    store_rows: IntGauge,
    memory_borrowed: IntGauge,
    store_purged_rows: IntCounter,
    store_dropped_writes: IntCounter,
    events_dropped: IntCounter,
    store_recreated: IntCounter,
    endpoint_idle_closed: IntCounter,
    endpoint_busy: IntCounter,
}

impl Metrics {
    /// Registers every metric, with the configured content groups.
    pub fn new(content_groups: ContentGroups) -> Result<Metrics, MetricsError> {
        let r = Registry::new();
        let http_requests = counter_vec(
            &r,
            names::HTTP_REQUESTS,
            &[
                names::LABEL_METHOD,
                names::LABEL_STATUS_CLASS,
                names::LABEL_VERSION,
            ],
        )?;
        let cube = METHODS.len() * STATUS_CLASSES.len() * VERSIONS.len();
        let by_content_group = children(
            &counter_vec(
                &r,
                names::HTTP_REQUESTS_BY_CONTENT_GROUP,
                &[names::LABEL_GROUP],
            )?,
            content_groups.labels().map(|l| vec![l]),
        )?;
        let tls = counter_vec(
            &r,
            names::TLS_CLIENT_HELLOS,
            &[names::LABEL_VERSION, names::LABEL_SNI],
        )?;
        let capture_dropped = children(
            &counter_vec(&r, names::CAPTURE_DROPPED, &[names::LABEL_WHERE])?,
            DROP_PLACES.iter().map(|w| vec![*w]),
        )?;
        let reloads = children(
            &counter_vec(&r, names::RELOADS, &[names::LABEL_RESULT])?,
            ["ok", "error"].iter().map(|w| vec![*w]),
        )?;
        let caps = cap_counters(&r)?;
        let transaction_caps = caps::CAPS
            .iter()
            .zip(&caps)
            .filter_map(|(cap, counter)| match (cap.reading, counter) {
                (caps::Reading::Transaction { hit, .. }, Some(c)) => Some((hit, c.clone())),
                _ => None,
            })
            .collect();
        let metrics = Metrics {
            packets: counter(&r, names::PACKETS)?,
            bytes: counter(&r, names::BYTES)?,
            flows: counter(&r, names::FLOWS)?,
            reassembly_gaps: counter(&r, names::REASSEMBLY_GAPS)?,
            decode_errors: children(
                &counter_vec(&r, names::DECODE_ERRORS, &[names::LABEL_REASON])?,
                DecodeError::ALL.iter().map(|e| vec![e.as_str()]),
            )?,
            http_parse_errors: children(
                &counter_vec(&r, names::HTTP_PARSE_ERRORS, &[names::LABEL_REASON])?,
                HttpError::ALL.iter().map(|e| vec![e.as_str()]),
            )?,
            http_resyncs: counter(&r, names::HTTP_RESYNCS)?,
            http_resync_scanned_bytes: counter(&r, names::HTTP_RESYNC_SCANNED_BYTES)?,
            outside_site: counter(&r, names::OUTSIDE_SITE_PACKETS)?,
            caps,
            transaction_caps,
            detector_counts: OnceLock::new(),
            detector_lock: Mutex::new(()),
            capture: Mutex::new(()),
            capture_received: counter(&r, names::CAPTURE_RECEIVED)?,
            capture_dropped: triple(capture_dropped)?,
            http_request_cells: (0..cube).map(|_| OnceLock::new()).collect(),
            http_requests,
            latency: histogram(&r, names::HTTP_RESPONSE_LATENCY, &LATENCY_BUCKETS)?,
            request_size: histogram(&r, names::HTTP_REQUEST_SIZE, &SIZE_BUCKETS)?,
            response_size: histogram(&r, names::HTTP_RESPONSE_SIZE, &SIZE_BUCKETS)?,
            content_groups,
            by_content_group,
            by_browser: children(
                &counter_vec(&r, names::HTTP_REQUESTS_BY_BROWSER, &[names::LABEL_BROWSER])?,
                Browser::ALL.iter().map(|b| vec![b.as_str()]),
            )?,
            tls_client_hellos: children(
                &tls,
                TLS_VERSIONS
                    .iter()
                    .flat_map(|v| [vec![v.as_str(), "yes"], vec![v.as_str(), "no"]]),
            )?,
            visitors_today: gauge(&r, names::VISITORS_TODAY)?,
            visitors: Mutex::new(DailyVisitors::new()?),
            flagged_events: counter_vec(
                &r,
                names::FLAGGED_EVENTS,
                &[names::LABEL_CATEGORY, names::LABEL_RULE],
            )?,
            rule_labels: Mutex::new(HashSet::new()),
            rules_loaded: gauge(&r, names::RULES_LOADED)?,
            reloads: pair(reloads)?,
            store_rows: gauge(&r, names::STORE_ROWS)?,
            memory_borrowed: gauge(&r, names::MEMORY_BORROWED)?,
            store_purged_rows: counter(&r, names::STORE_PURGED_ROWS)?,
            store_dropped_writes: counter(&r, names::STORE_DROPPED_WRITES)?,
            events_dropped: counter(&r, names::EVENTS_DROPPED)?,
            store_recreated: counter(&r, names::STORE_RECREATED)?,
            endpoint_idle_closed: counter(&r, names::ENDPOINT_IDLE_CLOSED)?,
            endpoint_busy: counter(&r, names::ENDPOINT_BUSY)?,
            registry: r,
        };
        Ok(metrics)
    }

    /// The registry, for adding process or build metrics next to these.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The content groups requests are counted under.
    pub fn content_groups(&self) -> &ContentGroups {
        &self.content_groups
    }

    /// Counts one finished HTTP transaction. A response seen without its request counts
    /// only its size and its client as a visitor: it is not a request.
    pub fn observe_transaction(&self, txn: &HttpTransaction) {
        self.observe_visitor(txn.client.ip(), txn.ts);
        for (hit, counter) in &self.transaction_caps {
            if hit(txn) {
                counter.inc();
            }
        }
        if txn.response.is_some() {
            self.response_size.observe(txn.response_body_len as f64);
        }
        let Some(request) = txn.request.as_ref() else {
            return;
        };
        let m = method_index(&request.method);
        let s = status_class_index(txn.status());
        let v = version_index(&request.version);
        if let Some(slot) = self
            .http_request_cells
            .get((m * STATUS_CLASSES.len() + s) * VERSIONS.len() + v)
        {
            // Resolved once per cell; afterwards this is a load and an atomic add.
            let counter = slot.get_or_init(|| {
                self.http_requests
                    .get_metric_with_label_values(&[METHODS[m], STATUS_CLASSES[s], VERSIONS[v]])
                    .ok()
            });
            if let Some(counter) = counter {
                counter.inc();
            }
        }
        self.request_size.observe(txn.request_body_len as f64);
        if let (Some(end), Some(start)) = (txn.request_end_ts, txn.response_start_ts) {
            let micros = start.0.saturating_sub(end.0);
            if micros >= 0 {
                self.latency
                    .observe(micros as f64 / Timestamp::MICROS_PER_SEC as f64);
            }
        }
        let group = self.content_groups.classify(&request.uri);
        if let Some(c) = self.by_content_group.get(group) {
            c.inc();
        }
        let browser = browser::classify(request.header("user-agent"));
        if let Some(c) = self.by_browser.get(browser.index()) {
            c.inc();
        }
    }

    /// Counts a TLS ClientHello by version and SNI presence.
    pub fn observe_client_hello(&self, hello: &ClientHello) {
        let index = tls_version_index(hello.version) * 2 + usize::from(!hello.has_sni);
        if let Some(c) = self.tls_client_hellos.get(index) {
            c.inc();
        }
    }

    /// Counts a client address towards today's distinct visitors (HTTP transactions do
    /// this themselves; call it for clients seen otherwise, e.g. TLS flows).
    pub fn observe_visitor(&self, addr: IpAddr, now: Timestamp) {
        lock(&self.visitors).observe(addr, now);
    }

    /// Starts a new visitor day if `now` is past midnight UTC, even without traffic
    /// (call it from a timer with the capture's clock).
    pub fn roll_over_day(&self, now: Timestamp) {
        lock(&self.visitors).roll_over(now);
    }

    /// Counts a flagged event by category and rule.
    pub fn observe_alert(&self, alert: &Alert) {
        let mut rules = lock(&self.rule_labels);
        let rule = self.rule_label(&mut rules, &alert.rule.rule);
        self.flagged_events
            .with_label_values(&[alert.rule.category.as_str(), rule])
            .inc();
    }

    /// Creates the flagged-event series of a rule set at zero, so the first event of a
    /// rule shows as an increase (alerting on `increase()` misses a series' first
    /// sample otherwise).
    pub fn register_rules<'a>(&self, rules: impl IntoIterator<Item = (Category, &'a str)>) {
        let mut labels = lock(&self.rule_labels);
        for (category, rule) in rules {
            let rule = self.rule_label(&mut labels, rule);
            self.flagged_events
                .with_label_values(&[category.as_str(), rule]);
        }
    }

    /// The label for a rule name: itself while under the caps, else `other`.
    fn rule_label<'a>(&self, seen: &mut HashSet<String>, rule: &'a str) -> &'a str {
        let plausible = !rule.is_empty()
            && rule.len() <= MAX_RULE_LABEL_BYTES
            && rule
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'));
        if !plausible {
            return names::OTHER;
        }
        if seen.contains(rule) {
            return rule;
        }
        if seen.len() < MAX_RULE_LABELS {
            seen.insert(rule.to_owned());
            return rule;
        }
        names::OTHER
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        if let Some(source) = self.detector_counts.get() {
            self.set_detector_counts(&source());
        }
        let estimate = lock(&self.visitors).estimate();
        self.visitors_today
            .set(i64::try_from(estimate).unwrap_or(i64::MAX));
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}

/// Metrics watch the pipeline like any observer; workers each hold a clone of the `Arc`.
impl TransactionObserver for Arc<Metrics> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        self.observe_transaction(txn);
    }

    fn on_client_hello(&mut self, hello: &ClientHello) {
        self.observe_client_hello(hello);
    }
}

/// Metrics consume the same alerts as the other sinks; counting cannot fail.
impl AlertSink for Arc<Metrics> {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.observe_alert(alert);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The HTTP content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

#[cfg(test)]
mod tests;
