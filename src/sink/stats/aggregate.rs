//! In-memory daily aggregates of traffic, flushed to the statistics database.
//!
//! Every observation becomes a count (and bytes) under a (day, dimension, key) cell whose
//! key comes from a bounded vocabulary: configured content-group labels, browser and OS
//! families, protocol versions, status classes, latency buckets, rule names. No path,
//! address or header value ever becomes a key. Distinct visitors are a HyperLogLog per
//! day over a hash keyed by a random in-memory key; only its estimate leaves memory.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::detect::alert::Alert;
use crate::http::HttpTransaction;
use crate::sink::metrics::browser;
use crate::sink::metrics::content_group::ContentGroups;
use crate::sink::metrics::hyperloglog::HyperLogLog;
use crate::sink::metrics::{status_class_index, version_index, STATUS_CLASSES, VERSIONS};
use crate::time::Timestamp;
use crate::tls::ClientHello;

/// Microseconds in a day (days are UTC).
const MICROS_PER_DAY: i64 = 86_400 * Timestamp::MICROS_PER_SEC;
/// Upper bounds of the latency histogram buckets, in milliseconds (last is open).
pub const LATENCY_BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000];
/// Most distinct days held in memory before the oldest are dropped (counted).
const MAX_DAYS_IN_MEMORY: usize = 8;

/// The dimensions recorded, one name each in the database.
pub mod dim {
    pub const REQUESTS: &str = "requests_by_content";
    pub const BROWSER: &str = "browser";
    pub const OS: &str = "os";
    pub const HTTP_VERSION: &str = "http_version";
    pub const TLS_VERSION: &str = "tls_version";
    pub const STATUS: &str = "status_class";
    pub const ERRORS: &str = "errors_by_content";
    pub const LATENCY: &str = "latency_ms_le";
    pub const VISITORS: &str = "visitors_estimate";
    pub const FLAGGED: &str = "flagged";
}

/// One cell: how many, and how many body bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    pub count: u64,
    pub bytes: u64,
}

/// Aggregates since the last flush, and today's visitor sketch.
pub struct StatsAggregator {
    groups: ContentGroups,
    /// (day, dimension) → key → cell; keys are looked up as `&str`, so counting an
    /// existing cell allocates nothing.
    cells: HashMap<(i64, &'static str), HashMap<String, Cell>>,
    visitors: HashMap<i64, HyperLogLog>,
    hasher: ahash::RandomState,
    current_day: Option<i64>,
    /// Days dropped because more than `MAX_DAYS_IN_MEMORY` were open at once.
    pub days_dropped: u64,
}

impl StatsAggregator {
    /// An empty aggregator classifying paths by `groups`.
    pub fn new(groups: ContentGroups) -> Self {
        StatsAggregator {
            groups,
            cells: HashMap::new(),
            visitors: HashMap::new(),
            hasher: ahash::RandomState::new(),
            current_day: None,
            days_dropped: 0,
        }
    }

    fn add(&mut self, day: i64, dim: &'static str, key: &str, bytes: u64) {
        add_to(&mut self.cells, day, dim, key, bytes);
    }

    /// Counts one finished transaction.
    pub fn observe_transaction(&mut self, txn: &HttpTransaction) {
        let day = txn.ts.0.div_euclid(MICROS_PER_DAY);
        self.current_day = Some(day);
        self.observe_visitor(day, txn.client.ip());
        let Some(request) = txn.request.as_ref() else {
            return;
        };
        let group = self.groups.label_of(&request.uri);
        let bytes = txn.request_body_len + txn.response_body_len;
        add_to(&mut self.cells, day, dim::REQUESTS, group, bytes);
        let ua = request.header("user-agent");
        self.add(day, dim::BROWSER, browser::classify(ua).as_str(), 0);
        self.add(day, dim::OS, os_family(ua), 0);
        self.add(
            day,
            dim::HTTP_VERSION,
            VERSIONS[version_index(&request.version)],
            0,
        );
        let status = status_class_index(txn.status());
        let class = STATUS_CLASSES[status];
        self.add(day, dim::STATUS, class, 0);
        if class == "4xx" || class == "5xx" {
            // Errors only: the one allocation on this path.
            let key = format!("{} {class}", self.groups.label_of(&request.uri));
            self.add(day, dim::ERRORS, &key, 0);
        }
        if let (Some(end), Some(start)) = (txn.request_end_ts, txn.response_start_ts) {
            let micros = start.0.saturating_sub(end.0);
            if micros >= 0 {
                let ms = u64::try_from(micros / 1000).unwrap_or(0);
                self.add(day, dim::LATENCY, latency_bucket(ms), 0);
            }
        }
    }

