//! The request-independent start of phase 1, run once at load.
//!
//! CRS begins every transaction with rules that read only TX and constants (its
//! initialization file sets some sixty `tx.*` defaults, and the paranoia-level skips
//! follow). Their outcome is the same for every transaction, so [`Prefix::build`] runs
//! them once over an empty scratch and keeps what they leave: the TX collection, the
//! matches recorded, MATCHED_VAR and where phase 1 goes on. Each transaction starts
//! from that state instead of running them again. A rule is independent when every
//! link's targets are TX or MATCHED_* (or always empty), its operator is not `@ipMatch`
//! (which falls back to the client address), every macro it expands reads only those,
//! and it has no `ctl` action.

use super::super::compile::{CRule, Link};
use super::super::model::Var;
use super::super::operator::{MacroPart, MacroText, MacroVar, Operator};
use super::super::CrsMatch;
use super::{CrsOutcome, CrsScratch, Program};

/// What the independent start of phase 1 leaves.
#[derive(Debug, Default)]
pub(super) struct Prefix {
    /// Index in phase 1's entries where evaluation goes on.
    pub(super) resume: usize,
    pub(super) tx: super::txmap::TxMap,
    pub(super) matched: Vec<CrsMatch>,
    pub(super) matched_var: Vec<u8>,
    pub(super) matched_name: Vec<u8>,
}

fn var_independent(v: Var) -> bool {
    matches!(
        v,
        Var::Tx
            | Var::MatchedVar
            | Var::MatchedVars
            | Var::MatchedVarName
            | Var::MatchedVarsNames
            | Var::Empty
    )
}

fn macro_independent(m: &MacroText) -> bool {
    m.parts.iter().all(|p| match p {
        MacroPart::Lit(_) => true,
        MacroPart::Var(MacroVar::Var(v, _)) => var_independent(*v),
        MacroPart::Var(_) => true,
    })
}

fn link_independent(l: &Link) -> bool {
    let op = match &l.op {
        None => true,
        Some(Operator::IpMatch(_)) => false,
        Some(Operator::Str(_, m)) | Some(Operator::Num(_, m)) => macro_independent(m),
        Some(_) => true,
    };
    op && l.ctls.is_empty()
        && l.targets.iter().all(|t| var_independent(t.var))
        && l.setvars
            .iter()
            .all(|sv| macro_independent(&sv.name) && macro_independent(&sv.value))
}

/// Whether a rule's outcome depends on nothing but TX and constants.
pub(super) fn independent(rule: &CRule) -> bool {
    rule.links.iter().all(link_independent)
}

impl Prefix {
    /// Runs phase 1 over an empty scratch up to its first request-dependent rule.
    pub(super) fn build(p: &Program) -> Prefix {
        let mut s = CrsScratch::default();
        s.gate.reset(&p.c);
        s.memo
            .prepare(p.id, p.links, &[], &super::names::NameSets::default());
        s.slots.reset(s.memo.words(), p.c.memo_words);
        let mut out = CrsOutcome::default();
        let resume = p.run_phase(0, &mut s, &mut out, 0, true);
        Prefix {
            resume,
            tx: s.tx,
            matched: out.matched,
            matched_var: s.matched_var,
            matched_name: s.matched_name,
        }
    }
}
