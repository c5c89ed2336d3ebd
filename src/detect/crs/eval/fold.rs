//! Constant folding: rules after the request-independent prefix whose outcome is still
//! fixed at load.
//!
//! CRS guards every file and phase with rules such as `SecRule
//! TX:DETECTION_PARANOIA_LEVEL "@lt 2" "...,skipAfter:END-..."`. They read only TX
//! variables that the initialization (the prefix, [`super::prefix`]) sets and that no
//! later rule writes, so their result is the same for every transaction. Such a rule is
//! evaluated once at load against the prefix's TX; per transaction it becomes either
//! nothing (it never matches) or its recorded match, MATCHED_VAR and jump (it always
//! matches), without collecting or comparing anything.
//!
//! A rule folds when it is one link (no chain), reads only TX variables named literally
//! (or counts them: `&TX:name`; no TX regex selector, no whole collection, no
//! MATCHED_*), every TX name it reads
//! (targets and `%{tx.*}` macros) is one no rule after the prefix can write (setvar
//! names, macro-built names by their literal prefix, captures TX:0-9), and it has no
//! ctl, capture or multiMatch. A rule with setvars (the 949 scoring sums, guarded by
//! the detection paranoia level) keeps them: only its condition is folded, the setvars
//! run per transaction as the rule matches. A chain whose first link qualifies the same
//! way and never matches is folded to nothing too (`&TX:MAX_FILE_SIZE "@eq 1"` guards
//! 920400 and the argument-length rules when the limits are unset).

use super::super::compile::{CRule, Entry, Sel};
use super::super::model::Var;
use super::super::operator::{MacroPart, MacroText, MacroVar, Operator};
use super::super::CrsMatch;
use super::{CrsOutcome, CrsScratch, Program};

/// A rule's folded outcome.
#[derive(Debug, Clone, Default)]
pub(super) enum Fold {
    /// Evaluated per transaction.
    #[default]
    Live,
    /// Never matches: skipped.
    Never,
    /// Always matches: its match, MATCHED_VAR and MATCHED_VAR_NAME.
    Always(Box<(CrsMatch, Vec<u8>, Vec<u8>)>),
    /// Always matches and has setvars to run per transaction: its evidence,
    /// MATCHED_VAR and MATCHED_VAR_NAME.
    Matches(Box<(Vec<u8>, Vec<u8>, Vec<u8>)>),
}

/// TX names rules may write after the prefix: exact names and prefixes of built names.
#[derive(Debug, Default)]
pub(super) struct Written {
    pub(super) exact: Vec<Vec<u8>>,
    pub(super) prefixes: Vec<Vec<u8>>,
}

impl Written {
    pub(super) fn add(&mut self, m: &MacroText) {
        match m.literal() {
            Some(l) => self.exact.push(l.to_ascii_lowercase()),
            None => {
                let mut p = Vec::new();
                if let Some(MacroPart::Lit(l)) = m.parts.first() {
                    p.extend(l.to_ascii_lowercase());
                }
                self.prefixes.push(p);
            }
        }
    }

    pub(super) fn may_write(&self, name: &[u8]) -> bool {
        let name = name.to_ascii_lowercase();
        self.exact.contains(&name) || self.prefixes.iter().any(|p| name.starts_with(p))
    }
}

/// The TX names a macro text reads, or false if it reads anything else.
pub(super) fn macro_reads(m: &MacroText, out: &mut Vec<Vec<u8>>) -> bool {
    m.parts.iter().all(|p| match p {
        MacroPart::Lit(_) => true,
        MacroPart::Var(MacroVar::Var(Var::Tx, Some(k))) => {
            out.push(k.as_bytes().to_vec());
            true
        }
        MacroPart::Var(MacroVar::Var(..)) | MacroPart::Var(MacroVar::Unknown) => false,
        MacroPart::Var(_) => true,
    })
}

