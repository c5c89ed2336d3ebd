//! [`ReplayStore`]: the flagged store as an alert sink for offline runs.
//!
//! Alerts are batched into one transaction per [`REPLAY_STORE_BATCH`] and written on the
//! caller's thread, blocking rather than dropping when the disk is slow, because a
//! replay must not lose findings. (The live daemon's sink is [`super::writer`]: a
//! background writer that never blocks the packet workers.)

use super::FlaggedStore;
use crate::detect::alert::Alert;
use crate::sink::{AlertSink, SinkError};

/// Alerts per store transaction when a replay writes the store.
pub const REPLAY_STORE_BATCH: usize = 512;

/// Alerts into the flagged store for offline runs: batched, blocking, lossless.
pub struct ReplayStore {
    store: FlaggedStore,
    batch: Vec<Alert>,
    /// Rows committed so far.
    pub stored: u64,
}

impl ReplayStore {
    /// Wraps an opened store.
    pub fn new(store: FlaggedStore) -> Self {
        ReplayStore {
            store,
            batch: Vec::with_capacity(REPLAY_STORE_BATCH),
            stored: 0,
        }
    }
}

impl AlertSink for ReplayStore {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.batch.push(alert.clone());
        if self.batch.len() >= REPLAY_STORE_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let n = self
            .store
            .insert_batch(self.batch.iter())
            .map_err(|e| SinkError::Store(e.to_string()))?;
        self.stored += n;
        self.batch.clear();
        Ok(())
    }
}
