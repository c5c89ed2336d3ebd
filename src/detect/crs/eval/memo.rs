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

use ahash::AHashMap;

/// `Cand::scalar` of a value that is not a scalar variable's.
pub(super) const NO_SOURCE: u16 = u16::MAX;
/// A slot not computed yet.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// Distinct values remembered per thread; past it the memo starts over.
pub(super) const MAX_MEMO_VALUES: usize = 1 << 14;

/// Process-unique program ids, so a thread's memo never mixes two loaded rule sets.
static PROGRAM_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A new program id.
pub(super) fn next_program_id() -> u64 {
    PROGRAM_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Value hash -> set of links that miss it.
#[derive(Debug, Default)]
pub(super) struct MissMemo {
    owner: u64,
    words: usize,
    index: AHashMap<u64, u32>,
    bits: Vec<u64>,
    /// Per plain-token class, the links that miss every value of it (empty when not
    /// given).
    token: Vec<Vec<u64>>,
    /// The links that never select a pool value by its name (see [`super::names`]).
    names: super::names::NameSets,
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
        } else if self.index.len() >= MAX_MEMO_VALUES {
            self.index.clear();
            self.bits.clear();
            self.resets += 1;
        }
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
        if let Some(&s) = self.index.get(&h) {
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
