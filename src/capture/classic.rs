//! Classic pcap files (the format tcpdump writes), read without libpcap's per-record
//! copies.
//!
//! libpcap reads a file record by record through stdio: one `fread` for each record
//! header and one for its data, each copied from a 4 KiB stdio buffer into libpcap's own
//! packet buffer. On a capture of small frames that read path costs as much as the
//! rest of a cheap analyzer. This reader reads the file in large chunks and hands out
//! frames borrowed from the chunk: one copy (the kernel's), no call per record.
//!
//! It accepts exactly the files libpcap reads the same way: classic pcap version 2.4,
//! either byte order, microsecond or nanosecond timestamps. Anything else (pcapng,
//! the old swapped-length versions, the "modified" Kuznetzov format) stays with
//! libpcap. Where a record is odd it does what libpcap 1.10 does, so both readers give
//! the same frames and fail at the same record with the same kind of message:
//! - a record longer than the file's snapshot length (but within the link type's
//!   maximum) is cut to the snapshot length and the rest skipped;
//! - a record longer than the maximum is an error (a corrupt file: the next header
//!   cannot be found);
//! - timestamps are signed 32-bit fields; nanoseconds are scaled down to microseconds;
//! - a file ending inside a record is truncated: the frames before it were delivered.

use std::io::{self, Read};

/// Room for unread bytes: far above the largest record ([`MAX_CAPTURED_BYTES`] plus its
/// header), so any record fits whole.
pub const READ_CHUNK_BYTES: usize = 1 << 20;
/// Bytes asked of the kernel per read (more when one record needs it): a few dozen
/// frames, so read calls stay rare, and small enough that the frames are still in the
/// core's L2 cache when the pipeline gets to them. Reading the whole chunk at once
/// (1 MiB, twice this machine's L2) left the first frames evicted by the time they were
/// parsed: about 4 % more CPU on a capture of short connections (benches/README.md).
pub const READ_STEP_BYTES: usize = 64 << 10;
/// libpcap's largest captured length for the link types tamperwatch decodes
/// (`MAXIMUM_SNAPLEN`).
pub const MAX_CAPTURED_BYTES: u32 = 262_144;
/// A classic pcap file header.
pub const FILE_HEADER_BYTES: usize = 24;
/// A record header: seconds, fraction, captured length, wire length.
const RECORD_HEADER_BYTES: usize = 16;
const _: () = assert!(READ_CHUNK_BYTES >= 2 * (MAX_CAPTURED_BYTES as usize + RECORD_HEADER_BYTES));

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// What the file header says about the records that follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassicHeader {
    /// Fields are in the other byte order than the first magic byte suggests.
    big_endian: bool,
    nanos: bool,
    /// The snapshot length records are cut to, as libpcap adjusts it.
    snapshot: u32,
}

impl ClassicHeader {
    /// Parses a file header; `None` for anything this reader leaves to libpcap.
    pub fn parse(bytes: &[u8; FILE_HEADER_BYTES]) -> Option<ClassicHeader> {
        let le =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let (big_endian, nanos) = match le(0) {
            MAGIC_MICROS => (false, false),
            MAGIC_NANOS => (false, true),
            m if m.swap_bytes() == MAGIC_MICROS => (true, false),
            m if m.swap_bytes() == MAGIC_NANOS => (true, true),
            _ => return None,
        };
        let u16_at = |i: usize| {
            let v = u16::from_le_bytes([bytes[i], bytes[i + 1]]);
            if big_endian {
                v.swap_bytes()
            } else {
                v
            }
        };
        // Versions before 2.4 may swap the two lengths; libpcap has rules for those.
        if (u16_at(4), u16_at(6)) != (2, 4) {
            return None;
        }
        let snaplen = if big_endian {
            le(16).swap_bytes()
        } else {
            le(16)
        };
        // libpcap's pcap_adjust_snapshot: zero or too large means the maximum.
        let snapshot = if snaplen == 0 || snaplen > MAX_CAPTURED_BYTES {
            MAX_CAPTURED_BYTES
        } else {
            snaplen
        };
        Some(ClassicHeader {
            big_endian,
            nanos,
            snapshot,
        })
    }

    fn u32_at(self, bytes: &[u8], i: usize) -> u32 {
        let v = u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        if self.big_endian {
            v.swap_bytes()
        } else {
            v
        }
    }
}

