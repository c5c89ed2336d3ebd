//! The per-thread memo of misses: for each distinct value seen (by hash), the set of
//! rule links known not to match it, as a bit set over the program's links.
//!
//! A link whose operator depends only on the value (a regex, a phrase list,
//! libinjection, a byte validator, a comparison with a constant) gives the same result
//! every time it sees the same bytes through the same transformations, and a miss has no
//! side effect. Headers and cookies repeat across a client's requests, so most values a
//! link meets it has already missed: one bit test instead of transforming and scanning.
//!
//! Per transaction each value source (a pool of names or values, or a scalar variable,
//! numbered as the literal gates number them) gets the intersection of its values' sets.
//! A link all of whose sources have its bit there misses every candidate its targets can
//! select (selectors and exclusions only narrow the candidates), so it is skipped before
//! any candidate is collected. Sets are filled as links miss and read from the next
//! transaction on; the memo is cleared at a transaction start once it holds
//! [`MAX_MEMO_VALUES`] values (counted as `memo_resets`).
//!
//! Per slot the memo also keeps what a pure link's operator gave on a value it matched
//! (evidence and captures, replayed instead of searching again; at most
//! [`MAX_MEMO_HITS`]) and the literal gates' scan of the raw value (see [`super::gate`]).

use ahash::AHashMap;

/// `Cand::scalar` of a value that is not a scalar variable's.
pub(super) const NO_SOURCE: u16 = u16::MAX;
/// A slot not computed yet.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// Distinct values remembered per thread; past it the memo starts over.
pub(super) const MAX_MEMO_VALUES: usize = 1 << 14;
/// (value, link) matches remembered per thread; past it they start over (counted with
/// the memo's resets).
pub(super) const MAX_MEMO_HITS: usize = 1 << 12;

/// What a pure link's operator gave on a value it matched: its evidence and, for a
/// capturing link, the captures (TX:0-9). The same bytes give the same again.
#[derive(Debug, Clone)]
pub(super) struct Hit {
    pub(super) evidence: Option<super::super::operator::Evidence>,
    pub(super) caps: Vec<Vec<u8>>,
}

