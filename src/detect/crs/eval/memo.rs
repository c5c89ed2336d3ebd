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

use super::super::compile::{CRule, Link};
use super::actions::applies;
use super::gate::{self, N_SOURCES, POOLS, POOL_SOURCES, SCALARS};
use super::{Cand, CrsScratch, Src};

/// `Cand::scalar` of a value that is not a scalar variable's.
pub(super) const NO_SOURCE: u16 = u16::MAX;
/// A slot not computed yet.
const NO_SLOT: u32 = u32::MAX;

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
    /// Times the memo was full and cleared (taken by the stats at each transaction).
    pub(super) resets: u64,
}

impl MissMemo {
    /// Called at each transaction start: a memo of another program, or a full one, is
    /// cleared. Slots stay valid until the next call.
    pub(super) fn prepare(&mut self, owner: u64, links: usize) {
        let words = links.div_ceil(64).max(1);
        if self.owner != owner || self.words != words {
            self.owner = owner;
            self.words = words;
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

    /// The slot of the value with hash `h`, created empty on first sight.
    pub(super) fn slot(&mut self, h: u64) -> u32 {
        if let Some(&s) = self.index.get(&h) {
            return s;
        }
        let s = (self.bits.len() / self.words.max(1)) as u32;
        self.bits.resize(self.bits.len() + self.words, 0);
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
        for (j, x) in acc.iter_mut().enumerate() {
            *x &= set.get(j).copied().unwrap_or(0);
        }
    }
}

/// The memo sources of a link that can be skipped when all of them are known misses.
pub(super) fn skip_sources(link: &Link) -> Option<Vec<u16>> {
    if !link.pure || link.op.is_none() {
        return None;
    }
    let mut srcs = Vec::new();
    for t in link.targets.iter().filter(|t| !t.excluded) {
        if t.count || !gate::sources_of(t.var, &mut srcs) {
            return None;
        }
    }
    srcs.sort_unstable();
    srcs.dedup();
    Some(srcs)
}

/// Per-transaction memo slots of the request's values, and each source's intersection.
#[derive(Debug, Default)]
pub(super) struct TxnSlots {
    /// Per pool source, per value index: its memo slot (or [`NO_SLOT`]).
    pool: Vec<Vec<u32>>,
    /// Per scalar: its value's memo slot (or [`NO_SLOT`]).
    scalar: Vec<u32>,
    /// Per source: whether `and` holds its intersection this phase.
    and_ok: Vec<bool>,
    /// Per source, `words` u64: the links that miss every value of the source.
    and: Vec<u64>,
    words: usize,
}

impl TxnSlots {
    /// A new transaction.
    pub(super) fn reset(&mut self, words: usize) {
        self.words = words;
        self.pool.resize_with(POOL_SOURCES, Vec::new);
        for p in &mut self.pool {
            p.clear();
        }
        self.scalar.clear();
        self.scalar.resize(SCALARS.len(), NO_SLOT);
        self.and_ok.clear();
        self.and_ok.resize(N_SOURCES, false);
        self.and.resize(N_SOURCES * words, 0);
    }

    /// Phase 2: the sources the body changes are computed again (their pools were empty
    /// in phase 1, so no value slot is stale; scalars are recomputed).
    pub(super) fn reset_phase2(&mut self) {
        for (src, ok) in self.and_ok.iter_mut().enumerate() {
            if !gate::stable_in_phase2(src) {
                *ok = false;
                if let Some(s) = src
                    .checked_sub(POOL_SOURCES)
                    .and_then(|i| self.scalar.get_mut(i))
                {
                    *s = NO_SLOT;
                }
            }
        }
    }
}

impl CrsScratch {
    /// The memo slot of a pool value.
    fn pool_slot(&mut self, src: usize, i: u32) -> u32 {
        if let Some(&s) = self.slots.pool.get(src).and_then(|v| v.get(i as usize)) {
            if s != NO_SLOT {
                return s;
            }
        }
        let (p, names) = (POOLS[src / 2], src % 2 == 1);
        // A value is remembered with its name: whether a link selects it depends on the
        // name (see `all_missed`). Names alone for the names sources.
        let h = match self.pool(p).as_slice().get(i as usize) {
            Some(kv) if names => self.hasher.hash_one((1u8, &kv.name[..])),
            Some(kv) => self.hasher.hash_one((2u8, &kv.name[..], &kv.value[..])),
            None => 0,
        };
        let s = self.memo.slot(h);
        if let Some(v) = self.slots.pool.get_mut(src) {
            if v.len() <= i as usize {
                v.resize(i as usize + 1, NO_SLOT);
            }
            v[i as usize] = s;
        }
        s
    }

    /// The memo slot of scalar `k`'s value (REQUEST_BODY: the body, exposed or not).
    fn scalar_slot(&mut self, k: usize) -> u32 {
        match self.slots.scalar.get(k) {
            Some(&s) if s != NO_SLOT => return s,
            Some(_) => {}
            None => return NO_SLOT,
        }
        let var = SCALARS[k];
        let mut b = std::mem::take(&mut self.buf);
        let h = if var == super::Var::RequestBody {
            self.hasher.hash_one(&self.req.body[..])
        } else {
            if !self.req.scalar(var, &mut b) {
                b.clear();
            }
            self.hasher.hash_one(&b[..])
        };
        self.buf = b;
        let s = self.memo.slot(h);
        self.slots.scalar[k] = s;
        s
    }

    /// The memo slot of a candidate, or `None` for a copied value when `copied` is false
    /// (hashing it would cost more than the operator).
    pub(super) fn cand_slot(&mut self, c: &Cand, copied: bool) -> Option<u32> {
        match c.src {
            Src::Pool(p, names, i) => {
                Some(self.pool_slot(usize::from(gate::pool_source(p, names)), i))
            }
            Src::Tmp(_) if c.scalar != NO_SOURCE => {
                let k = usize::from(c.scalar).checked_sub(POOL_SOURCES)?;
                Some(self.scalar_slot(k))
            }
            Src::Tmp(_) if copied => {
                let h = self.hasher.hash_one(self.value(c.src));
                Some(self.memo.slot(h))
            }
            Src::Tmp(_) => None,
        }
    }

    /// The sources a link reads this transaction into `out`: its memo sources, less
    /// those a `ctl` removed whole from its rule (941010 removes REQUEST_FILENAME from
    /// the XSS rules for most requests). False when a `ctl` removed some names of a
    /// variable from the rule: the values it left out were not looked at.
    fn live_sources(&self, rule: &CRule, link: &Link, out: &mut Vec<u16>) -> bool {
        out.clear();
        let Some(srcs) = &link.memo_srcs else {
            return false;
        };
        if !rule.target_ctl || self.removed_targets.is_empty() {
            out.extend_from_slice(srcs);
            return true;
        }
        let applying = self
            .removed_targets
            .iter()
            .filter(|(id, tag, _)| applies(rule, *id, tag.as_deref()));
        let mut any = false;
        for (_, _, spec) in applying {
            if spec.selector.is_some() {
                return false;
            }
            any = true;
        }
        if !any {
            out.extend_from_slice(srcs);
            return true;
        }
        for t in &link.targets {
            if !t.excluded && !self.target_removed(rule, t) {
                gate::sources_of(t.var, out);
            }
        }
        true
    }

    /// Records that the link missed every value of its sources in this transaction: it
    /// did not match, so each value either missed or was not selected by the link's
    /// (fixed) selectors and exclusions, and the same name and value will miss again.
    pub(super) fn all_missed(&mut self, rule: &CRule, link: &Link) {
        let mut srcs = std::mem::take(&mut self.src_buf);
        if self.live_sources(rule, link, &mut srcs) {
            for &src in &srcs {
                let src = usize::from(src);
                if src < POOL_SOURCES {
                    let n = self.pool(POOLS[src / 2]).len() as u32;
                    for i in 0..n {
                        let slot = self.pool_slot(src, i);
                        self.memo.set_miss(slot, link.idx);
                    }
                } else {
                    let slot = self.scalar_slot(src - POOL_SOURCES);
                    self.memo.set_miss(slot, link.idx);
                }
            }
        }
        self.src_buf = srcs;
    }

    /// Whether every value the link's sources hold is a known miss for it: the link
    /// cannot match and is skipped before collecting anything.
    pub(super) fn known_miss(&mut self, rule: &CRule, link: &Link) -> bool {
        let mut srcs = std::mem::take(&mut self.src_buf);
        let miss = self.live_sources(rule, link, &mut srcs)
            && srcs
                .iter()
                .all(|&src| self.source_misses(usize::from(src), link.idx));
        self.src_buf = srcs;
        miss
    }

    pub(super) fn source_misses(&mut self, src: usize, idx: u32) -> bool {
        let w = self.slots.words;
        let Some(&ok) = self.slots.and_ok.get(src) else {
            return false;
        };
        if !ok {
            let mut acc = std::mem::take(&mut self.slots.and);
            let Some(dst) = acc.get_mut(src * w..(src + 1) * w) else {
                self.slots.and = acc;
                return false;
            };
            dst.fill(u64::MAX);
            if src < POOL_SOURCES {
                let n = self.pool(POOLS[src / 2]).len() as u32;
                for i in 0..n {
                    let slot = self.pool_slot(src, i);
                    self.memo.and_into(slot, dst);
                }
            } else {
                let slot = self.scalar_slot(src - POOL_SOURCES);
                self.memo.and_into(slot, dst);
            }
            self.slots.and = acc;
            self.slots.and_ok[src] = true;
        }
        let i = src * w + idx as usize / 64;
        self.slots
            .and
            .get(i)
            .is_some_and(|x| x & (1 << (idx % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_per_value_and_cleared_for_another_program_or_when_full() {
        let mut m = MissMemo::default();
        m.prepare(7, 130);
        assert_eq!(m.words(), 3);
        let a = m.slot(11);
        let b = m.slot(22);
        assert_ne!(a, b);
        assert_eq!(m.slot(11), a);
        m.set_miss(a, 129);
        m.set_miss(b, 3);
        assert!(m.misses(a, 129) && !m.misses(a, 3));
        assert!(m.misses(b, 3) && !m.misses(b, 129));
        assert_eq!(m.set(a), &[0, 0, 2]);
        // Same program: kept.
        m.prepare(7, 130);
        let a = m.slot(11);
        assert!(m.misses(a, 129));
        // Another program: forgotten, not counted as a reset.
        m.prepare(8, 130);
        let a = m.slot(11);
        assert!(!m.misses(a, 129));
        assert_eq!(m.resets, 0);
        for h in 0..MAX_MEMO_VALUES as u64 {
            let s = m.slot(h + 100);
            m.set_miss(s, 1);
        }
        m.prepare(8, 130);
        assert_eq!(m.resets, 1);
        let a = m.slot(150);
        assert!(!m.misses(a, 1));
    }
}
