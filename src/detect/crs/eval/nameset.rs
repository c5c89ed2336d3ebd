//! Rules decided by the request's header names alone, evaluated once per distinct list
//! of names per worker (920450, the restricted-header rule).
//!
//! 920450 captures every header name (`REQUEST_HEADERS_NAMES "@rx ^.*$"`), writes
//! `tx.header_name_920450_<name>` per header, then its chain link looks for those TX
//! variables in a constant list (`@within %{tx.restricted_headers_basic}`). Per header
//! that is a capture, two macro expansions and a TX write: about 19k instructions per
//! transaction on the benchmark capture, for a result that depends on nothing but the
//! header names, and browsers send the same few lists of names again and again.
//!
//! A rule qualifies at load when its first link reads only REQUEST_HEADERS_NAMES, its
//! later links only TX variables through a selector `^literal` that no other rule (nor
//! a capture, nor the prefix's TX) can write, every TX variable its operators and
//! chain-starter setvars read is one no rule after the prefix writes (captures TX:0-9
//! allowed when the link captures: it just wrote them), and it has no ctl, no
//! multiMatch and no `ctl` naming it. Its links then read only the header names and
//! constants, so the first evaluation for a list of names records what the links did —
//! the TX slots written with their final values, MATCHED_VAR(S), the starters' score,
//! whether the chain matched and its evidence — and later transactions with the same
//! list replay that by slot number, then run the last link's setvars and record the
//! match as the plain evaluation does. The key is the raw names in order (duplicates
//! and letter case included), so the replay is exact.

use ahash::AHashMap;

use super::super::compile::Sel;
use super::fold::{macro_reads, Written};
use super::link::eval_link;
use super::txmap::TxMap;
use super::*;
use crate::detect::crs::operator::Operator;

/// Distinct (rule, list of header names) entries kept per worker; past it the memo
/// starts over (counted in `memo_resets`).
pub(super) const MAX_NAME_LISTS: usize = 1024;

/// What a rule's links did for one list of header names.
#[derive(Debug)]
struct Effect {
    /// TX slots written (or removed: None), with their values after the links.
    writes: Vec<(u32, Option<Vec<u8>>)>,
    matched_var: Vec<u8>,
    matched_name: Vec<u8>,
    matched_vars: Vec<(Vec<u8>, Vec<u8>)>,
    starter_score: u32,
    /// Every link matched, with this evidence.
    matched: Option<Vec<u8>>,
}

/// Per worker: the recorded effects, valid for one program and one TX slot epoch.
#[derive(Debug, Default)]
pub(super) struct NameSetMemo {
    owner: u64,
    epoch: u64,
    map: AHashMap<Vec<u8>, Effect>,
    key: Vec<u8>,
    /// Times the memo was full and started over.
    pub(super) resets: u64,
}

/// The rules that qualify (see the module docs), by rule index.
pub(super) fn keyed_rules(p: &Program) -> Vec<bool> {
    let (all, later) = p.written_after_prefix();
    let mut out = vec![false; p.c.rules.len()];
    for &ri in &later {
        let Some(rule) = p.c.rules.get(ri as usize) else {
            continue;
        };
        if !shape_ok(rule, &all) {
            continue;
        }
        // Who else may write a name the TX links select: other rules' setvars, this
        // rule's own last-link setvars (they run after the links), captures.
        let mut others = Written::default();
        for d in 0..10u8 {
            others.exact.push(vec![b'0' + d]);
        }
        for &rj in later.iter().filter(|&&rj| rj != ri) {
            if let Some(r) = p.c.rules.get(rj as usize) {
                for sv in r.links.iter().flat_map(|l| &l.setvars).filter(|sv| sv.tx) {
                    others.add(&sv.name);
                }
            }
        }
        for sv in rule.links.last().map_or(&[][..], |l| &l.setvars[..]) {
            if sv.tx {
                others.add(&sv.name);
            }
        }
        let private = rule.links[1..]
            .iter()
            .flat_map(|l| &l.targets)
            .filter(|t| !t.excluded)
            .all(|t| selector_private(t.sel.as_ref(), &others, &p.prefix.tx));
        if let Some(slot) = out.get_mut(ri as usize) {
            *slot = private;
        }
    }
    out
}

/// The rule's links read only header names (first link), TX through selectors (the
/// others) and TX variables no later rule writes.
fn shape_ok(rule: &CRule, written: &Written) -> bool {
    let Some((first, rest)) = rule.links.split_first() else {
        return false;
    };
    if rest.is_empty() || rule.target_ctl {
        return false;
    }
    let targets_ok = |l: &compile::Link, want: Var, selected: bool| {
        let live: Vec<_> = l.targets.iter().filter(|t| !t.excluded).collect();
        !live.is_empty()
            && live.iter().all(|t| {
                t.var == want && !t.count && (!selected || t.excl.is_empty() && t.sel.is_some())
            })
    };
    if !targets_ok(first, Var::RequestHeadersNames, false)
        || !rest.iter().all(|l| targets_ok(l, Var::Tx, true))
    {
        return false;
    }
    let n = rule.links.len();
    rule.links.iter().enumerate().all(|(i, l)| {
        let mut reads = Vec::new();
        let op_ok = match &l.op {
            Some(Operator::Str(_, m)) | Some(Operator::Num(_, m)) => macro_reads(m, &mut reads),
            Some(Operator::IpMatch(_)) | None => false,
            Some(_) => true,
        };
        // A chain starter's setvars run during the links: they must read constants
        // (or the captures the link just made).
        // (A last link running its setvars per match is replayed like a starter.)
        let setvars_ok = (i + 1 == n && !l.each_match)
            || l.setvars
                .iter()
                .all(|sv| macro_reads(&sv.name, &mut reads) && macro_reads(&sv.value, &mut reads));
        let capture = l.capture;
        op_ok
            && setvars_ok
            && l.ctls.is_empty()
            && !l.multi_match
            && reads.iter().all(|k| {
                let digit = k.len() == 1 && k[0].is_ascii_digit();
                (capture && digit) || !written.may_write(k)
            })
    })
}

