//! A rule's side effects: macro expansion, `setvar` (with the score it adds), the
//! run-time `ctl:` removals of rules and targets, and the checks that honour them.

use super::super::collections::{Processor, Request};
use super::super::compile::{self, CRule, Link, Sel, Target};
use super::super::model::{self, Ctl, SetVarOp, Var};
use super::super::operator::{atoi, Expand, MacroPart, MacroText, MacroVar};
use super::txmap::TxMap;
use super::*;

pub(super) struct Env<'a> {
    pub(super) req: &'a Request,
    pub(super) tx: &'a TxMap,
    pub(super) mv: &'a [u8],
    pub(super) mvn: &'a [u8],
    pub(super) rule: &'a CRule,
    /// `out` already holds this link's expansion (see `try_op`).
    pub(super) reuse: bool,
}

impl Expand for Env<'_> {
    fn expand(&mut self, m: &MacroText, out: &mut Vec<u8>) {
        if self.reuse {
            return;
        }
        expand_into(m, self.req, self.tx, self.mv, self.mvn, self.rule, out);
    }
}

pub(super) fn expand_into(
    m: &MacroText,
    req: &Request,
    tx: &TxMap,
    mv: &[u8],
    mvn: &[u8],
    rule: &CRule,
    out: &mut Vec<u8>,
) {
    out.clear();
    let mut tmp: Vec<u8> = Vec::new();
    for p in &m.parts {
        match p {
            MacroPart::Lit(l) => out.extend_from_slice(l),
            MacroPart::Var(v) => match v {
                MacroVar::RuleId => push_decimal(out, i64::from(rule.id)),
                MacroVar::RuleMsg => out.extend_from_slice(rule.msg.as_bytes()),
                MacroVar::RuleSeverity => push_decimal(out, i64::from(rule.severity)),
                MacroVar::Unknown => {}
                MacroVar::Var(var, key) => match var {
                    Var::Tx => {
                        if let Some(v) = key.as_ref().and_then(|k| tx.get(k.as_bytes())) {
                            out.extend_from_slice(v);
                        }
                    }
                    Var::MatchedVar => out.extend_from_slice(mv),
                    Var::MatchedVarName => out.extend_from_slice(mvn),
                    Var::RequestHeaders => {
                        if let Some(v) = key.as_deref().and_then(|k| req.header(k)) {
                            out.extend_from_slice(v);
                        }
                    }
                    // `%{ARGS._method}`: the first value of that name, as ModSecurity
                    // resolves a collection member (920650 compares it with the method).
                    v if v.is_collection() && key.is_some() => {
                        if let Some(val) = key.as_deref().and_then(|k| first_member(req, *v, k)) {
                            out.extend_from_slice(val);
                        }
                    }
                    v => {
                        if req.scalar(*v, &mut tmp) {
                            out.extend_from_slice(&tmp);
                        }
                    }
                },
            },
        }
    }
}

/// The first value named `name` (ASCII case ignored) among the request pools `var`
/// reads; `None` for a names-only variable or no such member.
fn first_member<'r>(req: &'r Request, var: Var, name: &str) -> Option<&'r [u8]> {
    super::collect::pools_of(var)
        .iter()
        .filter(|(_, names)| !names)
        .flat_map(|(id, _)| super::collect::pool_in(req, *id).as_slice())
        .find(|kv| kv.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|kv| kv.value.as_slice())
}

/// Runs a setvar; returns the number added for `+=` (for scoring).
pub(super) fn apply_setvar(rule: &CRule, sv: &compile::CSetVar, s: &mut CrsScratch) -> i64 {
    if !sv.tx {
        return 0;
    }
    // Reused buffers: a setvar allocates only when it creates a new variable.
    let mut name = std::mem::take(&mut s.sv_name);
    let mut val = std::mem::take(&mut s.sv_val);
    expand_into(
        &sv.name,
        &s.req,
        &s.tx,
        &s.matched_var,
        &s.matched_name,
        rule,
        &mut name,
    );
    name.make_ascii_lowercase();
    expand_into(
        &sv.value,
        &s.req,
        &s.tx,
        &s.matched_var,
        &s.matched_name,
        rule,
        &mut val,
    );
    let added = match sv.op {
        SetVarOp::Delete => {
            s.tx.remove(&name);
            0
        }
        SetVarOp::Set => {
            s.tx.set(&name, &val);
            0
        }
        SetVarOp::Add | SetVarOp::Sub => {
            let d = atoi(&val);
            let e = s.tx.entry(&name);
            let cur = atoi(e);
            let n = if sv.op == SetVarOp::Add {
                cur.saturating_add(d)
            } else {
                cur.saturating_sub(d)
            };
            e.clear();
            push_decimal(e, n);
            if sv.op == SetVarOp::Add {
                d
            } else {
                0
            }
        }
    };
    s.sv_name = name;
    s.sv_val = val;
    added
}

