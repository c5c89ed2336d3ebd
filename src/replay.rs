//! Offline runs: feed capture files, in order, through one pipeline.
//!
//! Time comes from packet headers only, so the same files always give the same output.

use std::path::PathBuf;

use crate::capture::{CaptureError, FileSource};
use crate::pipeline::{Pipeline, PipelineSettings, Summary, TransactionObserver};

/// Opens every file first, so a bad path fails before any output is written.
pub fn open_all(paths: &[PathBuf]) -> Result<Vec<FileSource>, CaptureError> {
    paths.iter().map(|p| FileSource::open(p)).collect()
}

/// Replays sources in order through one pipeline; flows continue across files.
/// `progress` is told how many file bytes were consumed.
pub fn replay(
    sources: &mut [FileSource],
    settings: PipelineSettings,
    observer: &mut dyn TransactionObserver,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, CaptureError> {
    let mut pipeline = Pipeline::new(settings);
    let mut result = Ok(());
    for source in sources.iter_mut() {
        result = pipeline.run_source(source, observer, progress);
        if result.is_err() {
            break;
        }
    }
    // Flush what was read even when a file ended badly: no transaction is lost.
    pipeline.finish(observer);
    result.map(|()| pipeline.summary.clone())
}

/// Alerts into the flagged store for offline runs: batched, and blocking rather than
/// dropping when the disk is slow, because a replay must not lose findings.
pub struct ReplayStore {
    store: crate::sink::store::FlaggedStore,
    batch: Vec<crate::detect::alert::Alert>,
    /// Rows committed so far.
    pub stored: u64,
}

/// Alerts per transaction when a replay writes the store.
const REPLAY_STORE_BATCH: usize = 512;

impl ReplayStore {
    /// Wraps an opened store.
    pub fn new(store: crate::sink::store::FlaggedStore) -> Self {
        ReplayStore {
            store,
            batch: Vec::with_capacity(REPLAY_STORE_BATCH),
            stored: 0,
        }
    }
}

impl crate::sink::AlertSink for ReplayStore {
    fn record(
        &mut self,
        alert: &crate::detect::alert::Alert,
    ) -> Result<(), crate::sink::SinkError> {
        self.batch.push(alert.clone());
        if self.batch.len() >= REPLAY_STORE_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), crate::sink::SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let n = self
            .store
            .insert_batch(self.batch.iter())
            .map_err(|e| crate::sink::SinkError::Store(e.to_string()))?;
        self.stored += n;
        self.batch.clear();
        Ok(())
    }
}
