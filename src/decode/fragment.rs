//! IP fragment reassembly, bounded in bytes, datagrams and time, linear in fragments.
//!
//! Fragments are rare on a web host, but an attacker can fragment on purpose (to slip a
//! request past a monitor that ignores fragments) or flood fragments to exhaust memory.
//! So reassembly must accept every fragment Linux would, cost the same per fragment
//! whatever their order, and hold only what arrived: each datagram keeps its received
//! pieces (never a 64 KiB buffer up front), all datagrams together stay within
//! [`MAX_FRAGMENT_BYTES`], at most [`MAX_DATAGRAMS_IN_PROGRESS`] are open, and datagrams
//! older than [`FRAGMENT_TIMEOUT_SECS`] are dropped (RFC 791 suggests 15 s; Linux 30 s).
//!
//! Overlaps follow Linux: the first copy of any byte wins. Every overlap is counted, and
//! an overlap whose bytes differ (an evasion attempt: two readings of one datagram) is
//! counted apart.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::DecodeError;

/// A datagram in progress is dropped this long after its first fragment.
pub const FRAGMENT_TIMEOUT_SECS: u64 = 30;
/// At most this many datagrams are reassembled at once.
pub const MAX_DATAGRAMS_IN_PROGRESS: usize = 1024;
/// Payload bytes held by all datagrams in progress together.
pub const MAX_FRAGMENT_BYTES: usize = 4 << 20;
/// The largest datagram IP can carry.
const MAX_DATAGRAM_BYTES: u32 = 65_535;
/// Pieces one datagram may be made of (8-byte fragments of the largest datagram).
const MAX_PIECES_PER_DATAGRAM: usize = (MAX_DATAGRAM_BYTES as usize).div_ceil(8);

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

/// What a held piece costs beyond its bytes (map node, vector header), charged to the
/// budget so a flood of 8-byte fragments cannot hide behind its small payloads.
const PIECE_OVERHEAD_BYTES: usize = 64;

#[derive(Debug)]
struct Datagram {
    first_seen_secs: u64,
    /// Received pieces by offset, never overlapping.
    pieces: BTreeMap<u32, Vec<u8>>,
    /// Payload bytes held (the sum of the pieces' lengths).
    held: u32,
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
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FragmentStats {
    pub fragments: u64,
    pub reassembled: u64,
    pub timed_out: u64,
    /// New datagrams refused because [`MAX_DATAGRAMS_IN_PROGRESS`] were open.
    pub dropped_over_limit: u64,
    /// Fragments refused because [`MAX_FRAGMENT_BYTES`] were held.
    pub dropped_over_memory: u64,
    /// Fragments that overlapped bytes already received (first copy kept).
    pub overlaps: u64,
    /// Overlaps whose bytes differed from the first copy.
    pub overlap_conflicts: u64,
    /// Datagrams dropped as inconsistent (two ends, bytes past the end).
    pub inconsistent: u64,
}

/// Sums workers' defragmenter counters into a run's.
impl std::ops::AddAssign for FragmentStats {
    // Every field named: a counter added to the struct and not summed does not compile.
    fn add_assign(&mut self, o: FragmentStats) {
        let FragmentStats {
            fragments,
            reassembled,
            timed_out,
            dropped_over_limit,
            dropped_over_memory,
            overlaps,
            overlap_conflicts,
            inconsistent,
        } = o;
        self.fragments += fragments;
        self.reassembled += reassembled;
        self.timed_out += timed_out;
        self.dropped_over_limit += dropped_over_limit;
        self.dropped_over_memory += dropped_over_memory;
        self.overlaps += overlaps;
        self.overlap_conflicts += overlap_conflicts;
        self.inconsistent += inconsistent;
    }
}

/// Reassembles IP fragments (first copy of any byte wins, as Linux does).
#[derive(Debug, Default)]
pub struct Defragmenter {
    in_progress: HashMap<DatagramKey, Datagram, ahash::RandomState>,
    held_bytes: usize,
    last_expire_secs: u64,
    pub stats: FragmentStats,
}

impl Defragmenter {
    /// Payload bytes held by the datagrams in progress.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Datagrams in progress.
    pub fn in_progress(&self) -> usize {
        self.in_progress.len()
    }

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
        if now_secs > self.last_expire_secs {
            self.expire(now_secs);
        }
        let key = DatagramKey {
            src: frag.src,
            dst: frag.dst,
            id: frag.id,
            protocol: frag.protocol,
        };
        if !self.in_progress.contains_key(&key)
            && self.in_progress.len() >= MAX_DATAGRAMS_IN_PROGRESS
        {
            self.stats.dropped_over_limit += 1;
            return Err(DecodeError::BadFragment);
        }
        if self.held_bytes + len as usize + PIECE_OVERHEAD_BYTES > MAX_FRAGMENT_BYTES {
            self.stats.dropped_over_memory += 1;
            return Err(DecodeError::BadFragment);
        }
        let datagram = self.in_progress.entry(key).or_insert_with(|| Datagram {
            first_seen_secs: now_secs,
            pieces: BTreeMap::new(),
            held: 0,
            total_len: None,
        });
        let consistent = if frag.more_fragments {
            datagram.total_len.map_or(true, |t| end <= t)
        } else {
            datagram.total_len.map_or(true, |t| t == end)
                && datagram
                    .pieces
                    .last_key_value()
                    .map_or(true, |(s, d)| *s as usize + d.len() <= end as usize)
        };
        if !consistent {
            self.drop_datagram(&key);
            self.stats.inconsistent += 1;
            return Err(DecodeError::BadFragment);
        }
        let Some(datagram) = self.in_progress.get_mut(&key) else {
            return Ok(None);
        };
        if !frag.more_fragments {
            datagram.total_len = Some(end);
        }
        let (added, new_pieces) = add_piece(datagram, frag.payload, start, &mut self.stats)?;
        datagram.held += added;
        self.held_bytes += added as usize + new_pieces * PIECE_OVERHEAD_BYTES;
        let complete = datagram.total_len == Some(datagram.held);
        if !complete {
            return Ok(None);
        }
        let Some(done) = self.in_progress.remove(&key) else {
            return Ok(None);
        };
        self.held_bytes -= charge(&done);
        self.stats.reassembled += 1;
        let mut payload = Vec::with_capacity(done.held as usize);
        for piece in done.pieces.values() {
            payload.extend_from_slice(piece);
        }
        Ok(Some(Reassembled {
            src: key.src,
            dst: key.dst,
            protocol: key.protocol,
            payload,
        }))
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now_secs: u64) {
        self.last_expire_secs = now_secs;
        let before = self.in_progress.len();
        let mut freed = 0usize;
        self.in_progress.retain(|_, d| {
            let keep = now_secs.saturating_sub(d.first_seen_secs) < FRAGMENT_TIMEOUT_SECS;
            if !keep {
                freed += charge(d);
            }
            keep
        });
        self.held_bytes -= freed;
        self.stats.timed_out += (before - self.in_progress.len()) as u64;
    }

