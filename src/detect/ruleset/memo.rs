//! The per-thread memo of misses: values on which no test of a field can hit, as
//! found by that field's costly tests (the `contains` prefilter and the regex gates),
//! remembered with their bytes so that the next transaction carrying the same value
//! skips them. User agents, paths and parameter values repeat across requests: a
//! browser's user agent is a hundred bytes through a packed search on every request.
//!
//! The answer is exact: a value is remembered only when every test of its field ruled
//! it out by the value alone (no exact key, prefix, suffix, literal, or regex gate let
//! it through; fields with numeric or existence tests are never remembered), and it
//! is found again only by comparing its bytes, not its hash alone. The memo is
//! direct-mapped ([`MEMO_SLOTS`] slots of up to [`MAX_MEMO_VALUE_BYTES`] bytes, one
//! allocation per thread on first use): a value that lands on a taken slot replaces
//! it. It belongs to one compiled rule set at a time (by [`super::RuleSet`]'s id) and
//! is emptied when the thread judges with another.

/// Slots of a thread's memo (a power of two).
pub(super) const MEMO_SLOTS: usize = 256;
/// Longer values are not remembered (the slot's room; most values are shorter).
pub(super) const MAX_MEMO_VALUE_BYTES: usize = 256;

/// Process-unique rule set ids, so a thread's memo never mixes two compiled sets.
static RULE_SET_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A new rule set id (never 0, the id of an empty memo).
pub(super) fn next_rule_set_id() -> u64 {
    RULE_SET_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Where a value would sit in the memo.
#[derive(Debug, Clone, Copy)]
pub(super) struct MemoKey {
    slot: usize,
    hash: u64,
}

/// Values known to hit no test of their field (see the module notes).
#[derive(Debug, Default)]
pub(super) struct MissMemo {
    /// The rule set the slots were filled for (0: none).
    owner: u64,
    /// Per slot: the value's hash (with its field); 0 when empty.
    hashes: Vec<u64>,
    /// Per slot: the field index and the value's length.
    shapes: Vec<(u32, u32)>,
    /// Per slot, [`MAX_MEMO_VALUE_BYTES`] bytes, the value at the start.
    bytes: Vec<u8>,
}

impl MissMemo {
    /// Readies the memo for rule set `owner`: emptied if it held another's values.
    pub(super) fn own(&mut self, owner: u64) {
        if self.owner != owner {
            self.owner = owner;
            self.hashes.iter_mut().for_each(|h| *h = 0);
        }
    }

    /// The key of value `v` of field `field`, if it is short enough to remember.
    #[inline]
    pub(super) fn key(field: usize, v: &[u8]) -> Option<MemoKey> {
        if v.is_empty() || v.len() > MAX_MEMO_VALUE_BYTES {
            return None;
        }
        let hash = hash(field, v) | 1;
        Some(MemoKey {
            // The high bits, the best mixed.
            slot: (hash >> 56) as usize % MEMO_SLOTS,
            hash,
        })
    }

    /// Whether `v` of field `field` (whose key is `k`) is remembered as a miss.
    #[inline]
    pub(super) fn holds(&self, k: MemoKey, field: usize, v: &[u8]) -> bool {
        self.hashes.get(k.slot) == Some(&k.hash)
            && self.shapes.get(k.slot) == Some(&(field as u32, v.len() as u32))
            && self
                .bytes
                .get(k.slot * MAX_MEMO_VALUE_BYTES..)
                .and_then(|b| b.get(..v.len()))
                == Some(v)
    }

    /// Remembers `v` of field `field` as a miss, in place of what its slot held.
    pub(super) fn remember(&mut self, k: MemoKey, field: usize, v: &[u8]) {
        if self.hashes.is_empty() {
            self.hashes = vec![0; MEMO_SLOTS];
            self.shapes = vec![(0, 0); MEMO_SLOTS];
            self.bytes = vec![0; MEMO_SLOTS * MAX_MEMO_VALUE_BYTES];
        }
        let (Ok(field), Ok(len)) = (u32::try_from(field), u32::try_from(v.len())) else {
            return;
        };
        let start = k.slot * MAX_MEMO_VALUE_BYTES;
        let Some(room) = self.bytes.get_mut(start..start + v.len()) else {
            return;
        };
        room.copy_from_slice(v);
        if let (Some(h), Some(s)) = (self.hashes.get_mut(k.slot), self.shapes.get_mut(k.slot)) {
            *h = k.hash;
            *s = (field, len);
        }
    }
}

/// A quick hash of a field index and a value, a word at a time (only the slot and a
/// first check depend on it: the bytes are compared).
fn hash(field: usize, v: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(31);
    let mut h = mix(field as u64, v.len() as u64);
    let mut words = v.chunks_exact(8);
    for w in &mut words {
        if let Ok(w) = <[u8; 8]>::try_from(w) {
            h = mix(h, u64::from_le_bytes(w));
        }
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        // The last eight bytes when there are that many (overlapping the last word),
        // else the tail's bytes one by one.
        let last = match v.last_chunk::<8>() {
            Some(w) => u64::from_le_bytes(*w),
            None => tail.iter().fold(0, |a, &b| a << 8 | u64::from(b)),
        };
        h = mix(h, last);
    }
    (h ^ (h >> 29)).wrapping_mul(K)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_values_by_their_bytes_field_and_owner() {
        let mut memo = MissMemo::default();
        memo.own(7);
        let ua = b"mozilla/5.0 (x11; linux x86_64; rv:121.0) gecko/20100101 firefox/121.0";
        let k = MissMemo::key(3, ua).expect("short enough");
        assert!(!memo.holds(k, 3, ua));
        memo.remember(k, 3, ua);
        assert!(memo.holds(k, 3, ua));
        // Another field, or another value: not remembered.
        let other = MissMemo::key(4, ua).expect("short enough");
        assert!(!memo.holds(other, 4, ua));
        let mut changed = ua.to_vec();
        changed[40] = b'X';
        let kc = MissMemo::key(3, &changed).expect("short enough");
        assert!(!memo.holds(kc, 3, &changed));
        // A value whose hash collides is told apart by its bytes.
        let forged = MemoKey {
            slot: k.slot,
            hash: k.hash,
        };
        assert!(!memo.holds(forged, 3, &changed));
        // The same owner keeps the memo; another empties it.
        memo.own(7);
        assert!(memo.holds(k, 3, ua));
        memo.own(8);
        assert!(!memo.holds(k, 3, ua));
        assert!(MissMemo::key(0, b"").is_none());
        assert!(MissMemo::key(0, &[b'a'; MAX_MEMO_VALUE_BYTES + 1]).is_none());
        assert!(MissMemo::key(0, &[b'a'; MAX_MEMO_VALUE_BYTES]).is_some());
    }
}