    fn observe_visitor(&mut self, day: i64, ip: IpAddr) {
        if !self.visitors.contains_key(&day) && self.visitors.len() >= MAX_DAYS_IN_MEMORY {
            if let Some(oldest) = self.visitors.keys().min().copied() {
                self.visitors.remove(&oldest);
                self.days_dropped += 1;
            }
        }
        let hash = self.hasher.hash_one(ip.to_canonical());
        self.visitors.entry(day).or_default().insert(hash);
    }

    /// Counts a TLS ClientHello under the day of the latest transaction.
    pub fn observe_client_hello(&mut self, hello: &ClientHello) {
        if let Some(day) = self.current_day {
            self.add(day, dim::TLS_VERSION, hello.version.as_str(), 0);
        }
    }

    /// Counts a flagged event by category and rule.
    pub fn observe_alert(&mut self, alert: &Alert) {
        let day = alert.timestamp.0.div_euclid(MICROS_PER_DAY);
        let key = format!("{} {}", alert.rule.category.as_str(), alert.rule.rule);
        self.add(day, dim::FLAGGED, &key, 0);
    }

    /// Takes the cells added since the last call, plus each open day's visitor estimate
    /// (as a cell of [`dim::VISITORS`] whose count is the estimate). Days before
    /// `keep_from_day` stop being tracked.
    pub fn take(&mut self, keep_from_day: i64) -> Vec<(i64, &'static str, String, Cell)> {
        let mut out: Vec<_> = self
            .cells
            .drain()
            .flat_map(|((d, dim), keys)| keys.into_iter().map(move |(k, c)| (d, dim, k, c)))
            .collect();
        for (day, hll) in &self.visitors {
            let estimate = hll.estimate().round().max(0.0) as u64;
            out.push((
                *day,
                dim::VISITORS,
                String::new(),
                Cell {
                    count: estimate,
                    bytes: 0,
                },
            ));
        }
        self.visitors.retain(|d, _| *d >= keep_from_day);
        out.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        out
    }
}

/// Adds one observation to a cell, allocating only for a key not seen before.
fn add_to(
    cells: &mut HashMap<(i64, &'static str), HashMap<String, Cell>>,
    day: i64,
    dim: &'static str,
    key: &str,
    bytes: u64,
) {
    let keys = cells.entry((day, dim)).or_default();
    let cell = match keys.get_mut(key) {
        Some(c) => c,
        None => keys.entry(key.to_owned()).or_default(),
    };
    cell.count += 1;
    cell.bytes += bytes;
}

/// The histogram bucket label (upper bound in ms, or `+Inf`) of a latency.
pub fn latency_bucket(ms: u64) -> &'static str {
    const LABELS: [&str; 13] = [
        "1", "2", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "10000", "+Inf",
    ];
    let i = LATENCY_BUCKETS_MS
        .iter()
        .position(|b| ms <= *b)
        .unwrap_or(LATENCY_BUCKETS_MS.len());
    LABELS[i]
}

/// The operating-system family named by a User-Agent (bounded vocabulary).
pub fn os_family(user_agent: Option<&str>) -> &'static str {
    let Some(ua) = user_agent else {
        return "none";
    };
    let has = |s: &str| ua.contains(s);
    if has("Android") {
        "android"
    } else if has("iPhone") || has("iPad") || has("iPod") {
        "ios"
    } else if has("CrOS") {
        "chromeos"
    } else if has("Windows") {
        "windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macos"
    } else if has("Linux") || has("X11") {
        "linux"
    } else if has("bot") || has("Bot") || has("spider") || has("crawl") {
        "bot"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_family_is_a_bounded_label() {
        let win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0";
        assert_eq!(os_family(Some(win)), "windows");
        assert_eq!(
            os_family(Some("Mozilla/5.0 (Linux; Android 14) Mobile")),
            "android"
        );
        assert_eq!(
            os_family(Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)")),
            "ios"
        );
        assert_eq!(os_family(Some("curl/8.5.0")), "other");
        assert_eq!(os_family(None), "none");
    }

    #[test]
    fn latency_buckets_are_upper_bounds() {
        assert_eq!(latency_bucket(0), "1");
        assert_eq!(latency_bucket(3), "5");
        assert_eq!(latency_bucket(10_000), "10000");
        assert_eq!(latency_bucket(10_001), "+Inf");
    }
}