/// Process-unique program ids, so a thread's memo never mixes two loaded rule sets.
static PROGRAM_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A new program id.
pub(super) fn next_program_id() -> u64 {
    PROGRAM_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A hasher for keys that are hashes already (the memo's value hashes): the key itself.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct KeyIsHash(u64);

impl std::hash::Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by u64 keys; folded in anyway so any key still hashes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Value hash -> set of links that miss it.
#[derive(Debug, Default)]
pub(super) struct MissMemo {
    owner: u64,
    words: usize,
    index: std::collections::HashMap<u64, u32, std::hash::BuildHasherDefault<KeyIsHash>>,
    bits: Vec<u64>,
    /// Per plain-token class, the links that miss every value of it (empty when not
    /// given).
    token: Vec<Vec<u64>>,
    /// The links that never select a pool value by its name (see [`super::names`]).
    names: super::names::NameSets,
    /// (slot, link) -> what the link's operator gave on a value it matched: a matching
    /// value is met again (GET for 920170's `^(?:GET|HEAD)$`, a page's basename for
    /// 920440's capture) and its search and captures are not run again.
    hits: AHashMap<(u32, u32), Hit>,
    /// Per slot, `scan_words` u64: the literal gates' scan of the raw value (its last
    /// four words the value's byte set, see [`super::super::prefilter::Prefilter::scan`]),
    /// valid where `scanned` is set. A header or cookie met again is not scanned again
    /// when a fresh value next to it makes its source's gate set be worked out.
    scans: Vec<u64>,
    scanned: Vec<bool>,
    scan_words: usize,
    /// Times the memo was full and cleared (taken by the stats at each transaction).
    pub(super) resets: u64,
}

impl MissMemo {
    /// Called at each transaction start: a memo of another program, or a full one, is
    /// cleared. Slots stay valid until the next call.
    pub(super) fn prepare(
        &mut self,
        owner: u64,
        links: usize,
        token: &[Vec<u64>],
        names: &super::names::NameSets,
    ) {
        let words = links.div_ceil(64).max(1);
        if self.owner != owner || self.words != words {
            self.owner = owner;
            self.words = words;
            self.token.clear();
            self.token
                .extend(token.iter().filter(|t| t.len() == words).cloned());
            self.names = names.clone();
            self.index.clear();
            self.bits.clear();
            self.hits.clear();
            self.scanned.clear();
        } else if self.index.len() >= MAX_MEMO_VALUES {
            self.index.clear();
            self.bits.clear();
            self.hits.clear();
            self.scanned.clear();
            self.resets += 1;
        } else if self.hits.len() >= MAX_MEMO_HITS {
            self.hits.clear();
            self.resets += 1;
        }
    }

    /// What link `link`'s operator gave on the value in `slot`, if it matched before.
    pub(super) fn hit(&self, slot: u32, link: u32) -> Option<&Hit> {
        if self.hits.is_empty() {
            return None;
        }
        self.hits.get(&(slot, link))
    }

    /// The gate scan of the raw value in `slot`, if recorded (see `scans`).
    pub(super) fn scan(&self, slot: u32) -> Option<&[u64]> {
        if !self.scanned.get(slot as usize).copied().unwrap_or(false) {
            return None;
        }
        let a = slot as usize * self.scan_words;
        self.scans.get(a..a + self.scan_words)
    }

    /// Records the gate scan of the raw value in `slot`.
    pub(super) fn set_scan(&mut self, slot: u32, bits: &[u64]) {
        if bits.len() != self.scan_words {
            self.scanned.clear();
            self.scan_words = bits.len();
        }
        let i = slot as usize;
        if i >= MAX_MEMO_VALUES * 2 {
            return;
        }
        if self.scanned.len() <= i {
            self.scanned.resize(i + 1, false);
        }
        let (a, b) = (i * self.scan_words, (i + 1) * self.scan_words);
        if self.scans.len() < b {
            self.scans.resize(b, 0);
        }
        self.scans[a..b].copy_from_slice(bits);
        self.scanned[i] = true;
    }

    /// Records what link `link`'s operator gave on the value in `slot` (a match).
    pub(super) fn set_hit(&mut self, slot: u32, link: u32, hit: Hit) {
        self.hits.insert((slot, link), hit);
    }

    /// u64 words of one set.
    pub(super) fn words(&self) -> usize {
        self.words
    }

    /// The slot of the value with hash `h`, created on first sight: empty, or for a
    /// plain token of class `token` (see [`super::token`]) holding the links that miss
    /// every value of the class, and for a value of pool source `src` named `name`
    /// the links that never select that name there (see [`super::names`]).
    pub(super) fn slot(
        &mut self,
        h: u64,
        token: Option<usize>,
        named: Option<(usize, &[u8])>,
    ) -> u32 {
        if let Some(s) = self.find(h) {
            return s;
        }
        let start = self.bits.len();
        let s = (start / self.words.max(1)) as u32;
        if let Some(t) = token.and_then(|k| self.token.get(k)) {
            self.bits.extend_from_slice(t);
        } else {
            self.bits.resize(start + self.words, 0);
        }
        if let (Some((src, name)), Some(bits)) = (named, self.bits.get_mut(start..)) {
            self.names.add_misses(src, name, bits);
        }
        self.index.insert(h, s);
        s
    }

    /// The slot of the value with hash `h`, if it has one already.
    #[inline]
    pub(super) fn find(&self, h: u64) -> Option<u32> {
        self.index.get(&h).copied()
    }

    /// Whether link `link` is known to miss the value in `slot`.
    pub(super) fn misses(&self, slot: u32, link: u32) -> bool {
        let i = slot as usize * self.words + link as usize / 64;
        self.bits
            .get(i)
            .is_some_and(|w| w & (1 << (link % 64)) != 0)
    }

    /// Records that link `link` missed the value in `slot`.
    pub(super) fn set_miss(&mut self, slot: u32, link: u32) {
        let i = slot as usize * self.words + link as usize / 64;
        if let Some(w) = self.bits.get_mut(i) {
            *w |= 1 << (link % 64);
        }
    }

    /// The set of `slot` (empty for an unknown slot).
    pub(super) fn set(&self, slot: u32) -> &[u64] {
        let a = slot as usize * self.words;
        self.bits.get(a..a + self.words).unwrap_or_default()
    }

    /// Intersects `acc` with the set of `slot` (an unknown slot is the empty set).
    pub(super) fn and_into(&self, slot: u32, acc: &mut [u64]) {
        let set = self.set(slot);
        for (x, s) in acc.iter_mut().zip(set) {
            *x &= s;
        }
        if let Some(rest) = acc.get_mut(set.len()..) {
            rest.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_per_value_and_cleared_for_another_program_or_when_full() {
        let mut m = MissMemo::default();
        m.prepare(7, 130, &[], &Default::default());
        assert_eq!(m.words(), 3);
        let a = m.slot(11, None, None);
        let b = m.slot(22, None, None);
        assert_ne!(a, b);
        assert_eq!(m.slot(11, None, None), a);
        m.set_miss(a, 129);
        m.set_miss(b, 3);
        assert!(m.misses(a, 129) && !m.misses(a, 3));
        assert!(m.misses(b, 3) && !m.misses(b, 129));
        assert_eq!(m.set(a), &[0, 0, 2]);
        // Same program: kept.
        m.prepare(7, 130, &[], &Default::default());
        let a = m.slot(11, None, None);
        assert!(m.misses(a, 129));
        // Another program: forgotten, not counted as a reset.
        m.prepare(8, 130, &[], &Default::default());
        let a = m.slot(11, None, None);
        assert!(!m.misses(a, 129));
        assert_eq!(m.resets, 0);
        for h in 0..MAX_MEMO_VALUES as u64 {
            let s = m.slot(h + 100, None, None);
            m.set_miss(s, 1);
        }
        m.prepare(8, 130, &[], &Default::default());
        assert_eq!(m.resets, 1);
        let a = m.slot(150, None, None);
        assert!(!m.misses(a, 1));
    }
}
