//! The alert sinks of the live daemon: the one place they are opened, handed to the
//! workers, maintained and closed.
//!
//! Every worker gets its own [`WorkerSinks`]: a handle on the events writer, a handle
//! on the flagged store's writer (`sink::store::StoreWriter`, batching on its own
//! thread) and the shared metrics. Neither handle ever blocks a worker: a full queue
//! drops the alert and counts it. The control plane purges the store by the retention
//! ([`AlertSinks::purge_expired`], at start and hourly), publishes the store's counters
//! ([`AlertSinks::publish_store_metrics`]) and closes everything after the workers
//! have stopped ([`AlertSinks::close`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::events::{EventHandle, EventWriter};
use super::DaemonError;
use crate::config::Config;
use crate::sink::metrics::content_group::ContentGroups;
use crate::sink::metrics::Metrics;
use crate::sink::stats::db::StatsDb;
use crate::sink::stats::StatsRecorder;
use crate::sink::store::{Filters, FlaggedStore, StoreHandle, StoreWriter, WriterSettings};
use crate::sink::AlertSink;
use crate::time::Timestamp;

/// The daemon's sinks, owned by the control plane.
pub struct AlertSinks {
    events: EventWriter,
    store: StoreWriter,
    metrics: Arc<Metrics>,
    /// Rows in the store when it was opened.
    rows_at_open: u64,
    /// Rows removed by retention since then.
    purged: AtomicU64,
    /// Store writes given up (dropped or lost) already added to the metrics.
    published_store_losses: Mutex<u64>,
    /// The anonymous statistics recorder; `None` if its database could not be opened
    /// (logged; detection runs on without it).
    stats: Option<StatsRecorder>,
}

/// One worker's sinks, in the order alerts reach them.
pub struct WorkerSinks {
    events: Option<EventHandle>,
    store: StoreHandle,
    metrics: Arc<Metrics>,
    stats: Option<StatsRecorder>,
}

impl AlertSinks {
    /// Opens every sink the configuration names; fails before anything starts.
    pub fn open(config: &Config, metrics: Arc<Metrics>) -> Result<AlertSinks, DaemonError> {
        let path = &config.store.path;
        let events_path = std::path::Path::new(&config.events.path);
        let mut data_files: Vec<&std::path::Path> = vec![path.as_path()];
        if config.events.path != "-" {
            data_files.push(events_path);
        }
        let policy = crate::sink::privacy::address_policy(config, &data_files)
            .map_err(|e| DaemonError::AddressMode(e.to_string()))?;
        let store = FlaggedStore::create(path)?.with_address_policy(policy.clone());
        let rows_at_open = store.count(&Filters::default())?;
        let store = StoreWriter::spawn(store, WriterSettings::default())?;
        let events = EventWriter::open(&config.events.path, Arc::clone(&metrics), policy)?;
        metrics.set_store_rows(rows_at_open);
        let stats = open_stats(config);
        Ok(AlertSinks {
            stats,
            events,
            store,
            metrics,
            rows_at_open,
            purged: AtomicU64::new(0),
            published_store_losses: Mutex::new(0),
        })
    }

    /// A fresh set of handles for one worker.
    pub fn for_worker(&self) -> WorkerSinks {
        WorkerSinks {
            events: self.events.handle(),
            store: self.store.handle(),
            metrics: Arc::clone(&self.metrics),
            stats: self.stats.clone(),
        }
    }

    /// Writes the statistics aggregated since the last flush (every minute, and at
    /// drain). A failure is counted by the recorder and logged; nothing else stops.
    pub fn flush_stats(&self) {
        if let Some(s) = &self.stats {
            if let Err(e) = s.flush() {
                tracing::warn!(error = %e, failures = s.failures(), "stats: flush failed");
            }
        }
    }

    /// Reopens log files (SIGHUP, after rotation).
    pub fn reopen(&self) {
        self.events.reopen();
    }

    /// Removes flagged records older than `days` before `now`. Blocking: it waits for
    /// the store writer to commit what is queued and delete in chunks.
    pub fn purge_expired(&self, now: Timestamp, days: u32) {
        match self.store.purge_older_than(now, days) {
            Ok(rows) => {
                self.purged.fetch_add(rows, Ordering::AcqRel);
                self.metrics.add_store_purged_rows(rows);
                if rows > 0 {
                    tracing::info!(rows, days, "retention: purged expired flagged records");
                }
            }
            Err(e) => tracing::error!(error = %e, "retention: purge failed"),
        }
        self.publish_store_metrics();
    }

    /// Brings the store's metrics up to date with its writer's counters.
    pub fn publish_store_metrics(&self) {
        let stats = self.store.stats();
        // A store file deleted or replaced under the writer takes its rows with it.
        let rows = (self.rows_at_open + stats.committed + stats.rows_found)
            .saturating_sub(self.purged.load(Ordering::Acquire) + stats.rows_left_behind);
        self.metrics.set_store_rows(rows);
        self.metrics.set_store_recreated_total(stats.recreated);
        let losses = stats.dropped + stats.lost;
        let mut published = self
            .published_store_losses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.metrics
            .add_store_dropped_writes(losses.saturating_sub(*published));
        *published = losses.max(*published);
    }

    /// Commits and closes every sink; call after the workers have stopped.
    pub fn close(self) {
        self.publish_store_metrics();
        self.flush_stats();
        match self.store.shutdown() {
            Ok(stats) => tracing::info!(
                committed = stats.committed,
                dropped = stats.dropped,
                lost = stats.lost,
                recreated = stats.recreated,
                "flagged store closed"
            ),
            Err(e) => tracing::error!(error = %e, "closing the flagged store"),
        }
        self.events.close();
    }
}

impl WorkerSinks {
    /// The sinks as the detection stage takes them.
    pub fn as_sinks(&mut self) -> Vec<&mut dyn AlertSink> {
        let mut sinks: Vec<&mut dyn AlertSink> = Vec::with_capacity(3);
        if let Some(events) = self.events.as_mut() {
            sinks.push(events);
        }
        sinks.push(&mut self.store);
        sinks.push(&mut self.metrics);
        if let Some(stats) = self.stats.as_mut() {
            sinks.push(stats);
        }
        sinks
    }

    /// The statistics recorder, for the worker's transaction observer.
    pub fn stats(&self) -> Option<StatsRecorder> {
        self.stats.clone()
    }
}

/// Opens the statistics database of `config`; a failure is logged, never fatal.
fn open_stats(config: &Config) -> Option<StatsRecorder> {
    let groups = ContentGroups::new(&config.policy.content_groups);
    match StatsDb::create(&config.stats.path) {
        Ok(db) => Some(StatsRecorder::new(db, groups, config.stats.retention_days)),
        Err(e) => {
            tracing::warn!(error = %e, "stats: statistics are not recorded");
            None
        }
    }
}