/// The TX names a rule's first link reads, if it qualifies for folding: for a rule of
/// one link, its whole outcome; for a chain, whether it can start at all.
fn reads(rule: &CRule) -> Option<Vec<Vec<u8>>> {
    let link = rule.links.first()?;
    // (Setvars per matching value: one fixed outcome cannot say how many ran, and
    // `finish_rule`, which a folded match calls, leaves such setvars out.)
    if !link.ctls.is_empty()
        || link.op.is_none()
        || link.capture
        || link.multi_match
        || link.each_match
    {
        return None;
    }
    let mut names = Vec::new();
    for t in link.targets.iter().filter(|t| !t.excluded) {
        match (&t.var, &t.sel) {
            // `&TX:name` counts 0 or 1 by the name alone.
            (Var::Tx, Some(Sel::Name(n))) if t.excl.is_empty() => {
                names.push(n.clone());
            }
            _ => return None,
        }
    }
    let op_ok = match &link.op {
        Some(Operator::Str(_, m)) | Some(Operator::Num(_, m)) => macro_reads(m, &mut names),
        Some(Operator::IpMatch(_)) | None => false,
        Some(_) => true,
    };
    op_ok.then_some(names)
}

impl Program {
    /// Folds the rules after the prefix that qualify (see the module docs).
    pub(super) fn fold(&mut self) {
        let (written, later) = self.written_after_prefix();
        let mut folded = vec![Fold::Live; self.c.rules.len()];
        for &ri in &later {
            let Some(rule) = self.c.rules.get(ri as usize) else {
                continue;
            };
            let Some(names) = reads(rule) else { continue };
            if names.iter().any(|n| written.may_write(n)) {
                continue;
            }
            let mut s = CrsScratch::default();
            s.gate.reset(&self.c);
            s.memo
                .prepare(self.id, self.links, &[], &super::names::NameSets::default());
            s.slots.reset(s.memo.words(), self.c.memo_words);
            s.tx.reset_from(&self.prefix.tx, self.id);
            s.matched_var.clone_from(&self.prefix.matched_var);
            s.matched_name.clone_from(&self.prefix.matched_name);
            let mut out = CrsOutcome::default();
            if let [first, _, ..] = rule.links.as_slice() {
                // A chain whose first link never matches never starts (a link that
                // misses has no side effect); one whose first link matches stays live.
                let mut evidence = Vec::new();
                if !super::link::eval_link(&self.c, rule, first, &mut s, true, &mut evidence) {
                    if let Some(slot) = folded.get_mut(ri as usize) {
                        *slot = Fold::Never;
                    }
                }
                continue;
            }
            let setvars = rule.links.iter().any(|l| !l.setvars.is_empty());
            let f = if self.eval_rule(rule, &mut s, &mut out) {
                match out.matched.pop() {
                    Some(m) if setvars => {
                        Fold::Matches(Box::new((m.evidence, s.matched_var, s.matched_name)))
                    }
                    Some(m) => Fold::Always(Box::new((m, s.matched_var, s.matched_name))),
                    None => continue,
                }
            } else {
                Fold::Never
            };
            if let Some(slot) = folded.get_mut(ri as usize) {
                *slot = f;
            }
        }
        self.folded = folded;
    }

    /// The TX names rules after the prefix may write, and those rules in order.
    pub(super) fn written_after_prefix(&self) -> (Written, Vec<u32>) {
        let mut written = Written::default();
        for d in 0..10u8 {
            written.exact.push(vec![b'0' + d]);
        }
        let mut later: Vec<u32> = Vec::new();
        for (phase, entries) in self.c.phases.iter().enumerate() {
            let start = if phase == 0 { self.prefix.resume } else { 0 };
            for e in entries.iter().skip(start) {
                if let Entry::Rule(ri) = e {
                    later.push(*ri);
                }
            }
        }
        for &ri in &later {
            let Some(rule) = self.c.rules.get(ri as usize) else {
                continue;
            };
            for l in &rule.links {
                for sv in l.setvars.iter().filter(|sv| sv.tx) {
                    written.add(&sv.name);
                }
            }
        }
        (written, later)
    }

    /// Evaluates every rule per transaction again (the walk without folding, to
    /// compare verdicts with).
    #[cfg(test)]
    pub(crate) fn unfold(&mut self) {
        self.folded.clear();
    }

    /// Rules folded (never, always) — for tests and timing reports.
    pub fn folded_counts(&self) -> (usize, usize) {
        let never = self
            .folded
            .iter()
            .filter(|f| matches!(f, Fold::Never))
            .count();
        let always = self
            .folded
            .iter()
            .filter(|f| matches!(f, Fold::Always(_) | Fold::Matches(_)))
            .count();
        (never, always)
    }
}
