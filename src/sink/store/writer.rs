//! Store writes off the packet path: a thread owns the connection and commits in
//! batches; packet workers hand it alerts through a bounded queue and never wait.
//!
//! [`StoreHandle::try_record`] is a `try_send`: when the queue
//! ([`WriterSettings::queue_capacity`]) is full, or the writer has stopped, the alert is
//! dropped and [`WriterStats::dropped`] counts it. The thread commits when
//! [`WriterSettings::batch_max`] alerts are pending or [`WriterSettings::batch_interval`]
//! after the first of them arrived, whichever comes first; only then does
//! [`WriterStats::committed`] grow, so what it reports as stored is on disk. A failed
//! commit (disk full, a lock held too long) loses that batch, is counted and logged
//! without any client address, and the writer carries on.
//!
//! Two faults are recovered rather than lost (see `recover`): a store locked by another
//! connection is retried with backoff for [`WriterSettings::busy_retry_for`] before the
//! batch is given up, and a store file deleted or replaced under the writer is noticed
//! (device and inode, checked around every batch), recreated with its schema, counted
//! ([`WriterStats::recreated`]) and logged, so later alerts land in the new file.
//!
//! The batch interval is measured on the monotonic clock: it paces I/O, it never
//! decides what is flagged, so replay output stays deterministic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{FlaggedStore, StoreError};
use recover::StoreFile;
use worker::Worker;

mod recover;
mod worker;
use crate::detect::alert::Alert;
use crate::sink::{AlertSink, SinkError};
use crate::time::Timestamp;

/// Alerts waiting for the writer, at most.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;
/// Alerts per transaction, at most.
pub const DEFAULT_BATCH_MAX: usize = 512;
/// Longest an alert waits before its batch is committed.
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_millis(200);
/// How long a batch that finds the store locked is retried before it is given up.
pub const DEFAULT_BUSY_RETRY_FOR: Duration = Duration::from_secs(30);

/// How the writer batches.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub queue_capacity: usize,
    pub batch_max: usize,
    pub batch_interval: Duration,
    /// Retry budget for a commit that finds the store locked (beyond the store's own
    /// busy timeout); past it the batch is dropped and counted in
    /// [`WriterStats::lost`].
    pub busy_retry_for: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            batch_max: DEFAULT_BATCH_MAX,
            batch_interval: DEFAULT_BATCH_INTERVAL,
            busy_retry_for: DEFAULT_BUSY_RETRY_FOR,
        }
    }
}

/// Counters shared by the writer thread and every handle (read them for metrics).
#[derive(Debug, Default)]
pub struct WriterCounters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    committed: AtomicU64,
    commits: AtomicU64,
    write_errors: AtomicU64,
    lost: AtomicU64,
    recreated: AtomicU64,
    busy_retries: AtomicU64,
    rows_left_behind: AtomicU64,
    rows_found: AtomicU64,
}

impl WriterCounters {
    /// A consistent-enough copy of every counter.
    pub fn snapshot(&self) -> WriterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Acquire);
        WriterStats {
            accepted: get(&self.accepted),
            dropped: get(&self.dropped),
            committed: get(&self.committed),
            commits: get(&self.commits),
            write_errors: get(&self.write_errors),
            lost: get(&self.lost),
            recreated: get(&self.recreated),
            busy_retries: get(&self.busy_retries),
            rows_left_behind: get(&self.rows_left_behind),
            rows_found: get(&self.rows_found),
        }
    }

    /// Alerts durably committed so far.
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }
}

/// The writer's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Alerts queued for writing.
    pub accepted: u64,
    /// Alerts dropped because the queue was full or the writer had stopped.
    pub dropped: u64,
    /// Alerts committed (durable).
    pub committed: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Commits that failed.
    pub write_errors: u64,
    /// Alerts lost in failed commits.
    pub lost: u64,
    /// Times the store file was found deleted or replaced and made again.
    pub recreated: u64,
    /// Commit attempts repeated because the store was locked.
    pub busy_retries: u64,
    /// Rows that stayed in store files found deleted or replaced (no longer at the
    /// store's path).
    pub rows_left_behind: u64,
    /// Rows already in the files that replaced them.
    pub rows_found: u64,
}