    fn drop_datagram(&mut self, key: &DatagramKey) {
        if let Some(d) = self.in_progress.remove(key) {
            self.held_bytes -= charge(&d);
        }
    }
}

/// What a datagram in progress costs the byte budget.
fn charge(d: &Datagram) -> usize {
    d.held as usize + d.pieces.len() * PIECE_OVERHEAD_BYTES
}

/// Stores the bytes of `payload` (at `start`) not yet received, first copy winning;
/// returns the new bytes stored and the pieces added. Cost: a map lookup plus the
/// pieces the fragment overlaps, whatever order fragments arrive in.
fn add_piece(
    datagram: &mut Datagram,
    payload: &[u8],
    start: u32,
    stats: &mut FragmentStats,
) -> Result<(u32, usize), DecodeError> {
    let end = start + payload.len() as u32;
    let pieces = &mut datagram.pieces;
    let mut cursor = start;
    let mut added = 0u32;
    let mut new_pieces = 0usize;
    let mut overlapped = false;
    let mut conflict = false;
    while cursor < end {
        // The piece covering `cursor`, if any, else the next one after it.
        let covering = pieces
            .range(..=cursor)
            .next_back()
            .filter(|(s, d)| **s as usize + d.len() > cursor as usize)
            .map(|(s, d)| (*s, d.len() as u32));
        if let Some((piece_start, piece_len)) = covering {
            let overlap_end = (piece_start + piece_len).min(end);
            let ours = &payload[(cursor - start) as usize..(overlap_end - start) as usize];
            let theirs = pieces
                .get(&piece_start)
                .map(|d| &d[(cursor - piece_start) as usize..(overlap_end - piece_start) as usize]);
            overlapped = true;
            conflict |= theirs != Some(ours);
            cursor = overlap_end;
            continue;
        }
        let next_start = pieces
            .range(cursor..)
            .next()
            .map_or(end, |(s, _)| (*s).min(end));
        if pieces.len() >= MAX_PIECES_PER_DATAGRAM {
            return Err(DecodeError::BadFragment);
        }
        let bytes = &payload[(cursor - start) as usize..(next_start - start) as usize];
        // In-order arrival extends the piece before instead of adding one.
        let before = pieces
            .range_mut(..cursor)
            .next_back()
            .filter(|(s, d)| **s as usize + d.len() == cursor as usize);
        if let Some((_, data)) = before {
            data.extend_from_slice(bytes);
        } else {
            pieces.insert(cursor, bytes.to_vec());
            new_pieces += 1;
        }
        added += next_start - cursor;
        cursor = next_start;
    }
    if overlapped {
        stats.overlaps += 1;
    }
    if conflict {
        stats.overlap_conflicts += 1;
    }
    Ok((added, new_pieces))
}

#[cfg(test)]
mod tests;
