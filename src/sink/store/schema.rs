//! The store's on-disk layout: pragmas fixed at creation, and ordered migrations.
//!
//! A store is recognised by `PRAGMA application_id` ([`APPLICATION_ID`]); its layout
//! version is `PRAGMA user_version`. [`MIGRATIONS`]`[i]` takes a store from version `i`
//! to `i + 1`; all pending steps run in one `IMMEDIATE` transaction, so a store is
//! never left half-migrated. A store newer than [`SCHEMA_VERSION`] is refused, never
//! downgraded.
//!
//! Durability: the store runs in WAL mode with `synchronous = FULL`. In WAL mode
//! `NORMAL` already survives a crash of the process, but a commit can be rolled back by
//! a power loss until the next checkpoint; since the writer reports rows as stored only
//! once committed, `FULL` (one WAL fsync per commit) makes that report true across power
//! loss as well. Commits are batched (see the writer), so the fsync is paid a few times
//! a second at most, not once per alert.

use rusqlite::{Connection, TransactionBehavior};

/// `PRAGMA application_id` of a flagged store: "twfl".
pub const APPLICATION_ID: i32 = 0x7477_666c;

/// Every migration, in order: index `i` takes version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1_ALERTS, V2_HOSTS];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Version 1: one row per alert, every field of the EVE event.
const V1_ALERTS: &str = "
CREATE TABLE alerts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused after a purge
    ts_us               INTEGER NOT NULL, -- microseconds since the epoch (range queries)
    timestamp           TEXT    NOT NULL, -- the EVE text of the same instant
    flow_id             INTEGER NOT NULL, -- u64 stored bit for bit
    src_ip              TEXT    NOT NULL, -- after the address mode: address, network or token
    src_key             BLOB,             -- 16-byte IPv6 (IPv4-mapped) form; NULL when hashed
    src_mode            TEXT    NOT NULL, -- keep | truncate | hash
    src_port            INTEGER NOT NULL,
    dest_ip             TEXT    NOT NULL,
    dest_port           INTEGER NOT NULL,
    signature_id        INTEGER NOT NULL,
    rule                TEXT    NOT NULL,
    signature           TEXT    NOT NULL,
    category            TEXT    NOT NULL,
    severity            INTEGER NOT NULL,
    http_hostname       TEXT,
    http_url            TEXT,             -- NULL: the alert carried no HTTP metadata
    http_method         TEXT,
    http_status         INTEGER,
    http_user_agent     TEXT,
    http_length         INTEGER,
    upload_filename     TEXT,
    upload_content_type TEXT,
    upload_detected     TEXT,             -- NULL: the alert carried no upload
    upload_size         INTEGER,
    evidence            TEXT    NOT NULL
) STRICT;
CREATE INDEX alerts_time ON alerts (ts_us);
CREATE INDEX alerts_category ON alerts (category, ts_us);
CREATE INDEX alerts_rule ON alerts (rule, ts_us);
CREATE INDEX alerts_signature ON alerts (signature_id, ts_us);
CREATE INDEX alerts_src ON alerts (src_key) WHERE src_key IS NOT NULL;
";

/// Version 2: where an alert came from, for a central store fed by `flagged import`.
/// `host` is NULL for alerts this machine's own daemon or replay recorded; an imported
/// row carries the sending host's name and `import_key`, a SHA-256 over the host and
/// the canonical (trimmed) EVE line, unique, so importing a line twice adds one row.
const V2_HOSTS: &str = "
ALTER TABLE alerts ADD COLUMN host TEXT;
ALTER TABLE alerts ADD COLUMN import_key BLOB;
CREATE UNIQUE INDEX alerts_import ON alerts (import_key) WHERE import_key IS NOT NULL;
CREATE INDEX alerts_host ON alerts (host, ts_us) WHERE host IS NOT NULL;
";

/// What `open` found in the file before touching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// An empty database (a new or zero-length file): ours to lay out.
    Empty,
    /// A flagged store at this schema version.
    Store { version: u32 },
    /// Some other SQLite database.
    Foreign,
}

/// Reads the identity pragmas. The first read of a file is where SQLite notices that
/// it is not a database, or that another process holds a lock.
pub fn inspect(conn: &Connection) -> rusqlite::Result<Found> {
    let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if app == APPLICATION_ID {
        return Ok(Found::Store {
            version: u32::try_from(version).unwrap_or(0),
        });
    }
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    Ok(if app == 0 && version == 0 && objects == 0 {
        Found::Empty
    } else {
        Found::Foreign
    })
}

/// Lays out an empty database: incremental auto-vacuum must be chosen before the first
/// table exists (afterwards it takes a full `VACUUM`), so it is set here, first.
pub fn prepare_empty(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    Ok(())
}

/// Switches to WAL and sets the durability level; returns the journal mode in force.
pub fn set_pragmas(conn: &Connection) -> rusqlite::Result<String> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(mode)
}

/// Applies every pending migration in one transaction; returns the version reached.
/// The version is re-read inside the transaction, so two processes opening one store at
/// once migrate it exactly once.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(current) {
        tx.execute_batch(step)?;
    }
    if current < MIGRATIONS.len() {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_to_the_current_version() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        assert_eq!(inspect(&conn).expect("inspect"), Found::Empty);
        prepare_empty(&conn).expect("prepare");
        assert_eq!(migrate(&mut conn).expect("migrate"), SCHEMA_VERSION);
        assert_eq!(
            inspect(&conn).expect("inspect"),
            Found::Store {
                version: SCHEMA_VERSION
            }
        );
        let auto_vacuum: i64 = conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .expect("auto_vacuum");
        assert_eq!(auto_vacuum, 2, "2 = INCREMENTAL");
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        migrate(&mut conn).expect("first");
        migrate(&mut conn).expect("second");
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'alerts'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(tables, 1);
    }

    #[test]
    fn upgrades_a_version_1_store_keeping_its_rows() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch(V1_ALERTS).expect("v1");
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .expect("app id");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        conn.execute(
            "INSERT INTO alerts (ts_us, timestamp, flow_id, src_ip, src_mode, src_port, \
             dest_ip, dest_port, signature_id, rule, signature, category, severity, evidence) \
             VALUES (1, 't', 1, '192.0.2.1', 'keep', 1, '192.0.2.2', 80, 1, 'r', 's', \
             'recon', 3, 'e')",
            [],
        )
        .expect("v1 row");
        assert_eq!(migrate(&mut conn).expect("migrate"), 2);
        let host: Option<String> = conn
            .query_row("SELECT host FROM alerts", [], |r| r.get(0))
            .expect("row kept");
        assert_eq!(host, None, "a row recorded locally has no host");
    }

    #[test]
    fn recognises_a_foreign_database() {
        let conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch("CREATE TABLE t (x)").expect("create");
        assert_eq!(inspect(&conn).expect("inspect"), Found::Foreign);
    }
}
