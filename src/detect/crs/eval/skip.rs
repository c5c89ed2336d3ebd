//! Deciding per transaction that a link cannot match before collecting any value: the
//! memo slots of the request's values, each source's and each source set's intersection
//! of the links they are known to miss (see [`super::memo`]), the per-source test that
//! also asks the literal gate, and recording a link's misses on every value it read.
//!
//! A `ctl` that removed targets from a rule this transaction changes which sources the
//! rule's links read; those links work out their live sources per call. The numbering
//! done at load is in [`super::number`]; the per-phase skip set and the per-source
//! intersections are worked out in `skip_set.rs`.

use super::super::compile::{CRule, Compiled, Link};
use super::memo::{NO_SLOT, NO_SOURCE};
use super::sources::{self, N_SOURCES, POOLS, POOL_SOURCES, SCALARS};
use super::token;
use super::{Cand, CrsScratch, Src};

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
    /// Whether `skip` holds this phase's set.
    skip_ok: bool,
    /// `words` u64: the links every value of every source of which is a known miss,
    /// worked out once per phase for all links (see `known_miss`).
    skip: Vec<u64>,
    /// Reused copy of the removal state's removed sources (see `removed_users`).
    removed: Vec<u64>,
    words: usize,
    /// Words of a set that intersections are worked out over (see `reset`).
    memo_words: usize,
}

impl TxnSlots {
    /// Forgets source `src`'s intersection and every set's (they include it).
    pub(super) fn invalidate(&mut self, src: usize) {
        if let Some(ok) = self.and_ok.get_mut(src) {
            *ok = false;
        }
        self.skip_ok = false;
    }

