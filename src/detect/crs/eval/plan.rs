//! Each phase's entries as a compact array the rule loop walks without touching the
//! rules: most rules of a transaction end before evaluation (their first link is in
//! the phase's skip set, or they never match), and reading that from each rule's
//! compiled form chased three pointers per rule, about 500 times per transaction.

use super::fold::Fold;
use super::Program;
use crate::detect::crs::compile::Entry;

/// [`Step::link`] for a rule whose first link the skip set does not cover.
pub(super) const NOT_SKIPPABLE: u32 = u32::MAX;

/// One entry of a phase, as the rule loop needs it first.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    /// The rule's index; `None` for a marker.
    pub(super) rule: Option<u32>,
    /// Its outcome depends only on TX and constants ([`super::prefix`]).
    pub(super) independent: bool,
    /// It is folded to never match.
    pub(super) never: bool,
    /// Evaluated per transaction (not folded) and its first link may be in the skip
    /// set: that link's number; otherwise [`NOT_SKIPPABLE`].
    pub(super) link: u32,
}

impl Program {
    /// The steps of every phase, from the compiled entries and the folds.
    pub(super) fn plan(&self) -> [Vec<Step>; 2] {
        let mut out: [Vec<Step>; 2] = Default::default();
        for (phase, steps) in self.c.phases.iter().zip(out.iter_mut()) {
            *steps = phase.iter().map(|e| self.step(e)).collect();
        }
        out
    }

    fn step(&self, entry: &Entry) -> Step {
        let marker = Step {
            rule: None,
            independent: false,
            never: false,
            link: NOT_SKIPPABLE,
        };
        let Entry::Rule(ri) = entry else {
            return marker;
        };
        let i = *ri as usize;
        let fold = self.folded.get(i);
        let live = matches!(fold, Some(Fold::Live) | None);
        let link = self
            .c
            .rules
            .get(i)
            .and_then(|r| r.links.first())
            .filter(|l| live && l.op.is_some() && l.memo_srcs.is_some())
            .map_or(NOT_SKIPPABLE, |l| l.idx);
        Step {
            rule: Some(*ri),
            independent: self.independent.get(i).copied().unwrap_or(false),
            never: matches!(fold, Some(Fold::Never)),
            link,
        }
    }
}
