//! The flagged store: one SQLite row per alert, kept for the retention period, queried
//! by IT staff with `tamperwatch flagged`.
//!
//! Alerts arrive already redacted ([`Alert`]); the store adds nothing to them but the
//! source address policy ([`address`]). The parts:
//!
//! - [`schema`]: pragmas fixed at creation (WAL, `synchronous = FULL`, incremental
//!   auto-vacuum) and ordered migrations in `PRAGMA user_version`.
//! - [`FlaggedStore`] (here): opening with clear errors, inserting, retention.
//! - [`writer`]: a thread that owns the connection and commits in batches, fed through a
//!   bounded queue the packet path never blocks on.
//! - [`filter`], [`query`], [`report`]: filters typed by people, the queries, and the
//!   table / CSV / JSON lines they print.
//! - [`import`]: EVE lines from other hosts into a central store, each row tagged with
//!   its `host` (NULL for alerts recorded on this machine), idempotent.
//!
//! - `error`: every failure is a [`StoreError`] whose one-line `Display` names the
//!   store and says what is wrong; no message carries a client address.

pub mod address;
mod error;
pub mod schema;
mod row;
pub mod writer;
pub mod filter;
pub mod counts;
pub mod query;
pub mod report;
pub mod import;
mod blocking;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

pub use address::{AddressKey, AddressKeyError, AddressMode, AddressPolicy};
pub use blocking::{ReplayStore, REPLAY_STORE_BATCH};
pub use counts::{RuleCount, Stats};
pub use error::StoreError;
pub use filter::{FilterError, FilterSpec, Filters, RuleRef};
pub use import::{ImportError, ImportReport};
pub use query::ExportFormat;
pub use row::StoredAlert;
pub use writer::{StoreHandle, StoreWriter, WriterSettings, WriterStats};

use crate::detect::alert::Alert;
use crate::time::Timestamp;
use error::{check_file, classify};
use schema::Found;

/// Where the daemon keeps its store unless configured otherwise (`store.path`).
pub const DEFAULT_STORE_PATH: &str = "/var/lib/tamperwatch/flagged.db";
/// Days a flagged record is kept unless configured otherwise (`retention.days`).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// How long an operation waits for another process's lock before giving up.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows deleted per transaction when purging, so a writer is never held off for long.
pub const PURGE_CHUNK_ROWS: usize = 10_000;

const MICROS_PER_DAY: i64 = 86_400 * Timestamp::MICROS_PER_SEC;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Make the file if there is none (the daemon); otherwise a missing store is
    /// [`StoreError::Missing`] (the query commands).
    pub create: bool,
    /// How long to wait for another process's lock.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            create: false,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// An open flagged store.
pub struct FlaggedStore {
    conn: Connection,
    path: PathBuf,
    policy: AddressPolicy,
    busy_timeout: Duration,
}

impl std::fmt::Debug for FlaggedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlaggedStore")
            .field("path", &self.path)
            .field("address_mode", &self.policy.mode())
            .finish()
    }
}