    /// A new transaction (`memo_words`: the words of a set holding the links with memo
    /// sources, [`super::super::compile::Compiled::memo_words`]).
    pub(super) fn reset(&mut self, words: usize, memo_words: usize) {
        self.words = words;
        self.memo_words = memo_words;
        self.skip_ok = false;
        self.skip.resize(words, 0);
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
        self.skip_ok = false;
        for (src, ok) in self.and_ok.iter_mut().enumerate() {
            if !sources::stable_in_phase2(src) {
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
    pub(super) fn pool_slot(&mut self, src: usize, i: u32) -> u32 {
        if let Some(&s) = self.slots.pool.get(src).and_then(|v| v.get(i as usize)) {
            if s != NO_SLOT {
                return s;
            }
        }
        let (p, names) = (POOLS[src / 2], src % 2 == 1);
        // A value is remembered with its name: whether a link selects it depends on the
        // name (see `all_missed`). Names alone for the names sources.
        // Keyed by source too: a link can select a value through one collection and
        // not through another (941xxx exclude `REQUEST_COOKIES:/__utm/` but read ARGS),
        // so a miss recorded in one source must not stand for the same name and value
        // in another.
        let tag = src as u8;
        let kv = super::pool_in(&self.req, p).as_slice().get(i as usize);
        let h = match kv {
            Some(kv) if names => self.hasher.hash_one((1u8, tag, &kv.name[..])),
            Some(kv) => self
                .hasher
                .hash_one((2u8, tag, &kv.name[..], &kv.value[..])),
            None => 0,
        };
        // A value seen before: its slot, without classifying its bytes again.
        let s = match self.memo.find(h) {
            Some(s) => s,
            None => {
                let (token, name) = match kv {
                    Some(kv) if names => (token::class_of(&kv.name), &kv.name[..]),
                    Some(kv) => (token::class_of(&kv.value), &kv.name[..]),
                    None => (None, &b""[..]),
                };
                self.memo.slot(h, token, Some((src, name)))
            }
        };
        if let Some(v) = self.slots.pool.get_mut(src) {
            if v.len() <= i as usize {
                v.resize(i as usize + 1, NO_SLOT);
            }
            v[i as usize] = s;
        }
        s
    }

    /// The memo slot of scalar `k`'s value (REQUEST_BODY: the body, exposed or not).
    pub(super) fn scalar_slot(&mut self, k: usize) -> u32 {
        match self.slots.scalar.get(k) {
            Some(&s) if s != NO_SLOT => return s,
            Some(_) => {}
            None => return NO_SLOT,
        }
        let var = SCALARS[k];
        let mut b = std::mem::take(&mut self.buf);
        let body = var == super::Var::RequestBody;
        let h = if body {
            // A body REQUEST_BODY does not expose was no link's candidate: its own key,
            // so a miss recorded then never stands for the same bytes exposed.
            if self.req.body_exposed() {
                self.hasher.hash_one(&self.req.body[..])
            } else {
                self.hasher.hash_one((3u8, &self.req.body[..]))
            }
        } else {
            if !self.req.scalar(var, &mut b) {
                b.clear();
            }
            self.hasher.hash_one(&b[..])
        };
        let s = match self.memo.find(h) {
            Some(s) => s,
            None => {
                let token = token::class_of(if body { &self.req.body } else { &b });
                self.memo.slot(h, token, None)
            }
        };
        self.buf = b;
        self.slots.scalar[k] = s;
        s
    }

    /// REQUEST_BODY's exposure changed (ctl:forceRequestBodyVariable): its slot and
    /// every intersection computed this phase are recomputed.
    pub(super) fn body_exposure_changed(&mut self) {
        let src = usize::from(sources::scalar_source(super::Var::RequestBody));
        if let Some(s) = src
            .checked_sub(POOL_SOURCES)
            .and_then(|k| self.slots.scalar.get_mut(k))
        {
            *s = NO_SLOT;
        }
        self.slots.invalidate(src);
    }

    /// The memo slot of a candidate, or `None` for a copied value when `copied` is false
    /// (hashing it would cost more than the operator).
    pub(super) fn cand_slot(&mut self, c: &Cand, copied: bool) -> Option<u32> {
        match c.src {
            Src::Pool(p, names, i) => {
                Some(self.pool_slot(usize::from(sources::pool_source(p, names)), i))
            }
            Src::Tmp(_) if c.scalar != NO_SOURCE => {
                let k = usize::from(c.scalar).checked_sub(POOL_SOURCES)?;
                Some(self.scalar_slot(k))
            }
            Src::Tmp(_) if copied => {
                let v = self.value(c.src);
                let (h, token) = (self.hasher.hash_one(v), token::class_of(v));
                Some(self.memo.slot(h, token, None))
            }
            Src::Tmp(_) => None,
        }
    }

    /// Records that the link missed every value of its sources in this transaction: it
    /// did not match, so each value either missed or was not selected by the link's
    /// (fixed) selectors and exclusions, and the same name and value will miss again.
    pub(super) fn all_missed(&mut self, rule: &CRule, link: &Link) {
        if link.memo_srcs.is_none() {
            return;
        }
        if let Some(mut mask) = self.live_mask(rule, link) {
            while mask != 0 {
                let src = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                // A source whose intersection already holds the link: each of its
                // values has the bit (bits are only added within a transaction).
                if self.source_misses(src, link.idx) {
                    continue;
                }
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
    }

    /// Whether each of the link's sources is ruled out on its own: all its values
    /// already missed (the memo), or none holds one of the link's literals (the gate).
    /// A request with one new value (a fresh session cookie) then costs the gate of
    /// that one source, not a run of the link over every value.
    pub(super) fn each_source_ruled_out(
        &mut self,
        c: &Compiled,
        rule: &CRule,
        link: &Link,
    ) -> bool {
        if link.gate.is_none() {
            return false;
        }
        let Some(mut mask) = self.live_mask(rule, link) else {
            return false;
        };
        while mask != 0 {
            let src = mask.trailing_zeros() as u16;
            mask &= mask - 1;
            if !(self.source_misses(usize::from(src), link.idx)
                || self.gate_rules_out(c, link, src))
            {
                return false;
            }
        }
        true
    }

    /// Whether the rule's first link is in this phase's skip set, so the rule does not
    /// match, decided before entering the rule. It leaves the scratch as evaluating the
    /// rule would ([`super::Program::eval_rule`] resets MATCHED_VARS and the starter
    /// score, [`super::link::eval_link`] numbers the call) and nothing else: a skipped
    /// link returns before collecting a value.
    pub(super) fn first_link_skipped(&mut self, c: &Compiled, rule: &CRule) -> bool {
        #[cfg(test)]
        if self.reference {
            return false;
        }
        let Some(link) = rule.links.first() else {
            return false;
        };
        if link.op.is_none() || link.memo_srcs.is_none() {
            return false;
        }
        self.link_skipped(c, rule.phase, link.idx)
    }

    /// [`CrsScratch::first_link_skipped`] for a rule of `phase` whose first link is
    /// `link` (it has an operator and memo sources), known without reading the rule.
    #[inline]
    pub(super) fn link_skipped(&mut self, c: &Compiled, phase: u8, link: u32) -> bool {
        #[cfg(test)]
        if self.reference {
            return false;
        }
        if !self.slots.skip_ok {
            self.fill_skip(c, phase);
        }
        let skipped = self
            .slots
            .skip
            .get(link as usize / 64)
            .is_some_and(|x| x & (1 << (link % 64)) != 0);
        if skipped {
            self.matched_vars.clear();
            self.starter_score = 0;
            self.op_call = self.op_call.wrapping_add(1);
        }
        skipped
    }

    /// Whether every value the link's sources hold is a known miss for it: the link
    /// cannot match and is skipped before collecting anything.
    pub(super) fn known_miss(&mut self, c: &Compiled, rule: &CRule, link: &Link) -> bool {
        if link.memo_srcs.is_none() {
            return false;
        }
        // Once per phase for every link: a link is skipped when each of its sources
        // misses it on every value. A link that misses every value of all its sources
        // misses those a `ctl` left it too, so this answers first even for a rule whose
        // targets a ctl narrowed.
        if !self.slots.skip_ok {
            self.fill_skip(c, rule.phase);
        }
        if self
            .slots
            .skip
            .get(link.idx as usize / 64)
            .is_some_and(|x| x & (1 << (link.idx % 64)) != 0)
        {
            return true;
        }
        if !rule.target_ctl || self.removed_targets.is_empty() {
            return false;
        }
        let Some(mut mask) = self.live_mask(rule, link) else {
            return false;
        };
        while mask != 0 {
            let src = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if !self.source_misses(src, link.idx) {
                return false;
            }
        }
        true
    }
}

#[path = "skip_set.rs"]
mod set;
