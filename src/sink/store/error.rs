//! What can go wrong with the flagged store, as one [`StoreError`] whose one-line
//! `Display` names the store and says what is wrong, and the two places that produce
//! most of them: the path checks made before SQLite sees the file ([`check_file`]) and
//! the mapping of SQLite result codes to errors a person can act on ([`classify`]).
//! No message carries a client address.

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::ErrorCode;

use super::AddressKeyError;

/// Why the store could not be opened, written or read. The `Display` text is the whole
/// story (causes are part of it, not chained), so it prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no flagged store at {}", .path.display())]
    Missing { path: PathBuf },
    #[error("flagged store {} is a directory, not a file", .path.display())]
    IsDirectory { path: PathBuf },
    #[error("cannot open flagged store {}: {cause}", .path.display())]
    Open { path: PathBuf, cause: io::Error },
    #[error("flagged store {}: SQLite cannot open it or its -wal/-shm files (is the directory writable?)", .path.display())]
    CannotOpen { path: PathBuf },
    #[error("flagged store {}: file is not a database", .path.display())]
    NotADatabase { path: PathBuf },
    #[error("flagged store {}: an SQLite database of some other program, not a tamperwatch store", .path.display())]
    Foreign { path: PathBuf },
    #[error("flagged store {}: schema version {found} is newer than this tamperwatch ({supported})", .path.display())]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("flagged store {}: locked by another process (gave up after {} ms)", .path.display(), .waited.as_millis())]
    Locked { path: PathBuf, waited: Duration },
    #[error("flagged store {}: read-only (check the permissions of the file and its directory)", .path.display())]
    ReadOnly { path: PathBuf },
    #[error("flagged store {}: disk full", .path.display())]
    DiskFull { path: PathBuf },
    #[error("flagged store {}: WAL journal unavailable (mode stays `{mode}`); is it on a network filesystem?", .path.display())]
    NoWal { path: PathBuf, mode: String },
    #[error("flagged store {}: {context}: {cause}", .path.display())]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        cause: rusqlite::Error,
    },
    #[error("flagged store {}: no alert with id {id}", .path.display())]
    NoSuchAlert { path: PathBuf, id: i64 },
    #[error(transparent)]
    AddressKey(#[from] AddressKeyError),
    #[error("writing output: {0}")]
    Output(io::Error),
    #[error("cannot start the flagged store writer thread: {0}")]
    Spawn(io::Error),
    #[error("flagged store writer has stopped")]
    WriterStopped,
}

impl StoreError {
    /// Whether this is output going to a reader that left (`flagged export | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, StoreError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Checks the path before SQLite sees it, so the common mistakes get their own message
/// (SQLite would say "unable to open database file" for all of them); makes a missing
/// file with mode 0600 when `create`.
pub(super) fn check_file(path: &Path, create: bool) -> Result<(), StoreError> {
    let open_err = |cause| StoreError::Open {
        path: path.to_owned(),
        cause,
    };
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(StoreError::IsDirectory {
            path: path.to_owned(),
        }),
        Ok(_) => fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map(drop)
            .map_err(open_err),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !create => Err(StoreError::Missing {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(open_err(e)),
            }
        }
        Err(e) => Err(open_err(e)),
    }
}

/// Turns an SQLite failure into the error a person can act on.
pub(super) fn classify(
    path: PathBuf,
    context: &'static str,
    e: rusqlite::Error,
    waited: Duration,
) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path, waited }
        }
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
        Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
        Some(ErrorCode::CannotOpen) => StoreError::CannotOpen { path },
        _ => StoreError::Sqlite {
            path,
            context,
            cause: e,
        },
    }
}