impl FlaggedStore {
    /// Opens the store at `path`, making it (mode 0600) if there is none.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(
            path,
            &StoreOptions {
                create: true,
                ..StoreOptions::default()
            },
        )
    }

    /// Opens the existing store at `path`; a missing one is [`StoreError::Missing`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &StoreOptions::default())
    }

    /// Opens with explicit options; migrates an older schema, refuses a newer one.
    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        check_file(path, options.create)?;
        let fail = |context| {
            let path = path.to_owned();
            let waited = options.busy_timeout;
            move |e| classify(path, context, e, waited)
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(fail("opening"))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(fail("setting the busy timeout"))?;
        match schema::inspect(&conn).map_err(fail("reading the schema version"))? {
            Found::Foreign => {
                return Err(StoreError::Foreign {
                    path: path.to_owned(),
                })
            }
            Found::Store { version } if version > schema::SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: path.to_owned(),
                    found: version,
                    supported: schema::SCHEMA_VERSION,
                })
            }
            Found::Empty => schema::prepare_empty(&conn).map_err(fail("setting auto-vacuum"))?,
            Found::Store { .. } => {}
        }
        let mode = schema::set_pragmas(&conn).map_err(fail("setting the journal mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal {
                path: path.to_owned(),
                mode,
            });
        }
        schema::migrate(&mut conn).map_err(fail("migrating the schema"))?;
        Ok(FlaggedStore {
            conn,
            path: path.to_owned(),
            policy: AddressPolicy::default(),
            busy_timeout: options.busy_timeout,
        })
    }

    /// Sets how source addresses are kept in rows inserted from now on.
    pub fn with_address_policy(mut self, policy: AddressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The address mode applied to new rows.
    pub fn address_mode(&self) -> AddressMode {
        self.policy.mode()
    }

    pub(crate) fn error(&self, context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        let path = self.path.clone();
        let waited = self.busy_timeout;
        move |e| classify(path.clone(), context, e, waited)
    }

    /// Inserts one alert in its own transaction; returns its id.
    pub fn insert(&mut self, alert: &Alert) -> Result<i64, StoreError> {
        let fail = self.error("inserting an alert");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        let id = {
            let mut stmt = tx.prepare_cached(row::INSERT).map_err(&fail)?;
            row::insert(&mut stmt, alert, &self.policy).map_err(&fail)?
        };
        tx.commit().map_err(&fail)?;
        Ok(id)
    }

    /// Inserts alerts in one transaction: all are stored or none. Returns the count.
    pub fn insert_batch<'a, I>(&mut self, alerts: I) -> Result<u64, StoreError>
    where
        I: IntoIterator<Item = &'a Alert>,
    {
        let fail = self.error("inserting alerts");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        let mut count = 0;
        {
            let mut stmt = tx.prepare_cached(row::INSERT).map_err(&fail)?;
            for alert in alerts {
                row::insert(&mut stmt, alert, &self.policy).map_err(&fail)?;
                count += 1;
            }
        }
        tx.commit().map_err(&fail)?;
        Ok(count)
    }

    /// Deletes alerts older than `days` before `now` and gives the space back to the
    /// filesystem (incremental vacuum, then a WAL checkpoint so the file shrinks).
    /// Returns the number of alerts purged.
    pub fn purge_older_than(&mut self, now: Timestamp, days: u32) -> Result<u64, StoreError> {
        let cutoff = now
            .0
            .saturating_sub(i64::from(days).saturating_mul(MICROS_PER_DAY));
        let fail = self.error("purging expired alerts");
        let mut purged = 0u64;
        loop {
            let n = self
                .conn
                .execute(
                    "DELETE FROM alerts WHERE id IN \
                     (SELECT id FROM alerts WHERE ts_us < ?1 LIMIT ?2)",
                    params![cutoff, PURGE_CHUNK_ROWS],
                )
                .map_err(&fail)?;
            purged += n as u64;
            if n < PURGE_CHUNK_ROWS {
                break;
            }
        }
        if purged > 0 {
            self.reclaim_free_pages()?;
            self.checkpoint()?;
        }
        Ok(purged)
    }

    /// Returns free pages to the filesystem. The pragma yields one row per page freed
    /// and frees only as far as it is stepped, so every row is read.
    fn reclaim_free_pages(&self) -> Result<(), StoreError> {
        let fail = self.error("reclaiming free pages");
        let mut stmt = self
            .conn
            .prepare("PRAGMA incremental_vacuum")
            .map_err(&fail)?;
        let mut rows = stmt.query([]).map_err(&fail)?;
        while rows.next().map_err(&fail)?.is_some() {}
        Ok(())
    }

    /// Copies the WAL into the main file and truncates it (what shrinks the file after
    /// a vacuum). Readers still on old pages make it partial, which is harmless.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.error("checkpointing the WAL"))
    }

    /// Bytes on disk: the file plus its WAL.
    pub fn disk_bytes(&self) -> u64 {
        let len = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        len(&self.path) + len(Path::new(&wal))
    }

    /// Checkpoints and closes.
    pub fn close(self) -> Result<(), StoreError> {
        self.checkpoint()?;
        let fail = self.error("closing");
        self.conn.close().map_err(|(_, e)| fail(e))
    }
}

#[cfg(test)]
pub(crate) mod tests;