/// One record, borrowed from the reader's chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub secs: i64,
    pub micros: i64,
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// Why a record could not be read. The messages are libpcap's.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("truncated dump file; tried to read {wanted} {what}, only got {got}")]
    Truncated {
        wanted: usize,
        what: &'static str,
        got: usize,
    },
    #[error("invalid packet capture length {caplen}, bigger than {limit_name} of {limit}")]
    TooLong {
        caplen: u32,
        limit_name: &'static str,
        limit: u32,
    },
    #[error("error reading dump file: {0}")]
    Io(#[from] io::Error),
}

/// Reads records after the file header from `input`.
#[derive(Debug)]
pub struct ClassicReader<R> {
    input: R,
    header: ClassicHeader,
    /// Allocated on the first read and freed at the end, so many open files waiting
    /// their turn hold no buffer.
    chunk: Vec<u8>,
    start: usize,
    end: usize,
    at_eof: bool,
}

impl<R: Read> ClassicReader<R> {
    /// A reader for `input`, positioned just after a file header that parsed as `header`.
    pub fn new(input: R, header: ClassicHeader) -> Self {
        ClassicReader {
            input,
            header,
            chunk: Vec::new(),
            start: 0,
            end: 0,
            at_eof: false,
        }
    }

    /// The next record, `None` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecordError> {
        let got = self.fill(RECORD_HEADER_BYTES)?;
        if got == 0 {
            self.release();
            return Ok(None);
        }
        if got < RECORD_HEADER_BYTES {
            return Err(RecordError::Truncated {
                wanted: RECORD_HEADER_BYTES,
                what: "header bytes",
                got,
            });
        }
        let h = self.header;
        let head = &self.chunk[self.start..self.start + RECORD_HEADER_BYTES];
        let secs = i64::from(h.u32_at(head, 0) as i32);
        let fraction = i64::from(h.u32_at(head, 4) as i32);
        let caplen = h.u32_at(head, 8);
        let wire_len = h.u32_at(head, 12);
        let micros = if h.nanos { fraction / 1000 } else { fraction };
        if caplen > MAX_CAPTURED_BYTES {
            let (limit_name, limit) = if caplen > h.snapshot {
                ("snaplen", h.snapshot)
            } else {
                ("maximum", MAX_CAPTURED_BYTES)
            };
            return Err(RecordError::TooLong {
                caplen,
                limit_name,
                limit,
            });
        }
        // A record longer than the snapshot length keeps the snapshot length.
        let kept = caplen.min(h.snapshot) as usize;
        let whole = RECORD_HEADER_BYTES + caplen as usize;
        let got = self.fill(whole)?;
        if got < whole {
            return Err(RecordError::Truncated {
                wanted: caplen as usize,
                what: "captured bytes",
                got: got - RECORD_HEADER_BYTES,
            });
        }
        let data_at = self.start + RECORD_HEADER_BYTES;
        self.start += whole;
        Ok(Some(Record {
            secs,
            micros,
            wire_len,
            data: &self.chunk[data_at..data_at + kept],
        }))
    }

    /// Makes at least `want` unread bytes available unless the file ends first;
    /// returns how many are. Inline: twice a record, and almost always the bytes are
    /// there already.
    #[inline]
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        if self.end - self.start >= want || self.at_eof {
            return Ok(self.end - self.start);
        }
        self.refill(want)
    }

    /// [`ClassicReader::fill`]'s slow path: a read from the file.
    #[cold]
    fn refill(&mut self, want: usize) -> io::Result<usize> {
        if self.chunk.is_empty() {
            self.chunk = vec![0; READ_CHUNK_BYTES];
        }
        // Move the unread tail to the front, then top the chunk up.
        self.chunk.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while self.end < want {
            let step = READ_STEP_BYTES.max(want - self.end);
            let stop = (self.end + step).min(self.chunk.len());
            match self.input.read(&mut self.chunk[self.end..stop]) {
                Ok(0) => {
                    self.at_eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    fn release(&mut self) {
        self.chunk = Vec::new();
        self.start = 0;
        self.end = 0;
    }
}

#[cfg(test)]
#[path = "classic_tests.rs"]
mod tests;