/// Appends `n` in decimal to `out` without allocating.
pub(super) fn push_decimal(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[i..]);
}

impl CrsScratch {
    pub(super) fn is_removed(&self, rule: &CRule) -> bool {
        self.removed_ids
            .iter()
            .any(|&(a, b)| rule.id >= a && rule.id <= b)
            || self
                .removed_tags
                .iter()
                .any(|t| rule.tags.iter().any(|x| x == t))
    }

    /// Whether a `ctl` removed target `t`'s whole variable from `rule` this
    /// transaction (selector removals are checked per value, in `name_removed`).
    #[inline]
    pub(super) fn target_removed(&mut self, rule: &CRule, t: &Target) -> bool {
        if !rule.target_ctl || self.removed_targets.is_empty() {
            return false;
        }
        match self.removals_for(rule) {
            Some(0) => false,
            Some(m) => self
                .removed_targets
                .iter()
                .enumerate()
                .any(|(k, (_, _, spec))| {
                    m & (1 << k) != 0 && spec.selector.is_none() && spec.var == t.var
                }),
            None => self.removed_targets.iter().any(|(id, tag, spec)| {
                spec.selector.is_none() && spec.var == t.var && applies(rule, *id, tag.as_deref())
            }),
        }
    }

    /// The `removed_targets` entries that apply to `rule`, one bit each: 0 for a rule no
    /// `ctl` names (`target_ctl`, fixed at load) or when nothing was removed; `None` past
    /// 64 entries. Matching a removal's tag against the rule's tags costs string
    /// comparisons, so the answer is kept per rule until the next removal.
    pub(super) fn removals_for(&mut self, rule: &CRule) -> Option<u64> {
        if !rule.target_ctl || self.removed_targets.is_empty() {
            return Some(0);
        }
        if self.removed_targets.len() > 64 {
            return None;
        }
        let i = rule.idx as usize;
        if let Some(&(epoch, m)) = self.rule_removals.get(i) {
            if epoch == self.removal_epoch {
                return Some(m);
            }
        }
        let m = self
            .removed_targets
            .iter()
            .enumerate()
            .filter(|(_, (id, tag, _))| applies(rule, *id, tag.as_deref()))
            .fold(0u64, |m, (k, _)| m | 1 << k);
        if self.rule_removals.len() <= i {
            self.rule_removals.resize(i + 1, (u64::MAX, 0));
        }
        self.rule_removals[i] = (self.removal_epoch, m);
        Some(m)
    }

    pub(super) fn name_removed(&self, rule: &CRule, var: Var, name: &[u8]) -> bool {
        rule.target_ctl
            && self.removed_targets.iter().any(|(id, tag, spec)| {
                spec.var == var
                    && applies(rule, *id, tag.as_deref())
                    && match &spec.selector {
                        Some(model::SelectorSpec::Name(n)) => {
                            n.as_bytes().eq_ignore_ascii_case(name)
                        }
                        Some(model::SelectorSpec::Regex(r)) => {
                            Sel::compile(&model::SelectorSpec::Regex(r.clone()))
                                .map(|s| s.matches(name))
                                .unwrap_or(false)
                        }
                        None => false,
                    }
            })
    }

    pub(super) fn apply_ctl(&mut self, c: &Ctl) {
        match c {
            Ctl::RuleRemoveById(a, b) => self.removed_ids.push((*a, *b)),
            Ctl::RuleRemoveByTag(t) => self.removed_tags.push(t.clone()),
            Ctl::RuleRemoveTargetById(id, t) => {
                for spec in &t.specs {
                    self.removed_targets.push((Some(*id), None, spec.clone()));
                }
                self.removal_epoch = self.removals.advance(self.removal_epoch, c);
            }
            Ctl::RuleRemoveTargetByTag(tag, t) => {
                for spec in &t.specs {
                    self.removed_targets
                        .push((None, Some(tag.clone()), spec.clone()));
                }
                self.removal_epoch = self.removals.advance(self.removal_epoch, c);
            }
            Ctl::RequestBodyProcessor(p) => self.body_processor = Processor::from_name(p),
            Ctl::ForceRequestBodyVariable(on) => {
                let before = self.req.body_exposed();
                self.req.force_body_var = *on;
                if self.req.body_exposed() != before {
                    self.body_exposure_changed();
                }
            }
            Ctl::Other => {}
        }
    }

    /// Runs a chain starter's setvars at its match (see [`eval_link`]).
    pub(super) fn run_starter_setvars(&mut self, rule: &CRule, link: &Link) {
        for sv in &link.setvars {
            let added = setvar_score(apply_setvar(rule, sv, self), sv);
            self.starter_score = self.starter_score.saturating_add(added);
        }
    }
}

pub(super) fn applies(rule: &CRule, id: Option<u32>, tag: Option<&str>) -> bool {
    match (id, tag) {
        (Some(i), _) => rule.id == i,
        (None, Some(t)) => rule.tags.iter().any(|x| x == t),
        _ => false,
    }
}
