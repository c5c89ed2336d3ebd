//! Out-of-order segments waiting for the hole before them, and which copy of a byte
//! wins when segments overlap: the one Linux's receiver keeps (`tcp_data_queue_ofo`
//! and `tcp_ofo_queue`), because that is what the server's application reads.
//!
//! Linux keeps received out-of-order segments in sequence order and, once the hole
//! fills, hands them on lowest sequence number first, cutting from each what was
//! already handed on. So of two overlapping segments, the one that **starts lower**
//! supplies the shared bytes, whichever arrived first. Two that start at the same byte:
//! a later one that reaches further replaces the earlier; otherwise the later is
//! dropped. A segment that starts exactly where a held one ends is appended to it
//! (`tcp_ooo_try_coalesce`): from then on the two are one segment, starting at the
//! first's start, so a later segment starting inside the first loses the second's
//! bytes too (`tests/tcp_parity.rs` checks these cases against the kernel). (A monitor that kept the first copy instead could be shown one text while
//! the server reads another: send the benign tail first, then a longer segment from
//! further back carrying the attack.)
//!
//! The buffer holds non-overlapping pieces; each remembers the segment it came from,
//! so a later segment can tell which of the bytes it overlaps it would win.

use std::collections::BTreeMap;

/// A buffered run of bytes and the segment (start and end offsets) it was cut from.
#[derive(Debug)]
pub(super) struct Piece {
    pub(super) bytes: Vec<u8>,
    origin: (u64, u64),
    /// Another segment carried other bytes for some of these: the two ends may read
    /// them differently ([`super::Chunk::Conflict`] goes before them).
    pub(super) conflicted: bool,
}

/// What buffering one segment did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Buffered {
    /// Bytes newly held (overwritten bytes are not new).
    pub(super) added: usize,
    /// Overlaps whose bytes differed from what was held.
    pub(super) conflicts: u64,
}

/// Buffers the segment `data` at `start`: fills every byte not held yet, and takes
/// over held bytes where Linux would read this segment's copy.
pub(super) fn buffer(pending: &mut BTreeMap<u64, Piece>, start: u64, data: &[u8]) -> Buffered {
    let end = start + data.len() as u64;
    let origin = coalesce(pending, start, end);
    // Pieces that may overlap: the one before `start` and those starting inside.
    let first = pending
        .range(..start)
        .next_back()
        .filter(|(&k, p)| k + p.bytes.len() as u64 > start)
        .map(|(&k, _)| k);
    let keys: Vec<u64> = first
        .into_iter()
        .chain(pending.range(start..end).map(|(&k, _)| k))
        .collect();
    let mut out = Buffered::default();
    let mut cursor = start;
    let mut fresh: Vec<(u64, u64)> = Vec::new();
    for key in keys {
        let Some(piece) = pending.get(&key) else {
            continue;
        };
        let piece_end = key + piece.bytes.len() as u64;
        if key > cursor {
            fresh.push((cursor, key));
        }
        let (lo, hi) = (cursor.max(key), end.min(piece_end));
        let ours = &data[(lo - start) as usize..(hi - start) as usize];
        let theirs = &piece.bytes[(lo - key) as usize..(hi - key) as usize];
        let differ = ours != theirs;
        out.conflicts += u64::from(differ);
        let (their_start, their_end) = piece.origin;
        let ours_wins = their_start > start || (their_start == start && end > their_end);
        if ours_wins {
            // Even with the same bytes: this segment now owns them, so a later one
            // starting between the two loses to it, as in Linux.
            take_over(pending, key, lo, hi, ours, origin, differ);
        } else if differ {
            if let Some(piece) = pending.get_mut(&key) {
                piece.conflicted = true;
            }
        }
        cursor = cursor.max(piece_end);
        if cursor >= end {
            break;
        }
    }
    if cursor < end {
        fresh.push((cursor, end));
    }
    for (s, e) in fresh {
        let bytes = data[(s - start) as usize..(e - start) as usize].to_vec();
        out.added += bytes.len();
        pending.insert(
            s,
            Piece {
                bytes,
                origin,
                conflicted: false,
            },
        );
    }
    out
}

/// How many of a grown segment's pieces, back from its end, learn its new extent.
/// Only a later segment starting at the very same byte reads the extent (to know
/// whether it reaches further), and a run of adjacent tiny segments would otherwise
/// make every one of them walk all the pieces before it.
const MAX_COALESCE_WALK: usize = 64;

/// The segment `start..end` belongs to once held: itself, or, when a held segment ends
/// exactly at `start`, that segment grown to `end` (Linux appends it to that one). The
/// held segment's last pieces take the grown extent too ([`MAX_COALESCE_WALK`]).
fn coalesce(pending: &mut BTreeMap<u64, Piece>, start: u64, end: u64) -> (u64, u64) {
    let Some(before) = pending
        .range(..start)
        .next_back()
        .map(|(_, p)| p.origin)
        .filter(|&(_, their_end)| their_end == start)
    else {
        return (start, end);
    };
    let joined = (before.0, end);
    for (_, piece) in pending
        .range_mut(before.0..start)
        .rev()
        .take(MAX_COALESCE_WALK)
    {
        if piece.origin != before {
            break;
        }
        piece.origin = joined;
    }
    joined
}

/// Replaces bytes `lo..hi` of the piece at `key` with `ours`, splitting the piece so
/// each part keeps the segment it came from; the replaced part is conflicted if it
/// was, or if `differ`.
fn take_over(
    pending: &mut BTreeMap<u64, Piece>,
    key: u64,
    lo: u64,
    hi: u64,
    ours: &[u8],
    origin: (u64, u64),
    differ: bool,
) {
    let Some(mut piece) = pending.remove(&key) else {
        return;
    };
    let (theirs, conflicted) = (piece.origin, piece.conflicted);
    let tail = piece.bytes.split_off((hi - key) as usize);
    piece.bytes.truncate((lo - key) as usize);
    if !piece.bytes.is_empty() {
        pending.insert(key, piece);
    }
    pending.insert(
        lo,
        Piece {
            bytes: ours.to_vec(),
            origin,
            conflicted: conflicted || differ,
        },
    );
    if !tail.is_empty() {
        pending.insert(
            hi,
            Piece {
                bytes: tail,
                origin: theirs,
                conflicted,
            },
        );
    }
}
