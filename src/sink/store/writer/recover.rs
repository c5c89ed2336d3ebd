//! What the store writer does when the store file is not the one it opened, or is busy.
//!
//! The writer's connection keeps its file open by descriptor, so if an operator (or a
//! clean-up script) deletes or replaces the file on disk, commits would keep
//! "succeeding" into an unlinked inode and every later alert would be lost while the
//! counters said committed. [`StoreFile`] remembers the device and inode the writer
//! opened; the writer checks them around every batch (one `stat` per batch) and, when
//! they changed, closes the old connection (which removes the old `-wal`/`-shm`, so the
//! new file cannot replay a stranger's journal) and opens a fresh store at the same
//! path with the same address policy and busy timeout.
//!
//! [`Backoff`] paces retries of a batch whose commit found the store locked by another
//! connection (each attempt already waited the store's busy timeout inside SQLite).

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::super::address::AddressPolicy;
use super::super::{FlaggedStore, StoreError, StoreOptions};

/// First pause before retrying a commit that found the store busy.
const FIRST_BUSY_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause between two retries.
const MAX_BUSY_PAUSE: Duration = Duration::from_secs(1);

/// The store file the writer's connection belongs to, and how to open it again.
pub(super) struct StoreFile {
    path: PathBuf,
    policy: AddressPolicy,
    busy_timeout: Duration,
    /// Device and inode at open; `None` if the file could not be examined.
    identity: Option<(u64, u64)>,
}

impl StoreFile {
    /// Remembers the file `store` has open now.
    pub(super) fn of(store: &FlaggedStore) -> StoreFile {
        StoreFile {
            path: store.path.clone(),
            policy: store.policy.clone(),
            busy_timeout: store.busy_timeout,
            identity: identity(&store.path),
        }
    }

    /// The store's path.
    pub(super) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the path still names the file that was opened.
    pub(super) fn unchanged(&self) -> bool {
        self.identity.is_some() && identity(&self.path) == self.identity
    }

    /// Opens a store at the path again (making the file and its schema if it is
    /// gone) and remembers the new file.
    pub(super) fn reopen(&mut self) -> Result<FlaggedStore, StoreError> {
        let options = StoreOptions {
            create: true,
            busy_timeout: self.busy_timeout,
        };
        let store =
            FlaggedStore::open_with(&self.path, &options)?.with_address_policy(self.policy.clone());
        self.identity = identity(&self.path);
        Ok(store)
    }
}

fn identity(path: &std::path::Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Exponential pauses between commit attempts, within a total budget.
pub(super) struct Backoff {
    started: Instant,
    budget: Duration,
    pause: Duration,
}

impl Backoff {
    /// Starts the clock on a budget of `budget`.
    pub(super) fn new(budget: Duration) -> Backoff {
        Backoff {
            started: Instant::now(),
            budget,
            pause: FIRST_BUSY_PAUSE,
        }
    }

    /// Sleeps before the next attempt and returns `true`, or returns `false` at once if
    /// the budget would be exceeded.
    pub(super) fn wait(&mut self) -> bool {
        if self.started.elapsed() + self.pause > self.budget {
            return false;
        }
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(MAX_BUSY_PAUSE);
        true
    }
}
