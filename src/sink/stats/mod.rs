//! Anonymous usage statistics kept by tamperwatch itself: the embedded default beside
//! Prometheus, and the source of the report a city can publish.
//!
//! [`StatsRecorder`] aggregates transactions, TLS hellos and flagged events in memory
//! ([`aggregate`]) and flushes them to SQLite ([`db`]) periodically and at the end, never
//! per request. [`report`] reads a period back and renders it as HTML, JSON or CSV with
//! every cell below `min_count` shown as `<min_count`.

pub mod aggregate;
pub mod db;
pub mod report;

use std::sync::{Arc, Mutex};

use crate::decode::PacketView;
use crate::detect::alert::Alert;
use crate::http::HttpTransaction;
use crate::observe::TransactionObserver;
use crate::sink::metrics::content_group::ContentGroups;
use crate::sink::{AlertSink, SinkError};
use crate::time::Timestamp;
use crate::tls::ClientHello;
use aggregate::StatsAggregator;
use db::{StatsDb, StatsError};

/// Where the statistics database lives when `stats.path` is not set.
pub const DEFAULT_STATS_PATH: &str = "/var/lib/tamperwatch/stats.db";
/// Counts below this are published as `<10` unless `stats.min_count` says otherwise:
/// small enough to show a small site's usage, large enough not to single anyone out.
pub const DEFAULT_MIN_COUNT: u64 = 10;
/// Days of statistics kept: 400, so a year can be compared with the last.
pub const DEFAULT_STATS_RETENTION_DAYS: u32 = 400;

/// Records statistics into a database; cheap to clone (shared aggregator).
#[derive(Clone)]
pub struct StatsRecorder {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    agg: StatsAggregator,
    db: StatsDb,
    retention_days: u32,
    /// Flushes that failed (the cells of a failed flush are lost, detection goes on).
    failures: u64,
}

impl StatsRecorder {
    /// A recorder writing to `db`, keeping `retention_days` days.
    pub fn new(db: StatsDb, groups: ContentGroups, retention_days: u32) -> Self {
        StatsRecorder {
            inner: Arc::new(Mutex::new(Inner {
                agg: StatsAggregator::new(groups),
                db,
                retention_days,
                failures: 0,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Counts one transaction.
    pub fn observe_transaction(&self, txn: &HttpTransaction) {
        self.with(|i| i.agg.observe_transaction(txn));
    }

    /// Counts one TLS ClientHello.
    pub fn observe_client_hello(&self, hello: &ClientHello) {
        self.with(|i| i.agg.observe_client_hello(hello));
    }

    /// Writes what was aggregated since the last flush. A failure is counted and
    /// returned; the recorder keeps working.
    pub fn flush(&self) -> Result<(), StatsError> {
        self.with(|i| {
            let today = db::today();
            let keep_from = today - i64::from(i.retention_days);
            let cells = i.agg.take(keep_from);
            let result = i.db.flush(&cells, today, i.retention_days);
            if result.is_err() {
                i.failures += 1;
            }
            result
        })
    }

    /// Flushes that failed so far.
    pub fn failures(&self) -> u64 {
        self.with(|i| i.failures)
    }
}

impl AlertSink for StatsRecorder {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.with(|i| i.agg.observe_alert(alert));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// An observer that passes everything to `inner` and also counts it in `stats`.
pub struct StatsTee<'a> {
    pub inner: &'a mut dyn TransactionObserver,
    pub stats: Option<StatsRecorder>,
}

impl TransactionObserver for StatsTee<'_> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        self.inner.on_transaction(txn);
        if let Some(s) = &self.stats {
            s.observe_transaction(txn);
        }
    }

    fn on_client_hello(&mut self, hello: &ClientHello) {
        self.inner.on_client_hello(hello);
        if let Some(s) = &self.stats {
            s.observe_client_hello(hello);
        }
    }

    fn on_tcp_packet(&mut self, packet: &PacketView<'_>, now: Timestamp) {
        self.inner.on_tcp_packet(packet, now);
    }

    fn on_pressure(
        &mut self,
        kind: crate::observe::Pressure,
        count: u64,
        dest: std::net::SocketAddr,
        now: Timestamp,
    ) {
        self.inner.on_pressure(kind, count, dest, now);
    }

    fn on_slow_requests(&mut self, count: u64, server: std::net::SocketAddr, now: Timestamp) {
        self.inner.on_slow_requests(count, server, now);
    }

    fn on_handshake(&mut self, now: Timestamp) {
        self.inner.on_handshake(now);
    }
}
