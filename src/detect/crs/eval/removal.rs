//! Target removals by `ctl:ruleRemoveTarget*`, remembered across transactions.
//!
//! Which targets a transaction has removed from which rules depends only on the
//! sequence of removal `ctl`s it has applied so far (each `ctl` always removes the same
//! targets). Each distinct sequence gets a state id, interned per worker: (state, ctl)
//! -> next state. What depends on the removals (which removals apply to a rule, which
//! value sources a narrowed link still reads) is cached keyed by that id, so 941010's
//! removal of REQUEST_FILENAME from the XSS rules, applied by nearly every request, is
//! worked out once per worker instead of once per transaction and link. Ids are never
//! reused: a cache entry of an older state, of a cleared table or of another program
//! never matches again.

use std::sync::Arc;

use ahash::AHashMap;

use super::super::compile::{CRule, Compiled, Link};
use super::super::model::{self, Ctl};
use super::sources::N_SOURCES;
use super::CrsScratch;

/// A target a `ctl` removed this transaction: from the rule with this id, or the rules
/// with this tag.
pub(super) type RemovedTarget = (Option<u32>, Option<Arc<str>>, Arc<model::TargetSpec>);

/// The state of a transaction that removed nothing.
pub(super) const EMPTY: u64 = 0;
/// Distinct removal states remembered per worker; past it the table starts over at the
/// next transaction (counted as a memo reset).
pub(super) const MAX_REMOVAL_STATES: usize = 1024;
/// A live-source mask meaning "undecided": a `ctl` removed some names of a variable
/// from the rule, so the values it left out were not looked at (sources are below 64).
const UNDECIDED: u64 = 1 << 63;
const _: () = assert!(super::sources::N_SOURCES < 63);

/// The per-worker table of removal states and the per-link live sources.
#[derive(Debug, Default)]
pub(super) struct RemovalStates {
    /// Program the table was built for (ctls are named by address).
    owner: u64,
    /// (state, address of the ctl in the program) -> the state after that ctl.
    next: AHashMap<(u64, usize), u64>,
    /// The last id handed out.
    last: u64,
    /// Per link index: (state, live-source mask or [`UNDECIDED`]).
    link_live: Vec<(u64, u64)>,
    /// The state `removed` was worked out for (`u64::MAX`: none).
    removed_state: u64,
    /// Per value source, `words` u64: the links whose rule a `ctl` removed that whole
    /// source from in state `removed_state` (see [`CrsScratch::removed_users`]).
    removed: Vec<u64>,
    /// Times the table was full and cleared (taken by the stats).
    pub(super) resets: u64,
}

impl RemovalStates {
    /// At each transaction start: a table of another program, or a full one, is
    /// cleared. The transaction starts in [`EMPTY`].
    pub(super) fn prepare(&mut self, owner: u64) {
        if self.owner != owner {
            self.owner = owner;
            self.next.clear();
            self.removed_state = u64::MAX;
        } else if self.next.len() >= MAX_REMOVAL_STATES {
            self.next.clear();
            self.resets += 1;
        }
    }

    /// The state after applying removal `ctl` in state `state`.
    pub(super) fn advance(&mut self, state: u64, ctl: &Ctl) -> u64 {
        let key = (state, ctl as *const Ctl as usize);
        if let Some(&s) = self.next.get(&key) {
            return s;
        }
        self.last += 1;
        self.next.insert(key, self.last);
        self.last
    }
}

impl CrsScratch {
    /// Per value source (`words` u64 each), the links that no longer read it in this
    /// transaction because a `ctl` removed it whole from their rule: none of their values
    /// there can match, so the per-phase skip set treats the source as missed for them
    /// (941010 removes REQUEST_FILENAME from the XSS rules in nearly every request, and
    /// the misses of a removed source are never recorded). `None` in the state that
    /// removed nothing. Worked out once per removal state and kept.
    pub(super) fn removed_users(&mut self, c: &Compiled, words: usize) -> Option<&[u64]> {
        if self.removal_epoch == EMPTY || self.removed_targets.is_empty() {
            return None;
        }
        #[cfg(test)]
        if self.reference {
            return None;
        }
        if self.removals.removed_state != self.removal_epoch
            || self.removals.removed.len() != N_SOURCES * words
        {
            let mut removed = std::mem::take(&mut self.removals.removed);
            removed.clear();
            removed.resize(N_SOURCES * words, 0);
            for rule in c.rules.iter().filter(|r| r.target_ctl) {
                for link in &rule.links {
                    let Some(live) = self.live_mask(rule, link) else {
                        continue;
                    };
                    let mut gone = link.memo_mask & !live;
                    while gone != 0 {
                        let src = gone.trailing_zeros() as usize;
                        gone &= gone - 1;
                        let at = src * words + link.idx as usize / 64;
                        if let Some(w) = removed.get_mut(at) {
                            *w |= 1 << (link.idx % 64);
                        }
                    }
                }
            }
            self.removals.removed = removed;
            self.removals.removed_state = self.removal_epoch;
        }
        Some(&self.removals.removed)
    }

