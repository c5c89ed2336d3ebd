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
pub mod content_group;
pub(crate) mod hyperloglog;
pub mod names;
mod siphash;
pub mod visitors;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub use browser::Browser;
pub use content_group::ContentGroups;

use crate::decode::DecodeError;
use crate::detect::alert::{Alert, Category};
use crate::http::{HttpError, HttpTransaction};
use crate::observe::{Summary, TransactionObserver};
use crate::sink::{AlertSink, SinkError};
use crate::time::Timestamp;
use crate::tls::{ClientHello, TlsVersion};
use names::MetricName;
use visitors::DailyVisitors;

/// Methods counted by name (RFC 9110 §9 and WebDAV, RFC 4918); others are `other`.
pub const METHODS: [&str; 17] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "other",
];
/// Status classes; `none` when no (valid) response was seen.
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];
/// HTTP versions counted by name; others are `other`.
pub const VERSIONS: [&str; 4] = ["0.9", "1.0", "1.1", "other"];
/// TLS versions, in the order of [`tls_version_index`].
const TLS_VERSIONS: [TlsVersion; 6] = [
    TlsVersion::Ssl3,
    TlsVersion::Tls10,
    TlsVersion::Tls11,
    TlsVersion::Tls12,
    TlsVersion::Tls13,
    TlsVersion::Unknown,
];
/// Where capture drops happen: libpcap's `ps_drop` and `ps_ifdrop`, and the daemon's
/// full worker queues (packets captured but handed to no worker).
pub const DROP_PLACES: [&str; 3] = ["kernel", "interface", "queue"];
/// Most distinct rule names counted; more fold into `other`.
pub const MAX_RULE_LABELS: usize = 1024;
/// Longest rule name used as a label; longer ones fold into `other`.
pub const MAX_RULE_LABEL_BYTES: usize = 128;

/// Response latency buckets, seconds.
const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Body size buckets: 64 B to 64 MiB, ×4.
const SIZE_BUCKETS: [f64; 11] = [
    64.0,
    256.0,
    1024.0,
    4096.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];

/// Why the metrics could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("content group {prefix:?}: label {label:?} must be 1 to 64 of a-z, 0-9 and _")]
    ContentGroupLabel { prefix: String, label: String },
    #[error("content group {prefix:?}: a prefix must start with / and be at most 256 bytes")]
    ContentGroupPrefix { prefix: String },
    #[error("content group {prefix:?} is given twice")]
    DuplicateContentGroupPrefix { prefix: String },
    #[error("more than {max} content groups")]
    TooManyContentGroups { max: usize },
    #[error("no randomness for the visitor key: {0}")]
    Randomness(String),
    #[error("registering metrics: {0}")]
    Registry(#[from] prometheus::Error),
}

/// Fragment outcomes, as the `outcome` label of [`names::IP_FRAGMENTS`].
pub(crate) const IP_FRAGMENT_OUTCOMES: [&str; 7] = [
    "reassembled",
    "overlap",
    "overlap_conflict",
    "timed_out",
    "dropped_over_limit",
    "dropped_over_memory",
    "inconsistent",
];

/// What the HTTP caps drop, as the `what` label of [`names::HTTP_CAPPED`].
pub(crate) const HTTP_CAPPED_WHAT: [&str; 3] = ["header_line", "multipart_part", "multipart_param"];

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
    /// Indexed like [`HTTP_CAPPED_WHAT`].
    http_capped: Vec<IntCounter>,
    /// Indexed like [`IP_FRAGMENT_OUTCOMES`].
    ip_fragments: Vec<IntCounter>,
    outside_site: IntCounter,
    flows_evicted: IntCounter,

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
            http_capped: children(
                &counter_vec(&r, names::HTTP_CAPPED, &[names::LABEL_WHAT])?,
                HTTP_CAPPED_WHAT.iter().map(|w| vec![*w]),
            )?,
            ip_fragments: children(
                &counter_vec(&r, names::IP_FRAGMENTS, &[names::LABEL_OUTCOME])?,
                IP_FRAGMENT_OUTCOMES.iter().map(|w| vec![*w]),
            )?,
            outside_site: counter(&r, names::OUTSIDE_SITE_PACKETS)?,
            flows_evicted: counter(&r, names::FLOWS_EVICTED)?,
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
        let capped = [
            a.headers_dropped.saturating_sub(b.headers_dropped),
            a.multipart_parts_dropped
                .saturating_sub(b.multipart_parts_dropped),
            a.multipart_params_dropped
                .saturating_sub(b.multipart_params_dropped),
        ];
        for (c, n) in self.http_capped.iter().zip(capped) {
            c.inc_by(n);
        }
        let (fa, fb) = (&after.fragments, &before.fragments);
        let fragments = [
            fa.reassembled.saturating_sub(fb.reassembled),
            fa.overlaps.saturating_sub(fb.overlaps),
            fa.overlap_conflicts.saturating_sub(fb.overlap_conflicts),
            fa.timed_out.saturating_sub(fb.timed_out),
            fa.dropped_over_limit.saturating_sub(fb.dropped_over_limit),
            fa.dropped_over_memory
                .saturating_sub(fb.dropped_over_memory),
            fa.inconsistent.saturating_sub(fb.inconsistent),
        ];
        for (c, n) in self.ip_fragments.iter().zip(fragments) {
            c.inc_by(n);
        }
        self.outside_site
            .inc_by(after.outside_site.saturating_sub(before.outside_site));
        self.flows_evicted
            .inc_by(after.flows_evicted.saturating_sub(before.flows_evicted));
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

    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
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

