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
//! Odd lengths and overlaps follow Linux (`ip_frag_queue`, `inet_frag_queue_insert`,
//! since 4.19), as a kernel-backed test checks (tests/fragment_parity.rs):
//! - an IPv4 fragment with more to follow whose length is not a multiple of 8 is cut
//!   down to one (RFC 791 asks for multiples; Linux trims rather than drops, so dropping
//!   it would lose a datagram the server gets); cut down to nothing, it discards the
//!   whole datagram. (IPv6 drops such a fragment alone, RFC 8200.)
//! - received fragments form runs: a fragment that starts where the last run ends
//!   extends it, any other starts a run of its own. A fragment inside one run is a
//!   duplicate and is ignored, whatever its bytes; a fragment that overlaps received
//!   bytes in any other way discards the whole datagram (RFC 5722, which Linux applies
//!   to IPv4 too). Reading overlaps any other way, e.g. first copy wins, would show the
//!   monitor a datagram the server never accepted.
//!
//! Every overlap is counted, and one whose bytes differ from what was received (an
//! evasion attempt: two readings of one datagram) is counted apart.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::DecodeError;

/// A datagram in progress is dropped this long after its first fragment.
pub const FRAGMENT_TIMEOUT_SECS: u64 = 30;
/// At most this many datagrams are reassembled at once: twice what Linux holds of
/// one-fragment datagrams within its default 4 MiB ([`LINUX_TINY_DATAGRAMS_HELD`]), so a
/// cheap flood of incomplete datagrams cannot fill the monitor while the server still
/// takes new fragmented requests.
pub const MAX_DATAGRAMS_IN_PROGRESS: usize = 8192;
/// Bytes charged for all datagrams in progress together: Linux's default
/// `net.ipv4.ipfrag_high_thresh` (per network namespace; here per worker).
pub const MAX_FRAGMENT_BYTES: usize = 4 << 20;
/// Incomplete datagrams of one 8-byte fragment each a Linux 6.18 host kept before its
/// 4 MiB filled (`FRAG: inuse 4065 memory 4195080` in /proc/net/sockstat, fragments
/// received on a veth: 1,032 bytes of socket-buffer truesize each).
pub const LINUX_TINY_DATAGRAMS_HELD: usize = 4065;
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

/// What a held piece costs beyond its bytes, charged to the budget so a flood of 8-byte
/// fragments cannot hide behind its small payloads: about half of Linux's per-fragment
/// charge (1,032 bytes for an 8-byte fragment, [`LINUX_TINY_DATAGRAMS_HELD`]), so the
/// monitor fills after the kernel does, never before. (What a piece really costs here,
/// map node and vector, is under 200 bytes.)
const PIECE_OVERHEAD_BYTES: usize = 504;
const _: () =
    assert!(MAX_FRAGMENT_BYTES / (8 + PIECE_OVERHEAD_BYTES) >= 2 * LINUX_TINY_DATAGRAMS_HELD);
const _: () = assert!(MAX_DATAGRAMS_IN_PROGRESS >= 2 * LINUX_TINY_DATAGRAMS_HELD);

#[derive(Debug)]
struct Datagram {
    first_seen_secs: u64,
    /// Received runs by offset, never overlapping: Linux's runs, so duplicates and
    /// overlaps are told apart as Linux tells them.
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
    /// Fragments that overlapped bytes already received: inside one run, ignored;
    /// otherwise their datagram was discarded.
    pub overlaps: u64,
    /// Overlaps whose bytes differed from the first copy.
    pub overlap_conflicts: u64,
    /// Datagrams dropped as inconsistent (two ends, bytes past the end).
    pub inconsistent: u64,
}

impl FragmentStats {
    /// Fragments refused because the defragmenter was full (datagrams or bytes).
    pub fn refused(&self) -> u64 {
        self.dropped_over_limit + self.dropped_over_memory
    }
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

/// Reassembles IP fragments as Linux does (see the module's documentation).
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
        let mut end = start.checked_add(len).ok_or(DecodeError::BadFragment)?;
        if end > MAX_DATAGRAM_BYTES {
            return Err(DecodeError::BadFragment);
        }
        if frag.more_fragments && len % 8 != 0 {
            if frag.src.is_ipv6() {
                return Err(DecodeError::BadFragment);
            }
            // IPv4: Linux keeps the fragment, cut to a multiple of 8 bytes.
            end = start + len / 8 * 8;
        }
        let payload = &frag.payload[..(end - start) as usize];
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
        if self.held_bytes + payload.len() + PIECE_OVERHEAD_BYTES > MAX_FRAGMENT_BYTES {
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
        // A fragment with no bytes (or none left after the cut) discards the datagram,
        // as in Linux.
        if !consistent || end == start {
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
        let new_piece = match add_piece(datagram, payload, start, &mut self.stats)? {
            Placed::Duplicate => return Ok(None),
            Placed::Overlap => {
                self.drop_datagram(&key);
                return Err(DecodeError::BadFragment);
            }
            Placed::Extended => false,
            Placed::NewRun => true,
        };
        datagram.held += end - start;
        self.held_bytes += (end - start) as usize + usize::from(new_piece) * PIECE_OVERHEAD_BYTES;
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

/// Where a fragment went among a datagram's runs.
enum Placed {
    /// It started where the last run ends and extended it.
    Extended,
    /// It touched no received byte and starts a run of its own.
    NewRun,
    /// It lies inside one run: ignored.
    Duplicate,
    /// It overlaps received bytes otherwise: the datagram is to be discarded.
    Overlap,
}

/// Places `payload` (at `start`) among the datagram's runs as Linux's
/// `inet_frag_queue_insert` does, and stores it unless it is a duplicate or an overlap
/// (counted, with whether its bytes differ). Cost: two map lookups and one copy,
/// whatever order fragments arrive in.
fn add_piece(
    datagram: &mut Datagram,
    payload: &[u8],
    start: u32,
    stats: &mut FragmentStats,
) -> Result<Placed, DecodeError> {
    let end = start + payload.len() as u32;
    let pieces = &mut datagram.pieces;
    // The run reaching furthest that starts before `end`: the only one that can hold
    // `start..end`, and, if it ends before `start`, no run touches the fragment.
    let before_end = pieces.range(..end).next_back();
    let placed = match before_end {
        Some((&s, d)) if s as usize + d.len() > start as usize => {
            let run_end = s + d.len() as u32;
            // The received bytes the fragment covers within this run differ?
            let lo = start.max(s);
            let hi = end.min(run_end);
            let theirs = &d[(lo - s) as usize..(hi - s) as usize];
            let ours = &payload[(lo - start) as usize..(hi - start) as usize];
            stats.overlaps += 1;
            if theirs != ours {
                stats.overlap_conflicts += 1;
            }
            if start >= s && end <= run_end {
                Placed::Duplicate
            } else {
                Placed::Overlap
            }
        }
        _ => {
            // The last run grows when the fragment starts where it ends.
            match pieces.last_key_value() {
                Some((&s, d)) if s as usize + d.len() == start as usize => Placed::Extended,
                _ => Placed::NewRun,
            }
        }
    };
    match placed {
        Placed::Extended => {
            if let Some(mut last) = pieces.last_entry() {
                last.get_mut().extend_from_slice(payload);
            }
        }
        Placed::NewRun => {
            if pieces.len() >= MAX_PIECES_PER_DATAGRAM {
                return Err(DecodeError::BadFragment);
            }
            pieces.insert(start, payload.to_vec());
        }
        Placed::Duplicate | Placed::Overlap => {}
    }
    Ok(placed)
}

#[cfg(test)]
mod tests;
