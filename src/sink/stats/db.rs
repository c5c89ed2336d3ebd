//! The statistics database: one SQLite row per day × dimension × key.
//!
//! `stats(day TEXT 'YYYY-MM-DD', dimension TEXT, key TEXT, count INTEGER, bytes INTEGER)`.
//! Flushes add counts to existing rows, except the visitor estimate, which keeps the
//! larger of the stored and the new estimate of the day. The schema version lives in
//! `PRAGMA user_version`; a database from a newer version is refused, not rewritten.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags};

use super::aggregate::{dim, Cell};

/// Schema version written by this build.
pub const STATS_SCHEMA_VERSION: i64 = 1;
/// How long a locked database is waited for, in milliseconds.
const BUSY_TIMEOUT_MS: u64 = 2_000;
/// Seconds in a day.
const SECONDS_PER_DAY: i64 = 86_400;

/// Why the statistics database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("stats database {}: {reason}", .path.display())]
    Open { path: PathBuf, reason: String },
    #[error("stats database {}: schema version {found} is newer than this tamperwatch ({STATS_SCHEMA_VERSION}); use a newer tamperwatch", .path.display())]
    Newer { path: PathBuf, found: i64 },
    #[error("stats database {}: {reason}", .path.display())]
    Sql { path: PathBuf, reason: String },
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    pub day: String,
    pub dimension: String,
    pub key: String,
    pub count: u64,
    pub bytes: u64,
}

/// An open statistics database.
pub struct StatsDb {
    conn: Connection,
    path: PathBuf,
}

impl StatsDb {
    /// Opens (creating, mode 0600) the database for recording.
    pub fn create(path: &Path) -> Result<StatsDb, StatsError> {
        let open_err = |reason: String| StatsError::Open {
            path: path.to_owned(),
            reason,
        };
        if !path.exists() {
            crate::sink::privacy::create_private(path).map_err(|e| open_err(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        let db = StatsDb::with(conn, path)?;
        db.conn
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE IF NOT EXISTS stats (
                   day TEXT NOT NULL, dimension TEXT NOT NULL, key TEXT NOT NULL,
                   count INTEGER NOT NULL, bytes INTEGER NOT NULL,
                   PRIMARY KEY (day, dimension, key)) WITHOUT ROWID;
                 PRAGMA user_version = 1;",
            )
            .map_err(|e| db.sql(e))?;
        Ok(db)
    }

    /// Opens an existing database read-only (for reports).
    pub fn open_read_only(path: &Path) -> Result<StatsDb, StatsError> {
        let open_err = |reason: String| StatsError::Open {
            path: path.to_owned(),
            reason,
        };
        if !path.exists() {
            return Err(open_err("no such file".to_owned()));
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| open_err(e.to_string()))?;
        StatsDb::with(conn, path)
    }

    fn with(conn: Connection, path: &Path) -> Result<StatsDb, StatsError> {
        let db = StatsDb {
            conn,
            path: path.to_owned(),
        };
        db.conn
            .busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(|e| db.sql(e))?;
        let version: i64 = db
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db.sql(e))?;
        if version > STATS_SCHEMA_VERSION {
            return Err(StatsError::Newer {
                path: path.to_owned(),
                found: version,
            });
        }
        Ok(db)
    }

    fn sql(&self, e: rusqlite::Error) -> StatsError {
        StatsError::Sql {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// Adds cells (from [`super::aggregate::StatsAggregator::take`]) in one transaction,
    /// then deletes days older than `retention_days` before `today`.
    pub fn flush(
        &mut self,
        cells: &[(i64, &'static str, String, Cell)],
        today: i64,
        retention_days: u32,
    ) -> Result<(), StatsError> {
        let path = self.path.clone();
        let sql = |e: rusqlite::Error| StatsError::Sql {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO stats (day, dimension, key, count, bytes) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (day, dimension, key) DO UPDATE SET
                       count = CASE WHEN dimension = ?6 THEN max(count, excluded.count)
                                    ELSE count + excluded.count END,
                       bytes = bytes + excluded.bytes",
                )
                .map_err(sql)?;
            for (day, dimension, key, cell) in cells {
                add.execute(params![
                    day_text(*day),
                    dimension,
                    key,
                    i64::try_from(cell.count).unwrap_or(i64::MAX),
                    i64::try_from(cell.bytes).unwrap_or(i64::MAX),
                    dim::VISITORS,
                ])
                .map_err(sql)?;
            }
            let oldest = day_text(today - i64::from(retention_days));
            tx.execute("DELETE FROM stats WHERE day < ?1", params![oldest])
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Rows with `from <= day <= to` (both `YYYY-MM-DD`), ordered by day, dimension, key.
    pub fn rows(&self, from: &str, to: &str) -> Result<Vec<StatsRow>, StatsError> {
        let sql = |e: rusqlite::Error| self.sql(e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT day, dimension, key, count, bytes FROM stats
                 WHERE day >= ?1 AND day <= ?2 ORDER BY day, dimension, key",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(StatsRow {
                    day: r.get(0)?,
                    dimension: r.get(1)?,
                    key: r.get(2)?,
                    count: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                    bytes: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                })
            })
            .map_err(sql)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql)?;
        Ok(rows)
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01, UTC).
pub fn day_text(day: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(SECONDS_PER_DAY)) {
        Ok(t) => t.date().to_string(),
        Err(_) => "0000-00-00".to_owned(),
    }
}

/// The day number of the current UTC date.
pub fn today() -> i64 {
    time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .div_euclid(SECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(count: u64, bytes: u64) -> Cell {
        Cell { count, bytes }
    }

    #[test]
    fn flushes_add_counts_keep_the_larger_visitor_estimate_and_expire_old_days() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("stats.db");
        let mut db = StatsDb::create(&path).expect("create");
        let today = 20_000; // 2024-10-04
        let old = today - 500;
        db.flush(
            &[
                (today, dim::REQUESTS, "news".into(), cell(3, 300)),
                (today, dim::VISITORS, String::new(), cell(40, 0)),
                (old, dim::REQUESTS, "news".into(), cell(1, 1)),
            ],
            today,
            400,
        )
        .expect("flush");
        db.flush(
            &[
                (today, dim::REQUESTS, "news".into(), cell(2, 50)),
                (today, dim::VISITORS, String::new(), cell(35, 0)),
            ],
            today,
            400,
        )
        .expect("flush");
        let day = day_text(today);
        assert_eq!(day, "2024-10-04");
        let rows = db.rows("1970-01-01", "2100-01-01").expect("rows");
        assert_eq!(rows.len(), 2, "{rows:?}");
        let news = rows
            .iter()
            .find(|r| r.dimension == dim::REQUESTS)
            .expect("news");
        assert_eq!(
            (news.count, news.bytes, news.day.as_str()),
            (5, 350, day.as_str())
        );
        let visitors = rows
            .iter()
            .find(|r| r.dimension == dim::VISITORS)
            .expect("visitors");
        assert_eq!(visitors.count, 40);
        let mode = std::fs::metadata(&path).expect("meta");
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
    }
}
