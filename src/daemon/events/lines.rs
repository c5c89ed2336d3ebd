//! Whole EVE lines to the events output, or nothing.
//!
//! A [`Batch`] holds encoded lines and where each ends; [`Output::write_lines`] writes
//! it in one go and, when the write stops part-way (ENOSPC, EIO), cuts the file back
//! to the end of its last whole line so no torn line stays to be merged with the next
//! write. What it returns tells the caller exactly how many events were lost.

use crate::sink::store::address::AddressPolicy;
use std::fs::File;
use std::io::{self, Write};

use crate::detect::alert::Alert;
use crate::sink::events::EveAlert;

/// The open destination.
pub(super) enum Output {
    Stdout(std::io::Stdout),
    File {
        file: File,
        /// A failed write left part of a line that could not be cut off: the next
        /// write starts a new line first, so no two events share a line.
        torn: bool,
    },
}

impl Output {
    /// Writes `batch` and returns how many of its lines are now whole in the output,
    /// with the error that stopped it, if any. On an error the file is cut back to
    /// the end of its last whole line.
    pub(super) fn write_lines(&mut self, batch: &Batch) -> (usize, Option<io::Error>) {
        if let Output::File {
            file,
            torn: torn @ true,
        } = self
        {
            match write_all_counted(file, b"\n") {
                (_, None) => *torn = false,
                (_, Some(e)) => return (0, Some(e)),
            }
        }
        let start = match self {
            Output::Stdout(_) => None,
            Output::File { file, .. } => file.metadata().ok().map(|m| m.len()),
        };
        let (written, error) = write_all_counted(self.writer(), &batch.bytes);
        let error = error.or_else(|| self.writer().flush().err());
        let whole = batch.ends.partition_point(|&end| end <= written);
        let kept = whole.checked_sub(1).map_or(0, |i| batch.ends[i]);
        if error.is_some() && kept < written {
            if let (Output::File { file, torn }, Some(start)) = (&mut *self, start) {
                if let Err(e) = file.set_len(start + kept as u64) {
                    tracing::warn!(error = %e, "events: cannot cut off a partly written line");
                    *torn = true;
                }
            }
        }
        (whole, error)
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::Stdout(out) => out,
            Output::File { file, .. } => file,
        }
    }
}

/// Writes all of `bytes` unless an error stops it; returns the bytes written.
fn write_all_counted(out: &mut dyn Write, bytes: &[u8]) -> (usize, Option<io::Error>) {
    let mut written = 0;
    while written < bytes.len() {
        match out.write(&bytes[written..]) {
            Ok(0) => return (written, Some(io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (written, Some(e)),
        }
    }
    (written, None)
}

/// EVE lines waiting to be written, and where each one ends.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) bytes: Vec<u8>,
    pub(super) ends: Vec<usize>,
}

impl Batch {
    /// Appends one alert's line; `false` (nothing appended) if it cannot be encoded.
    /// Encodes one alert as a line, its source address kept under `policy`.
    pub(super) fn push(&mut self, alert: &Alert, policy: &AddressPolicy) -> bool {
        let start = self.bytes.len();
        let mut eve = EveAlert::of(alert);
        eve.src_ip = policy.apply(alert.src.ip()).text;
        if serde_json::to_writer(&mut self.bytes, &eve).is_err() {
            self.bytes.truncate(start);
            return false;
        }
        self.bytes.push(b'\n');
        self.ends.push(self.bytes.len());
        true
    }

    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}
