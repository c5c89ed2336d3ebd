//! Offline runs: feed capture files, in order, through the pipeline.
//!
//! Time comes from packet headers only, so the same files always give the same output.
//! [`replay`] runs one pipeline on the calling thread (for `inspect` and tests);
//! [`sharded::replay_sharded`] runs `replay --workers N`, whose output is the same for
//! any N (with one worker it runs on the calling thread, through the same recording and
//! merging steps: `inline.rs`).

mod epoch;
mod inline;
mod lend;
pub mod record;
pub mod sharded;

pub use sharded::{replay_sharded, ShardedError};

use std::path::PathBuf;

use crate::capture::{CaptureError, FileSource};
use crate::observe::{Summary, TransactionObserver};
use crate::pipeline::{Pipeline, PipelineSettings};

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

/// Moved to the store, where it belongs; kept here for callers of the old path.
pub use crate::sink::store::ReplayStore;