    /// The value sources (bit mask over the memo numbering) a link reads this
    /// transaction: its memo sources, less those a `ctl` removed whole from its rule.
    /// `None` for a link without memo sources, or when a `ctl` removed some names of a
    /// variable from the rule (the values it left out were not looked at). Cached per
    /// link and removal state.
    pub(super) fn live_mask(&mut self, rule: &CRule, link: &Link) -> Option<u64> {
        link.memo_srcs.as_ref()?;
        let applying = match self.removals_for(rule) {
            Some(0) => return Some(link.memo_mask),
            Some(m) => m,
            None => return None,
        };
        #[cfg(test)]
        if self.reference {
            return self.live_mask_uncached(link, applying);
        }
        let i = link.idx as usize;
        if let Some(&(state, mask)) = self.removals.link_live.get(i) {
            if state == self.removal_epoch {
                return (mask != UNDECIDED).then_some(mask);
            }
        }
        let mask = self.live_mask_uncached(link, applying);
        if self.removals.link_live.len() <= i {
            self.removals.link_live.resize(i + 1, (u64::MAX, 0));
        }
        self.removals.link_live[i] = (self.removal_epoch, mask.unwrap_or(UNDECIDED));
        mask
    }

    /// [`CrsScratch::live_mask`] worked out from the removals (`applying`: the bits of
    /// the `removed_targets` entries that apply to the link's rule).
    fn live_mask_uncached(&self, link: &Link, applying: u64) -> Option<u64> {
        let removals = || {
            self.removed_targets
                .iter()
                .enumerate()
                .filter(move |(k, _)| applying & (1 << k) != 0)
                .map(|(_, (_, _, spec))| spec)
        };
        if removals().any(|spec| spec.selector.is_some()) {
            return None;
        }
        let mut mask = 0u64;
        for t in &link.targets {
            if !t.excluded && !removals().any(|spec| spec.var == t.var) {
                mask |= t.src_mask;
            }
        }
        Some(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_of_ctls_keeps_its_state_and_a_new_table_never_reuses_an_id() {
        let a = Ctl::RuleRemoveById(1, 1);
        let b = Ctl::RuleRemoveById(2, 2);
        let mut r = RemovalStates::default();
        r.prepare(7);
        let sa = r.advance(EMPTY, &a);
        let sab = r.advance(sa, &b);
        let sb = r.advance(EMPTY, &b);
        let sba = r.advance(sb, &a);
        let all = [EMPTY, sa, sab, sb, sba];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y, "distinct sequences, distinct states");
            }
        }
        // The same sequence in a later transaction: the same states.
        r.prepare(7);
        assert_eq!(r.advance(EMPTY, &a), sa);
        assert_eq!(r.advance(sa, &b), sab);
        assert_eq!(r.resets, 0);
        // Another program: a fresh table whose ids were never handed out.
        r.prepare(8);
        let sa2 = r.advance(EMPTY, &a);
        assert!(!all.contains(&sa2));
        // A full table starts over (counted), again with fresh ids.
        let ctls: Vec<Ctl> = (0..MAX_REMOVAL_STATES as u32)
            .map(|i| Ctl::RuleRemoveById(i, i))
            .collect();
        for c in &ctls {
            r.advance(sa2, c);
        }
        r.prepare(8);
        assert_eq!(r.resets, 1);
        let sa3 = r.advance(EMPTY, &a);
        assert!(sa3 > sa2 && !all.contains(&sa3));
    }
}
