//! `tamperwatch flagged import`: EVE lines from other hosts into one central store.
//!
//! Each file is read line by line (a line is at most [`MAX_LINE_BYTES`]); a good line
//! becomes one row with its `host`, a bad one is counted and named by file:line, never
//! half-stored. Rows are committed every [`IMPORT_BATCH_LINES`] lines, so a row is a whole
//! line or nothing. Each row carries `import_key`, a SHA-256 over the host and the line as
//! stored (canonical EVE, after trimming), unique in the store: importing the same line
//! again, from a re-read or an overlapping file, adds nothing. A last line without its
//! newline is a line still being written by the collector; it is left for the next import.
//!
//! The host of a line is, first, `--host`; else the line's own `host` field (a line from
//! `flagged export` of another central store); else the file's name without its
//! extension (the collector writes `HOSTNAME.jsonl`). Timestamps are stored as the host
//! wrote them: a host whose clock is wrong shows wrong times; nothing is corrected.

mod line;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rusqlite::TransactionBehavior;
use sha2::{Digest, Sha256};

pub use line::{parse_line, valid_host, ImportedLine, LineError, Source};

use super::address::{AddressMode, KeptAddress};
use super::row::{self, ImportedOrigin};
use super::{FlaggedStore, StoreError};
use crate::sink::events::EveAlert;

/// Longest line read; a longer one is a bad line (EVE alerts are a few KiB at most).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Lines per transaction.
pub const IMPORT_BATCH_LINES: usize = 5_000;
/// Bad lines named one by one per file; beyond this they are only counted.
pub const MAX_REPORTED_BAD_LINES: usize = 20;

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: cannot read: {cause}", .path.display())]
    Read { path: PathBuf, cause: io::Error },
    #[error("{}: not EVE JSON: none of its {lines} lines is an EVE alert (line {first_line}: {reason})", .path.display())]
    NotEve {
        path: PathBuf,
        lines: u64,
        first_line: u64,
        reason: LineError,
    },
    #[error("{}: `{host}` is not a host name (letters, digits, . - _ : only); give one with --host", .path.display())]
    Host { path: PathBuf, host: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What importing one file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub path: PathBuf,
    /// Non-empty complete lines read.
    pub lines: u64,
    /// Rows added.
    pub imported: u64,
    /// Lines already in the store (same host, same line).
    pub duplicates: u64,
    /// Lines refused.
    pub bad: u64,
    /// The first [`MAX_REPORTED_BAD_LINES`] refused lines: line number and reason.
    pub bad_lines: Vec<(u64, LineError)>,
    /// Lines stored after dropping or trimming a field (privacy rules).
    pub trimmed: u64,
    /// Whether the file ended in a line without its newline (left for the next import).
    pub incomplete_tail: bool,
}

impl ImportReport {
    /// Counts a refused line; keeps the first for [`ImportError::NotEve`] and the
    /// first [`MAX_REPORTED_BAD_LINES`] for the report.
    fn refuse(&mut self, first: &mut Option<(u64, LineError)>, number: u64, reason: LineError) {
        self.bad += 1;
        if first.is_none() {
            *first = Some((number, reason.clone()));
        }
        if self.bad_lines.len() < MAX_REPORTED_BAD_LINES {
            self.bad_lines.push((number, reason));
        }
    }
}

/// The default host of a file: its name without the extension.
pub fn host_of_file(path: &Path) -> Option<String> {
    path.file_stem().and_then(|s| s.to_str()).map(str::to_owned)
}

/// The unique key of a line from `host`: SHA-256 over the host and the canonical line.
fn import_key(host: &str, line: &ImportedLine) -> Vec<u8> {
    let mut eve = EveAlert::of(&line.alert);
    if let Source::Token(t) = &line.source {
        eve.src_ip.clone_from(t);
    }
    let mut hasher = Sha256::new();
    hasher.update(host.as_bytes());
    hasher.update([0]);
    // Serialising a struct of strings and numbers cannot fail; an empty body would
    // still give a key unique to the host.
    hasher.update(serde_json::to_vec(&eve).unwrap_or_default());
    hasher.finalize().to_vec()
}

/// One line read from a file, bounded.
enum RawLine {
    Complete(Vec<u8>),
    TooLong,
    /// The end of the file came before a newline.
    Tail,
    End,
}

fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<RawLine> {
    buf.clear();
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
    let n = reader.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(RawLine::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(RawLine::Complete(std::mem::take(buf)));
    }
    if buf.len() > MAX_LINE_BYTES {
        // Skip the rest of the long line.
        let mut sink = Vec::new();
        loop {
            sink.clear();
            let n = reader.by_ref().take(limit).read_until(b'\n', &mut sink)?;
            if n == 0 || sink.last() == Some(&b'\n') {
                break;
            }
        }
        return Ok(RawLine::TooLong);
    }
    Ok(RawLine::Tail)
}

impl FlaggedStore {
    /// Imports one file of EVE lines; `host` overrides every line's host. A file with
    /// lines but no EVE alert among them is [`ImportError::NotEve`] and adds nothing.
    pub fn import_file(
        &mut self,
        path: &Path,
        host: Option<&str>,
    ) -> Result<ImportReport, ImportError> {
        let read_err = |cause| ImportError::Read {
            path: path.to_owned(),
            cause,
        };
        let file_host = match host {
            Some(h) => Some(h.to_owned()),
            None => host_of_file(path),
        };
        // Checked up front only when it is sure to be used for every line.
        if let Some(h) = host {
            if !valid_host(h) {
                return Err(ImportError::Host {
                    path: path.to_owned(),
                    host: h.to_owned(),
                });
            }
        }
        let file = File::open(path).map_err(read_err)?;
        let mut reader = BufReader::new(file);
        let mut report = ImportReport {
            path: path.to_owned(),
            ..ImportReport::default()
        };
        let mut first_bad: Option<(u64, LineError)> = None;
        let mut buf = Vec::new();
        let mut number = 0u64;
        let mut batch: Vec<(ImportedLine, String)> = Vec::new();
        loop {
            let raw = read_line(&mut reader, &mut buf).map_err(read_err)?;
            let text = match raw {
                RawLine::End => break,
                RawLine::Tail => {
                    report.incomplete_tail = true;
                    break;
                }
                RawLine::TooLong => {
                    number += 1;
                    report.lines += 1;
                    report.refuse(&mut first_bad, number, LineError::TooLong(MAX_LINE_BYTES));
                    continue;
                }
                RawLine::Complete(bytes) => bytes,
            };
            number += 1;
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            report.lines += 1;
            let parsed = std::str::from_utf8(&text)
                .map_err(|_| LineError::NotUtf8)
                .and_then(|t| parse_line(t.trim_end_matches('\r')));
            let line = match parsed {
                Ok(l) => l,
                Err(e) => {
                    report.refuse(&mut first_bad, number, e);
                    continue;
                }
            };
            let line_host = match (host, &line.host, &file_host) {
                (Some(h), _, _) => h.to_owned(),
                (None, Some(h), _) => h.clone(),
                (None, None, Some(h)) if valid_host(h) => h.clone(),
                (None, None, other) => {
                    return Err(ImportError::Host {
                        path: path.to_owned(),
                        host: other.clone().unwrap_or_default(),
                    })
                }
            };
            batch.push((line, line_host));
            if batch.len() >= IMPORT_BATCH_LINES {
                self.commit_imported(&mut batch, &mut report)?;
            }
        }
        self.commit_imported(&mut batch, &mut report)?;
        if report.imported + report.duplicates == 0 {
            if let Some((first_line, reason)) = first_bad {
                return Err(ImportError::NotEve {
                    path: path.to_owned(),
                    lines: report.lines,
                    first_line,
                    reason,
                });
            }
        }
        Ok(report)
    }

    /// Stores a batch in one transaction: every line of it or none.
    fn commit_imported(
        &mut self,
        batch: &mut Vec<(ImportedLine, String)>,
        report: &mut ImportReport,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let fail = self.error("importing alerts");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        let (mut added, mut seen, mut trimmed) = (0u64, 0u64, 0u64);
        {
            let mut stmt = tx.prepare_cached(row::INSERT_IMPORTED).map_err(&fail)?;
            for (line, host) in batch.iter() {
                let (src, src_mode) = match &line.source {
                    Source::Ip(ip) => (self.policy.apply(*ip), self.policy.mode()),
                    Source::Token(t) => (
                        KeptAddress {
                            text: t.clone(),
                            range_key: None,
                        },
                        AddressMode::Hash,
                    ),
                };
                let key = import_key(host, line);
                let origin = ImportedOrigin {
                    src: &src,
                    src_mode,
                    host,
                    import_key: &key,
                };
                if row::insert_imported(&mut stmt, &line.alert, &origin).map_err(&fail)? {
                    added += 1;
                    trimmed += u64::from(line.trimmed);
                } else {
                    seen += 1;
                }
            }
        }
        tx.commit().map_err(&fail)?;
        report.imported += added;
        report.duplicates += seen;
        report.trimmed += trimmed;
        batch.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