enum Msg {
    Alert(Box<Alert>),
    Flush(SyncSender<Result<(), StoreError>>),
    Purge {
        now: Timestamp,
        days: u32,
        reply: SyncSender<Result<u64, StoreError>>,
    },
    Shutdown(SyncSender<Result<(), StoreError>>),
}

/// A cheap, cloneable sender of alerts to the writer, one per packet worker.
#[derive(Clone)]
pub struct StoreHandle {
    tx: SyncSender<Msg>,
    counters: Arc<WriterCounters>,
}

impl StoreHandle {
    /// Queues an alert without blocking; `false` if it was dropped (queue full or the
    /// writer stopped), which is counted.
    pub fn try_record(&self, alert: Alert) -> bool {
        match self.tx.try_send(Msg::Alert(Box::new(alert))) {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::AcqRel);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::AcqRel);
                false
            }
        }
    }

    /// Commits everything queued before this call and waits for it. Blocks: not for
    /// the packet path.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Flush(reply))
            .map_err(|_| StoreError::WriterStopped)?;
        answer.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// The shared counters.
    pub fn counters(&self) -> &Arc<WriterCounters> {
        &self.counters
    }
}

impl AlertSink for StoreHandle {
    /// Never blocks; a dropped alert is counted, not an error.
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.try_record(alert.clone());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        StoreHandle::flush(self).map_err(|e| SinkError::Store(e.to_string()))
    }
}

/// The writer thread and its handle; dropping it shuts the thread down cleanly.
pub struct StoreWriter {
    handle: StoreHandle,
    thread: Option<JoinHandle<()>>,
}

impl StoreWriter {
    /// Starts the writer thread, which takes over `store`.
    pub fn spawn(store: FlaggedStore, settings: WriterSettings) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::sync_channel(settings.queue_capacity.max(1));
        let counters = Arc::new(WriterCounters::default());
        let worker = Worker {
            file: StoreFile::of(&store),
            store: Some(store),
            batch: Vec::with_capacity(settings.batch_max.max(1)),
            due: None,
            settings,
            counters: Arc::clone(&counters),
        };
        let thread = thread::Builder::new()
            .name("tamperwatch-store".into())
            .spawn(move || worker.run(rx))
            .map_err(StoreError::Spawn)?;
        Ok(StoreWriter {
            handle: StoreHandle { tx, counters },
            thread: Some(thread),
        })
    }

    /// A sender for one packet worker.
    pub fn handle(&self) -> StoreHandle {
        self.handle.clone()
    }

    /// The counters at this moment.
    pub fn stats(&self) -> WriterStats {
        self.handle.counters.snapshot()
    }

    /// The shared counters (for the metrics endpoint).
    pub fn counters(&self) -> Arc<WriterCounters> {
        Arc::clone(&self.handle.counters)
    }

    /// Commits everything queued so far and waits for it.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.handle.flush()
    }

    /// Purges on the writer's own connection (after committing what is queued), so
    /// the daemon's retention timer needs no second connection. Returns rows purged.
    pub fn purge_older_than(&self, now: Timestamp, days: u32) -> Result<u64, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.handle
            .tx
            .send(Msg::Purge { now, days, reply })
            .map_err(|_| StoreError::WriterStopped)?;
        answer.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// Drains the queue, commits, checkpoints, closes the store and joins the thread.
    /// Alerts sent through handles afterwards are dropped (and counted).
    pub fn shutdown(mut self) -> Result<WriterStats, StoreError> {
        self.stop()?;
        Ok(self.stats())
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let (reply, answer) = mpsc::sync_channel(1);
        let sent = self.handle.tx.send(Msg::Shutdown(reply)).is_ok();
        let result = if sent {
            answer.recv().unwrap_or(Err(StoreError::WriterStopped))
        } else {
            Err(StoreError::WriterStopped)
        };
        thread.join().map_err(|_| StoreError::WriterStopped)?;
        result
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "flagged store writer did not shut down cleanly");
        }
    }
}

impl AlertSink for StoreWriter {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.handle.record(alert)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.handle
            .flush()
            .map_err(|e| SinkError::Store(e.to_string()))
    }
}
