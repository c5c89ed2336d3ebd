//! The store writer's thread: takes alerts off the queue, commits them in batches, and
//! recovers from a locked or vanished store file (see `recover`).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Instant;

use super::recover::{Backoff, StoreFile};
use super::{Msg, WriterCounters, WriterSettings};
use crate::detect::alert::Alert;
use crate::sink::store::{Filters, FlaggedStore, StoreError};

/// The writer thread's state.
pub(super) struct Worker {
    /// `None` after a recreation failed; the next batch tries again.
    pub(super) store: Option<FlaggedStore>,
    pub(super) file: StoreFile,
    /// Unboxed on arrival: the queue holds boxes so its slots stay pointer-sized.
    pub(super) batch: Vec<Alert>,
    /// When the oldest pending alert must be committed.
    pub(super) due: Option<Instant>,
    pub(super) settings: WriterSettings,
    pub(super) counters: Arc<WriterCounters>,
}

impl Worker {
    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        loop {
            let msg = match self.due {
                None => match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                },
                Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                    Ok(msg) => msg,
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = self.commit();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            if let Msg::Shutdown(reply) = msg {
                // Take what was queued before anyone noticed the shutdown, then stop.
                while let Ok(msg) = rx.try_recv() {
                    self.handle(msg);
                }
                let _ = reply.send(self.finish());
                return;
            }
            self.handle(msg);
        }
        let _ = self.finish();
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Alert(alert) => {
                self.batch.push(*alert);
                if self.due.is_none() {
                    self.due = Some(Instant::now() + self.settings.batch_interval);
                }
                if self.batch.len() >= self.settings.batch_max {
                    let _ = self.commit();
                }
            }
            Msg::Flush(reply) => {
                let _ = reply.send(self.commit());
            }
            Msg::Purge { now, days, reply } => {
                let _ = self.commit();
                let purged = self
                    .current_store()
                    .and_then(|store| store.purge_older_than(now, days));
                let _ = reply.send(purged);
            }
            // A second shutdown while draining: the first one is already finishing.
            Msg::Shutdown(reply) => {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// Commits the pending batch; counts and logs a failure and lets it go.
    fn commit(&mut self) -> Result<(), StoreError> {
        self.due = None;
        if self.batch.is_empty() {
            return Ok(());
        }
        let result = self.insert_pending();
        let rows = self.batch.len() as u64;
        self.batch.clear();
        match result {
            Ok(n) => {
                self.counters.committed.fetch_add(n, Ordering::AcqRel);
                self.counters.commits.fetch_add(1, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                self.counters.write_errors.fetch_add(1, Ordering::AcqRel);
                self.counters.lost.fetch_add(rows, Ordering::AcqRel);
                // StoreError text names the store and the cause, never an address.
                tracing::warn!(error = %e, rows, "flagged store commit failed; alerts lost");
                Err(e)
            }
        }
    }

    /// Inserts the pending batch into the file now at the store's path: retries while
    /// the store is locked (within the budget), and writes the batch again into a new
    /// file if the old one vanished during the commit.
    fn insert_pending(&mut self) -> Result<u64, StoreError> {
        let mut backoff = Backoff::new(self.settings.busy_retry_for);
        let mut rewritten = false;
        loop {
            let result = match self.ensure_current() {
                Ok(()) => match self.store.as_mut() {
                    Some(store) => store.insert_batch(&self.batch),
                    None => Err(StoreError::WriterStopped),
                },
                Err(e) => Err(e),
            };
            match result {
                Ok(n) if rewritten || self.file.unchanged() => return Ok(n),
                // Committed into a file deleted meanwhile: not durable, write it again.
                Ok(_) => rewritten = true,
                Err(StoreError::Locked { .. }) if backoff.wait() => {
                    self.counters.busy_retries.fetch_add(1, Ordering::AcqRel);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The open store, after making sure it is still the file at the store's path;
    /// recreates it (counted and logged) when the file was deleted or replaced.
    fn current_store(&mut self) -> Result<&mut FlaggedStore, StoreError> {
        self.ensure_current()?;
        self.store.as_mut().ok_or(StoreError::WriterStopped)
    }

    /// See [`Worker::current_store`].
    fn ensure_current(&mut self) -> Result<(), StoreError> {
        if self.store.is_none() || !self.file.unchanged() {
            if let Some(old) = self.store.take() {
                let left = old.count(&Filters::default()).unwrap_or(0);
                self.counters
                    .rows_left_behind
                    .fetch_add(left, Ordering::AcqRel);
                // Closing removes the old -wal and -shm, which belong to the old file.
                let _ = old.close();
                self.counters.recreated.fetch_add(1, Ordering::AcqRel);
                tracing::warn!(
                    path = %self.file.path().display(),
                    "flagged store file was deleted or replaced; recreating it"
                );
            }
            let store = self.file.reopen()?;
            let found = store.count(&Filters::default()).unwrap_or(0);
            self.counters.rows_found.fetch_add(found, Ordering::AcqRel);
            self.store = Some(store);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        let committed = self.commit();
        let checkpointed = self.current_store().and_then(|store| store.checkpoint());
        committed.and(checkpointed)
    }
}
