//! The alert sinks of the live daemon: the one place they are opened, handed to the
//! workers, maintained and closed.
//!
//! Every worker gets its own [`WorkerSinks`]: a handle on the events writer and the
//! shared metrics. The flagged store (`sink::store`, a `StoreWriter` batching on its
//! own thread) plugs in here too — see the `STORE:` notes: open it in
//! [`AlertSinks::open`], give each worker a handle in [`AlertSinks::for_worker`], purge
//! in [`AlertSinks::purge_expired`], and shut it down in [`AlertSinks::close`].

use std::sync::Arc;

use super::events::{EventHandle, EventWriter};
use super::DaemonError;
use crate::config::Config;
use crate::sink::metrics::Metrics;
use crate::sink::AlertSink;
use crate::time::Timestamp;

/// The daemon's sinks, owned by the control plane.
pub struct AlertSinks {
    events: EventWriter,
    metrics: Arc<Metrics>,
    // STORE: `store: StoreWriter` (opened from `config.store.path`).
}

/// One worker's sinks, in the order alerts reach them.
pub struct WorkerSinks {
    events: Option<EventHandle>,
    metrics: Arc<Metrics>,
    // STORE: `store: StoreHandle`.
}

impl AlertSinks {
    /// Opens every sink the configuration names; fails before anything starts.
    pub fn open(config: &Config, metrics: Arc<Metrics>) -> Result<AlertSinks, DaemonError> {
        let events = EventWriter::open(&config.events.path, Arc::clone(&metrics))?;
        // STORE: open the store at `config.store.path` here.
        Ok(AlertSinks { events, metrics })
    }

    /// A fresh set of handles for one worker.
    pub fn for_worker(&self) -> WorkerSinks {
        WorkerSinks {
            events: self.events.handle(),
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// Reopens log files (SIGHUP, after rotation).
    pub fn reopen(&self) {
        self.events.reopen();
    }

    /// Removes flagged records older than the retention (at start and hourly).
    pub fn purge_expired(&self, now: Timestamp, days: u32) {
        // STORE: `self.store.purge_older_than(now, days)`, add the count to
        // `metrics.add_store_purged_rows`. Until the store is here nothing is kept.
        let _ = (now, days);
    }

    /// Flushes and closes every sink; call after the workers have stopped.
    pub fn close(self) {
        // STORE: shut the store writer down (commits what is queued).
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
        sinks.push(&mut self.metrics);
        sinks
    }
}