/// The literal a `^literal` TX selector requires (lowercase), if it is one.
fn selector_prefix(sel: Option<&Sel>) -> Option<Vec<u8>> {
    let Some(Sel::Regex(r)) = sel else {
        return None;
    };
    let rest = r.as_str().strip_prefix("(?i)")?.strip_prefix('^')?;
    let ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then(|| rest.to_ascii_lowercase().into_bytes())
}

/// No name the selector takes can be written by `others` or set in the prefix's TX.
fn selector_private(sel: Option<&Sel>, others: &Written, base: &TxMap) -> bool {
    let (Some(lit), Some(sel)) = (selector_prefix(sel), sel) else {
        return false;
    };
    // A built name starting with `p` can start with `lit` unless they differ early.
    let apart = |p: &Vec<u8>| p.iter().zip(&lit).any(|(a, b)| a != b);
    others.exact.iter().all(|e| !sel.matches(e))
        && others.prefixes.iter().all(apart)
        && (0..base.slot_count()).all(|i| !sel.matches(base.slot_name(i)))
}

impl NameSetMemo {
    fn prepare(&mut self, owner: u64, epoch: u64) {
        if self.owner != owner || self.epoch != epoch {
            self.map.clear();
            self.owner = owner;
            self.epoch = epoch;
        }
    }
}

impl Program {
    /// Evaluates a rule, through the header-name memo when it qualifies.
    pub(super) fn eval_rule_keyed(
        &self,
        rule: &CRule,
        s: &mut CrsScratch,
        out: &mut CrsOutcome,
    ) -> bool {
        #[cfg(test)]
        if s.reference {
            return self.eval_rule(rule, s, out);
        }
        if !self.keyed.get(rule.idx as usize).copied().unwrap_or(false) {
            return self.eval_rule(rule, s, out);
        }
        let m = &mut s.names_memo;
        m.prepare(self.id, s.tx.epoch());
        m.key.clear();
        m.key.extend_from_slice(&rule.idx.to_le_bytes());
        for kv in s.req.headers.as_slice() {
            m.key
                .extend_from_slice(&(kv.name.len() as u32).to_le_bytes());
            m.key.extend_from_slice(&kv.name);
        }
        if let Some(e) = m.map.get(&m.key[..]) {
            for (slot, v) in &e.writes {
                s.tx.set_slot(*slot, v.as_deref());
            }
            s.matched_var.clone_from(&e.matched_var);
            s.matched_name.clone_from(&e.matched_name);
            s.matched_vars.clear();
            for (n, v) in &e.matched_vars {
                let kv = s.matched_vars.push();
                kv.name.extend_from_slice(n);
                kv.value.extend_from_slice(v);
            }
            s.starter_score = e.starter_score;
            let Some(evidence) = &e.matched else {
                return false;
            };
            // (A spare buffer taken by field: `e` borrows the memo.)
            let mut ev = s.spare_evidence.pop().unwrap_or_default();
            ev.extend_from_slice(evidence);
            self.finish_rule(rule, s, out, ev);
            return true;
        }
        self.record(rule, s, out)
    }

    /// The plain evaluation of a qualifying rule, recording what its links did.
    fn record(&self, rule: &CRule, s: &mut CrsScratch, out: &mut CrsOutcome) -> bool {
        let mut evidence = Vec::new();
        s.matched_vars.clear();
        s.starter_score = 0;
        s.tx.log.clear();
        s.tx.logging = true;
        let mut all = true;
        for (n, link) in rule.links.iter().enumerate() {
            let starter = n + 1 < rule.links.len();
            if !eval_link(&self.c, rule, link, s, starter, &mut evidence) {
                all = false;
                break;
            }
        }
        s.tx.logging = false;
        let mut log = std::mem::take(&mut s.tx.log);
        log.sort_unstable();
        log.dedup();
        let writes = log
            .iter()
            .map(|&i| (i, s.tx.slot_value(i as usize).map(<[u8]>::to_vec)))
            .collect();
        s.tx.log = log;
        let e = Effect {
            writes,
            matched_var: s.matched_var.clone(),
            matched_name: s.matched_name.clone(),
            matched_vars: s
                .matched_vars
                .as_slice()
                .iter()
                .map(|kv| (kv.name.clone(), kv.value.clone()))
                .collect(),
            starter_score: s.starter_score,
            matched: all.then(|| evidence.clone()),
        };
        let m = &mut s.names_memo;
        if m.map.len() >= MAX_NAME_LISTS {
            m.map.clear();
            m.resets += 1;
        }
        m.map.insert(m.key.clone(), e);
        if all {
            self.finish_rule(rule, s, out, evidence);
        }
        all
    }

    /// Rules evaluated through the header-name memo (for tests and reports).
    pub fn name_keyed_rules(&self) -> Vec<u32> {
        self.c
            .rules
            .iter()
            .filter(|r| self.keyed.get(r.idx as usize).copied().unwrap_or(false))
            .map(|r| r.id)
            .collect()
    }
}