/// Index into [`METHODS`]; methods are case-sensitive (RFC 9110 §9.1).
pub fn method_index(method: &str) -> usize {
    METHODS[..METHODS.len() - 1]
        .iter()
        .position(|m| *m == method)
        .unwrap_or(METHODS.len() - 1)
}

/// Index into [`STATUS_CLASSES`].
pub fn status_class_index(status: Option<u16>) -> usize {
    match status {
        Some(s @ 100..=599) => usize::from(s / 100 - 1),
        _ => STATUS_CLASSES.len() - 1,
    }
}

/// Index into [`VERSIONS`].
pub fn version_index(version: &str) -> usize {
    VERSIONS[..VERSIONS.len() - 1]
        .iter()
        .position(|v| *v == version)
        .unwrap_or(VERSIONS.len() - 1)
}

fn tls_version_index(v: TlsVersion) -> usize {
    match v {
        TlsVersion::Ssl3 => 0,
        TlsVersion::Tls10 => 1,
        TlsVersion::Tls11 => 2,
        TlsVersion::Tls12 => 3,
        TlsVersion::Tls13 => 4,
        TlsVersion::Unknown => 5,
    }
}

/// Locks a mutex, taking the data even if a panicking thread poisoned it (counters
/// stay meaningful).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Moves a counter to an absolute value; a lower value restarts it.
fn advance_to(counter: &IntCounter, value: u64) {
    let current = counter.get();
    if value >= current {
        counter.inc_by(value - current);
    } else {
        counter.reset();
        counter.inc_by(value);
    }
}

fn counter(r: &Registry, m: MetricName) -> Result<IntCounter, MetricsError> {
    let c = IntCounter::new(m.name, m.help)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter_vec(
    r: &Registry,
    m: MetricName,
    labels: &[&str],
) -> Result<IntCounterVec, MetricsError> {
    let c = IntCounterVec::new(Opts::new(m.name, m.help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(r: &Registry, m: MetricName) -> Result<IntGauge, MetricsError> {
    let g = IntGauge::new(m.name, m.help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn histogram(r: &Registry, m: MetricName, buckets: &[f64]) -> Result<Histogram, MetricsError> {
    let h = Histogram::with_opts(HistogramOpts::new(m.name, m.help).buckets(buckets.to_vec()))?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

/// Resolves (and so exposes at zero) one child per label-value tuple.
fn children<'a>(
    vec: &IntCounterVec,
    values: impl Iterator<Item = Vec<&'a str>>,
) -> Result<Vec<IntCounter>, MetricsError> {
    values
        .map(|v| Ok(vec.get_metric_with_label_values(&v)?))
        .collect()
}

fn pair(children: Vec<IntCounter>) -> Result<[IntCounter; 2], MetricsError> {
    <[IntCounter; 2]>::try_from(children).map_err(|_| {
        MetricsError::Registry(prometheus::Error::Msg("expected two label values".into()))
    })
}

fn triple(children: Vec<IntCounter>) -> Result<[IntCounter; 3], MetricsError> {
    <[IntCounter; 3]>::try_from(children).map_err(|_| {
        MetricsError::Registry(prometheus::Error::Msg("expected three label values".into()))
    })
}

#[cfg(test)]
mod tests;
