//! IP fragment reassembly, bounded in bytes, datagrams and time.
//!
//! Fragments are rare on a web host, so reassembly may allocate; what it must not do is
//! grow without bound under a fragment flood. Each datagram is capped at the IP maximum
//! (65 535 bytes), the number of datagrams in progress is capped, and datagrams older
//! than [`FRAGMENT_TIMEOUT_SECS`] are dropped (RFC 791 suggests 15 s; Linux uses 30 s).

use std::collections::HashMap;
use std::net::IpAddr;

use super::DecodeError;

/// A datagram in progress is dropped this long after its first fragment.
pub const FRAGMENT_TIMEOUT_SECS: u64 = 30;
/// At most this many datagrams are reassembled at once.
pub const MAX_DATAGRAMS_IN_PROGRESS: usize = 1024;
/// The largest datagram IP can carry.
const MAX_DATAGRAM_BYTES: u32 = 65_535;

/// One IPv4 or IPv6 fragment, borrowed from the capture buffer.
#[derive(Debug, Clone, Copy)]
pub struct FragmentView<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub protocol: u8,
    pub offset_bytes: u32,
    pub more_fragments: bool,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DatagramKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
}

#[derive(Debug)]
struct Datagram {
    first_seen_secs: u64,
    data: Vec<u8>,
    /// Byte ranges received, kept sorted and merged.
    have: Vec<(u32, u32)>,
    total_len: Option<u32>,
}

/// A reassembled datagram: the transport protocol and its owned payload.
#[derive(Debug)]
pub struct Reassembled {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub payload: Vec<u8>,
}

/// Counters kept by the defragmenter.
#[derive(Debug, Default, Clone, Copy)]
pub struct FragmentStats {
    pub fragments: u64,
    pub reassembled: u64,
    pub timed_out: u64,
    pub dropped_over_limit: u64,
}

/// Reassembles IP fragments (first copy of any byte wins, as Linux does).
#[derive(Debug, Default)]
pub struct Defragmenter {
    in_progress: HashMap<DatagramKey, Datagram, ahash::RandomState>,
    pub stats: FragmentStats,
}

impl Defragmenter {
    /// Adds one fragment; returns the whole datagram once every byte has arrived.
    pub fn insert(
        &mut self,
        frag: &FragmentView<'_>,
        now_secs: u64,
    ) -> Result<Option<Reassembled>, DecodeError> {
        self.stats.fragments += 1;
        let start = frag.offset_bytes;
        let len = u32::try_from(frag.payload.len()).map_err(|_| DecodeError::BadFragment)?;
        let end = start.checked_add(len).ok_or(DecodeError::BadFragment)?;
        if end > MAX_DATAGRAM_BYTES || (frag.more_fragments && len % 8 != 0) {
            return Err(DecodeError::BadFragment);
        }
        let key = DatagramKey {
            src: frag.src,
            dst: frag.dst,
            id: frag.id,
            protocol: frag.protocol,
        };
        if !self.in_progress.contains_key(&key) {
            self.expire(now_secs);
            if self.in_progress.len() >= MAX_DATAGRAMS_IN_PROGRESS {
                self.stats.dropped_over_limit += 1;
                return Err(DecodeError::BadFragment);
            }
        }
        let datagram = self.in_progress.entry(key).or_insert_with(|| Datagram {
            first_seen_secs: now_secs,
            data: Vec::new(),
            have: Vec::new(),
            total_len: None,
        });
        if !frag.more_fragments {
            if datagram.total_len.is_some_and(|t| t != end) {
                self.in_progress.remove(&key);
                return Err(DecodeError::BadFragment);
            }
            datagram.total_len = Some(end);
        }
        if datagram.data.len() < end as usize {
            datagram.data.resize(end as usize, 0);
        }
        // First copy wins: write only the bytes not yet received.
        let mut cursor = start;
        for &(have_start, have_end) in &datagram.have {
            if have_end <= cursor || have_start >= end {
                continue;
            }
            if have_start > cursor {
                copy_range(&mut datagram.data, frag, start, cursor, have_start);
            }
            cursor = cursor.max(have_end);
        }
        if cursor < end {
            copy_range(&mut datagram.data, frag, start, cursor, end);
        }
        merge_range(&mut datagram.have, start, end);
        let complete = matches!(
            (datagram.total_len, datagram.have.as_slice()),
            (Some(total), [(0, have_end)]) if *have_end >= total
        );
        if !complete {
            return Ok(None);
        }
        let Some(done) = self.in_progress.remove(&key) else {
            return Ok(None);
        };
        self.stats.reassembled += 1;
        let mut payload = done.data;
        payload.truncate(done.total_len.unwrap_or(0) as usize);
        Ok(Some(Reassembled {
            src: key.src,
            dst: key.dst,
            protocol: key.protocol,
            payload,
        }))
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now_secs: u64) {
        let before = self.in_progress.len();
        self.in_progress
            .retain(|_, d| now_secs.saturating_sub(d.first_seen_secs) < FRAGMENT_TIMEOUT_SECS);
        self.stats.timed_out += (before - self.in_progress.len()) as u64;
    }
}

fn copy_range(data: &mut [u8], frag: &FragmentView<'_>, frag_start: u32, from: u32, to: u32) {
    let src = &frag.payload[(from - frag_start) as usize..(to - frag_start) as usize];
    data[from as usize..to as usize].copy_from_slice(src);
}

fn merge_range(ranges: &mut Vec<(u32, u32)>, start: u32, end: u32) {
    ranges.push((start, end));
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged;
}
