//! Running the program over one transaction: phases, chains, setvar, skipAfter, ctl,
//! capture, MATCHED_VAR(S), and the anomaly score.
//!
//! Values are gathered per target into a reused candidate list; each value's
//! transformation chain runs once per transaction and is cached by (value, chain) in an
//! arena, so the many rules sharing `t:urlDecodeUni,t:lowercase` over ARGS transform each
//! argument once. Rules execute their actions once per match (libmodsecurity v3's
//! behaviour), and a rule stops at its first matching value unless it starts a chain.

use std::net::IpAddr;

use ahash::AHashMap;

use super::bodyproc::{build_phase2, processor_for};
use super::collections::{Kv, Pool, Processor, Request};
use super::compile::{self, CRule, Compiled, Entry, Link, Sel, Target};
use super::model::{self, Ctl, SetVarOp, Var};
use super::operator::{atoi, Evidence, Expand, MacroPart, MacroText, MacroVar};
use super::transform::Transform;
use super::{CrsError, CrsMatch, CrsOutcome, CrsSettings, CrsStats};
use crate::detect::alert::MAX_EVIDENCE_BYTES;
use crate::http::HttpTransaction;

#[path = "eval_gate.rs"]
mod gate;
#[path = "eval_prefix.rs"]
mod prefix;

/// Rule matches recorded per transaction at most.
const MAX_MATCHES: usize = 256;
/// (link, value) pairs remembered as misses per thread; the memo is cleared when full.
const MAX_MEMO_ENTRIES: usize = 1 << 17;
/// Transformed bytes cached per transaction at most; past it values are transformed
/// again each time (counted).
const MAX_CACHE_BYTES: usize = 4 << 20;

/// The compiled rules.
#[derive(Debug)]
pub struct Program {
    c: Compiled,
    /// Marker positions per phase.
    markers: [AHashMap<String, usize>; 2],
    /// Per rule: whether its outcome depends only on TX and constants.
    independent: Vec<bool>,
    /// What the independent start of phase 1 leaves (see [`prefix`]).
    prefix: prefix::Prefix,
}

/// Where a candidate value lives.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// A pool of the request; `names` takes the name instead of the value.
    Pool(PoolId, bool, u32),
    /// The scratch pool of copied values (TX, counts, MATCHED_*).
    Tmp(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolId {
    ArgsGet,
    ArgsPost,
    Cookies,
    Headers,
    Files,
    FilesSizes,
    PartHeaders,
    Xml,
}

/// A candidate: its source and the variable it came through (for MATCHED_VAR_NAME).
#[derive(Debug, Clone, Copy)]
struct Cand {
    src: Src,
    var: Var,
}

/// Reused per-transaction state. One per worker thread.
#[derive(Debug, Default)]
pub struct CrsScratch {
    req: Request,
    tx: AHashMap<Vec<u8>, Vec<u8>>,
    tmp: Pool,
    cands: Vec<Cand>,
    cache: AHashMap<(u32, u16), (u32, u32)>,
    arena: Vec<u8>,
    t1: Vec<u8>,
    t2: Vec<u8>,
    buf: Vec<u8>,
    caps: Vec<Vec<u8>>,
    matched_var: Vec<u8>,
    matched_name: Vec<u8>,
    matched_vars: Pool,
    /// Score added by chain starters' setvars during the current rule.
    starter_score: u32,
    removed_ids: Vec<(u32, u32)>,
    removed_tags: Vec<String>,
    removed_targets: Vec<(Option<u32>, Option<String>, model::TargetSpec)>,
    body_processor: Option<Processor>,
    memo: ahash::AHashSet<(u32, u64)>,
    hashes: AHashMap<u32, u64>,
    hasher: ahash::RandomState,
    remote: Option<IpAddr>,
    /// Values transformed again because the per-transaction cache was full.
    uncached: u64,
    /// Rule matches not recorded past [`MAX_MATCHES`] this transaction.
    matches_dropped: u64,
    /// Times the per-thread memo was full and cleared (kept across transactions).
    memo_resets: u64,
    gate: gate::GateState,
    sv_name: Vec<u8>,
    sv_val: Vec<u8>,
    count_buf: Vec<u8>,
}

impl Program {
    pub fn compile(items: Vec<super::load::Item>, s: &CrsSettings) -> Result<Program, CrsError> {
        let mut c = compile::compile(items, s)?;
        for rule in &mut c.rules {
            for link in &mut rule.links {
                if link.gate.is_none() {
                    continue;
                }
                let mut srcs = Vec::new();
                let mut ok = true;
                for t in link.targets.iter().filter(|t| !t.excluded) {
                    ok &= gate::sources_of(t.var, &mut srcs);
                }
                srcs.sort_unstable();
                srcs.dedup();
                if ok {
                    link.gate_srcs = srcs;
                } else {
                    link.gate = None;
                }
            }
        }
        let mut markers: [AHashMap<String, usize>; 2] = Default::default();
        for (p, m) in c.phases.iter().zip(markers.iter_mut()) {
            for (i, e) in p.iter().enumerate() {
                if let Entry::Marker(n) = e {
                    m.insert(n.clone(), i);
                }
            }
        }
        let independent = c.rules.iter().map(prefix::independent).collect();
        let mut p = Program {
            c,
            markers,
            independent,
            prefix: prefix::Prefix::default(),
        };
        p.prefix = prefix::Prefix::build(&p);
        Ok(p)
    }

    pub fn rule_msg(&self, id: u32) -> Option<&str> {
        self.c
            .rules
            .iter()
            .find(|r| r.id == id && !r.msg.is_empty())
            .map(|r| r.msg.as_str())
    }

    pub fn rule_count(&self) -> usize {
        self.c.rules.len()
    }

    /// (links with an operator, links with a literal gate, distinct gate literals).
    pub fn gate_counts(&self) -> (usize, usize, usize) {
        let links = self.c.rules.iter().flat_map(|r| &r.links);
        let with_op = links.clone().filter(|l| l.op.is_some()).count();
        let gated = links.filter(|l| l.gate.is_some()).count();
        (with_op, gated, self.c.prefilter.literals())
    }

    /// Runs phases 1 and 2.
    pub fn run(
        &self,
        txn: &HttpTransaction,
        s: &mut CrsScratch,
        out: &mut CrsOutcome,
        stats: &CrsStats,
    ) {
        s.tx.clone_from(&self.prefix.tx);
        s.hashes.clear();
        s.cache.clear();
        s.arena.clear();
        s.removed_ids.clear();
        s.removed_tags.clear();
        s.removed_targets.clear();
        s.body_processor = None;
        s.matched_vars.clear();
        s.matched_var.clone_from(&self.prefix.matched_var);
        s.matched_name.clone_from(&self.prefix.matched_name);
        out.matched.extend(self.prefix.matched.iter().cloned());
        s.uncached = 0;
        s.matches_dropped = 0;
        s.remote = Some(txn.client.ip());
        s.req.build_phase1(txn);
        s.req.processor = processor_for(s.req.header("content-type"));
        s.gate.reset(&self.c);
        self.run_phase(0, s, out, self.prefix.resume, false);
        build_phase2(&mut s.req, txn, s.body_processor);
        s.cache.clear();
        s.arena.clear();
        s.gate.reset(&self.c);
        self.run_phase(1, s, out, 0, false);
        stats.record(
            s.req.caps,
            s.uncached,
            s.matches_dropped,
            std::mem::take(&mut s.memo_resets),
            s.req.reqbody_error,
        );
        let tx_num = |s: &CrsScratch, k: &[u8]| s.tx.get(k).map(|v| atoi(v));
        let blocking = tx_num(s, b"blocking_paranoia_level")
            .unwrap_or(1)
            .clamp(1, 4);
        let score = tx_num(s, b"blocking_inbound_anomaly_score").unwrap_or_else(|| {
            (1..=blocking)
                .filter_map(|pl| tx_num(s, format!("inbound_anomaly_score_pl{pl}").as_bytes()))
                .sum()
        });
        out.score = u32::try_from(score.max(0)).unwrap_or(u32::MAX);
        out.threshold = tx_num(s, b"inbound_anomaly_score_threshold")
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(5);
    }

    /// Runs a phase's entries from `start`; with `prefix_only`, stops before the first
    /// rule that depends on the request and returns its index.
    fn run_phase(
        &self,
        phase: usize,
        s: &mut CrsScratch,
        out: &mut CrsOutcome,
        start: usize,
        prefix_only: bool,
    ) -> usize {
        let entries = &self.c.phases[phase];
        let mut i = start;
        while i < entries.len() {
            let Entry::Rule(ri) = &entries[i] else {
                i += 1;
                continue;
            };
            if prefix_only && !self.independent.get(*ri as usize).copied().unwrap_or(false) {
                return i;
            }
            i += 1;
            let Some(rule) = self.c.rules.get(*ri as usize) else {
                continue;
            };
            if s.is_removed(rule) {
                continue;
            }
            if !self.eval_rule(rule, s, out) {
                continue;
            }
            if let Some(m) = &rule.skip_after {
                // A marker missing from this phase ends the phase, as in ModSecurity.
                i = self.markers[phase]
                    .get(m)
                    .map(|p| p + 1)
                    .unwrap_or(entries.len());
            } else if rule.skip > 0 {
                let mut left = rule.skip;
                while left > 0 && i < entries.len() {
                    if matches!(entries[i], Entry::Rule(_)) {
                        left -= 1;
                    }
                    i += 1;
                }
            }
        }
        entries.len()
    }

    /// Evaluates a rule and its chain; on a full match runs the actions and records it.
    fn eval_rule(&self, rule: &CRule, s: &mut CrsScratch, out: &mut CrsOutcome) -> bool {
        let mut evidence = Vec::new();
        // MATCHED_VARS is reset per rule, not per link: a chain link reads the values the
        // links before it matched (Coraza resets it before each top-level rule).
        s.matched_vars.clear();
        s.starter_score = 0;
        for (n, link) in rule.links.iter().enumerate() {
            let starter = n + 1 < rule.links.len();
            if !eval_link(&self.c, rule, link, s, starter, &mut evidence) {
                return false;
            }
        }
        let mut score = s.starter_score;
        // The links before the last ran their setvars as they matched (eval_link); the
        // last link's run once here, on the full match, with the ctls of every link.
        if let Some(last) = rule.links.last() {
            for sv in &last.setvars {
                score = score.saturating_add(setvar_score(apply_setvar(rule, sv, s), sv));
            }
        }
        for link in &rule.links {
            for c in &link.ctls {
                s.apply_ctl(c);
            }
        }
        if out.matched.len() >= MAX_MATCHES {
            s.matches_dropped += 1;
        } else {
            out.matched.push(CrsMatch {
                id: rule.id,
                paranoia_level: rule.paranoia_level,
                severity: rule.severity,
                score,
                evidence,
                logged: !rule.nolog,
            });
        }
        true
    }
}

/// The anomaly score a setvar added, if it is a scoring setvar.
fn setvar_score(added: i64, sv: &compile::CSetVar) -> u32 {
    if sv.score_pl.is_some() {
        u32::try_from(added.max(0)).unwrap_or(0)
    } else {
        0
    }
}

/// Evaluates one link: true when some target value matches (or, for a SecAction, always).
///
/// A `starter` link (any link but the last of a chain) keeps every matching value for
/// MATCHED_VARS and runs its setvars at each match, as ModSecurity v3 does
/// (`executeActionsIndependentOfChainedRuleResult`) and Coraza (non-disruptive actions
/// per match): the next link reads what they set (920420's `tx.content_type`, 931130's
/// `tx.rfi_parameter_*`), and they stay set even when the chain then fails.
fn eval_link(
    c: &Compiled,
    rule: &CRule,
    link: &Link,
    s: &mut CrsScratch,
    starter: bool,
    ev_out: &mut Vec<u8>,
) -> bool {
    let keep_all = starter;
    if link.op.is_none() {
        if starter {
            s.run_starter_setvars(rule, link);
        }
        return true;
    }
    // A link that misses has no side effect, so one no value can match is skipped.
    if link.gate.is_some() && !s.may_match(c, link) {
        return false;
    }
    s.cands.clear();
    s.tmp.clear();
    for t in &link.targets {
        if t.excluded || s.target_removed(rule, t) {
            continue;
        }
        s.collect(rule, t);
    }
    let mut matched = false;
    let cands = std::mem::take(&mut s.cands);
    for c in &cands {
        let memo_key = link.memo.then(|| (link.uid, s.raw_hash(c.src)));
        if let Some(k) = memo_key {
            if s.memo.contains(&k) {
                continue;
            }
        }
        let before = matched;
        matched = false;
        if link.multi_match {
            let raw = s.value(c.src).to_vec();
            let mut cur = raw;
            let mut hit = s.try_op(rule, link, c, &cur, starter, ev_out);
            for t in &link.transforms {
                if hit {
                    break;
                }
                let mut next = Vec::new();
                t.apply(&cur, &mut next);
                cur = next;
                hit = s.try_op(rule, link, c, &cur, starter, ev_out);
            }
            matched |= hit;
        } else {
            let (a, b) = s.transformed(c.src, link.chain_id, &link.transforms);
            // The value is borrowed out of the scratch (try_op touches neither buffer).
            let hit = if a == u32::MAX {
                let v = std::mem::take(&mut s.t1);
                let hit = s.try_op(rule, link, c, &v, starter, ev_out);
                s.t1 = v;
                hit
            } else {
                let arena = std::mem::take(&mut s.arena);
                let v = arena.get(a as usize..b as usize).unwrap_or_default();
                let hit = s.try_op(rule, link, c, v, starter, ev_out);
                s.arena = arena;
                hit
            };
            matched |= hit;
        }
        if let (Some(k), false) = (memo_key, matched) {
            if s.memo.len() >= MAX_MEMO_ENTRIES {
                s.memo.clear();
                s.memo_resets += 1;
            }
            s.memo.insert(k);
        }
        matched |= before;
        if matched && !keep_all {
            break;
        }
    }
    s.cands = cands;
    matched
}

struct Env<'a> {
    req: &'a Request,
    tx: &'a AHashMap<Vec<u8>, Vec<u8>>,
    mv: &'a [u8],
    mvn: &'a [u8],
    rule: &'a CRule,
}

impl Expand for Env<'_> {
    fn expand(&mut self, m: &MacroText, out: &mut Vec<u8>) {
        expand_into(m, self.req, self.tx, self.mv, self.mvn, self.rule, out);
    }
}

fn expand_into(
    m: &MacroText,
    req: &Request,
    tx: &AHashMap<Vec<u8>, Vec<u8>>,
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

/// Runs a setvar; returns the number added for `+=` (for scoring).
fn apply_setvar(rule: &CRule, sv: &compile::CSetVar, s: &mut CrsScratch) -> i64 {
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
            match s.tx.get_mut(&name) {
                Some(e) => {
                    e.clear();
                    e.extend_from_slice(&val);
                }
                None => {
                    s.tx.insert(name.clone(), val.clone());
                }
            }
            0
        }
        SetVarOp::Add | SetVarOp::Sub => {
            let d = atoi(&val);
            if !s.tx.contains_key(&name) {
                s.tx.insert(name.clone(), Vec::new());
            }
            if let Some(e) = s.tx.get_mut(&name) {
                let cur = atoi(e);
                let n = if sv.op == SetVarOp::Add {
                    cur.saturating_add(d)
                } else {
                    cur.saturating_sub(d)
                };
                e.clear();
                push_decimal(e, n);
            }
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
fn push_decimal(out: &mut Vec<u8>, n: i64) {
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
    fn is_removed(&self, rule: &CRule) -> bool {
        self.removed_ids
            .iter()
            .any(|&(a, b)| rule.id >= a && rule.id <= b)
            || self
                .removed_tags
                .iter()
                .any(|t| rule.tags.iter().any(|x| x == t))
    }

    fn target_removed(&self, rule: &CRule, t: &Target) -> bool {
        // Whole-variable removals only; selector removals are checked per value.
        self.removed_targets.iter().any(|(id, tag, spec)| {
            spec.selector.is_none() && spec.var == t.var && applies(rule, *id, tag.as_deref())
        })
    }

    fn name_removed(&self, rule: &CRule, var: Var, name: &[u8]) -> bool {
        self.removed_targets.iter().any(|(id, tag, spec)| {
            spec.var == var
                && applies(rule, *id, tag.as_deref())
                && match &spec.selector {
                    Some(model::SelectorSpec::Name(n)) => n.as_bytes().eq_ignore_ascii_case(name),
                    Some(model::SelectorSpec::Regex(r)) => {
                        Sel::compile(&model::SelectorSpec::Regex(r.clone()))
                            .map(|s| s.matches(name))
                            .unwrap_or(false)
                    }
                    None => false,
                }
        })
    }

    fn apply_ctl(&mut self, c: &Ctl) {
        match c {
            Ctl::RuleRemoveById(a, b) => self.removed_ids.push((*a, *b)),
            Ctl::RuleRemoveByTag(t) => self.removed_tags.push(t.clone()),
            Ctl::RuleRemoveTargetById(_, t) | Ctl::RuleRemoveTargetByTag(_, t) => {
                let mut ts = model::Targets {
                    include: Vec::new(),
                    exclude: Vec::new(),
                };
                if model::add_target(&mut ts, t).is_ok() {
                    for spec in ts.include {
                        let (id, tag) = match c {
                            Ctl::RuleRemoveTargetByTag(tag, _) => (None, Some(tag.clone())),
                            Ctl::RuleRemoveTargetById(id, _) => (Some(*id), None),
                            _ => (None, None),
                        };
                        self.removed_targets.push((id, tag, spec));
                    }
                }
            }
            Ctl::RequestBodyProcessor(p) => self.body_processor = Processor::from_name(p),
            Ctl::ForceRequestBodyVariable(on) => self.req.force_body_var = *on,
            Ctl::Other => {}
        }
    }

    /// A hash of the raw value of `src` (computed once per transaction for pool values).
    fn raw_hash(&mut self, src: Src) -> u64 {
        match src {
            Src::Pool(p, names, i) => {
                let k = ((p as u32) << 24) | (u32::from(names) << 23) | i;
                if let Some(&h) = self.hashes.get(&k) {
                    return h;
                }
                let h = self.hasher.hash_one(self.value(src));
                self.hashes.insert(k, h);
                h
            }
            Src::Tmp(_) => self.hasher.hash_one(self.value(src)),
        }
    }

    fn pool(&self, id: PoolId) -> &Pool {
        pool_in(&self.req, id)
    }

    fn value(&self, src: Src) -> &[u8] {
        match src {
            Src::Pool(p, names, i) => self
                .pool(p)
                .as_slice()
                .get(i as usize)
                .map(|kv| if names { &kv.name[..] } else { &kv.value[..] })
                .unwrap_or(b""),
            Src::Tmp(i) => self
                .tmp
                .as_slice()
                .get(i as usize)
                .map(|kv| &kv.value[..])
                .unwrap_or(b""),
        }
    }

    /// The transformed value as an arena range, or (MAX, 0) meaning "in t1".
    fn transformed(&mut self, src: Src, chain_id: u16, transforms: &[Transform]) -> (u32, u32) {
        let key = match src {
            Src::Pool(p, names, i) => Some(((p as u32) << 24) | (u32::from(names) << 23) | i),
            _ => None,
        };
        if let Some(k) = key {
            if let Some(&r) = self.cache.get(&(k, chain_id)) {
                return r;
            }
        }
        let mut a = std::mem::take(&mut self.t1);
        let mut b = std::mem::take(&mut self.t2);
        a.clear();
        a.extend_from_slice(self.value(src));
        for t in transforms {
            t.apply(&a, &mut b);
            std::mem::swap(&mut a, &mut b);
        }
        self.t2 = b;
        let res = match key {
            Some(k) if self.arena.len() + a.len() <= MAX_CACHE_BYTES => {
                let start = self.arena.len() as u32;
                self.arena.extend_from_slice(&a);
                let r = (start, self.arena.len() as u32);
                self.cache.insert((k, chain_id), r);
                r
            }
            Some(_) => {
                self.uncached += 1;
                (u32::MAX, 0)
            }
            None => (u32::MAX, 0),
        };
        self.t1 = a;
        res
    }

    fn try_op(
        &mut self,
        rule: &CRule,
        link: &Link,
        c: &Cand,
        v: &[u8],
        starter: bool,
        ev_out: &mut Vec<u8>,
    ) -> bool {
        let Some(op) = &link.op else { return false };
        let mut caps = std::mem::take(&mut self.caps);
        let mut buf = std::mem::take(&mut self.buf);
        let r = {
            let mut env = Env {
                req: &self.req,
                tx: &self.tx,
                mv: &self.matched_var,
                mvn: &self.matched_name,
                rule,
            };
            op.exec(
                v,
                &mut env,
                &mut buf,
                link.capture.then_some(&mut caps),
                self.remote,
            )
        };
        self.buf = buf;
        let hit = r.is_some() != link.negated;
        if hit {
            if link.capture && r.is_some() {
                for (i, c) in caps.iter().enumerate() {
                    self.tx.insert(i.to_string().into_bytes(), c.clone());
                }
            }
            ev_out.clear();
            match r {
                Some(Evidence::Range(a, b)) => {
                    ev_out.extend_from_slice(&v[a..b.min(a + MAX_EVIDENCE_BYTES)])
                }
                Some(Evidence::Fingerprint(fp)) => {
                    ev_out.extend_from_slice(super::injection::fingerprint_str(&fp))
                }
                _ => {}
            }
            self.matched_var.clear();
            self.matched_var.extend_from_slice(v);
            self.cand_name(c);
            let kv = self.matched_vars.push();
            kv.value.extend_from_slice(v);
            kv.name.extend_from_slice(&self.matched_name);
        }
        self.caps = caps;
        if hit && starter {
            self.run_starter_setvars(rule, link);
        }
        hit
    }

    /// Runs a chain starter's setvars at its match (see [`eval_link`]).
    fn run_starter_setvars(&mut self, rule: &CRule, link: &Link) {
        for sv in &link.setvars {
            let added = setvar_score(apply_setvar(rule, sv, self), sv);
            self.starter_score = self.starter_score.saturating_add(added);
        }
    }

    fn cand_name(&mut self, c: &Cand) {
        let mut n = std::mem::take(&mut self.matched_name);
        n.clear();
        n.extend_from_slice(var_name(c.var).as_bytes());
        let key: Option<&[u8]> = match c.src {
            Src::Pool(p, _, i) => self
                .pool(p)
                .as_slice()
                .get(i as usize)
                .map(|kv| &kv.name[..]),
            Src::Tmp(i) => self.tmp.as_slice().get(i as usize).map(|kv| &kv.name[..]),
        };
        if let Some(k) = key.filter(|k| !k.is_empty()) {
            n.push(b':');
            n.extend_from_slice(k);
        }
        self.matched_name = n;
    }

    /// Adds the candidate values of target `t`.
    fn collect(&mut self, rule: &CRule, t: &Target) {
        let start = self.cands.len();
        let pools = pools_of(t.var);
        if !pools.is_empty() {
            for &(p, names) in pools {
                let n = self.pool(p).len();
                for i in 0..n {
                    let Some(kv) = self.pool(p).as_slice().get(i) else {
                        break;
                    };
                    if !self.keep(rule, t, &kv.name) {
                        continue;
                    }
                    self.cands.push(Cand {
                        src: Src::Pool(p, names, i as u32),
                        var: t.var,
                    });
                }
            }
        } else {
            match t.var {
                Var::Tx => {
                    let mut keys: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                    match &t.sel {
                        Some(Sel::Name(n)) => {
                            // One variable by name: copied straight into the scratch pool.
                            if let Some(v) = self.tx.get(n) {
                                let i = self.tmp.len() as u32;
                                self.tmp.add(n, v);
                                self.cands.push(Cand {
                                    src: Src::Tmp(i),
                                    var: Var::Tx,
                                });
                            }
                        }
                        _ => {
                            for (k, v) in &self.tx {
                                if t.sel.as_ref().map_or(true, |s| s.matches(k))
                                    && !t.excl.iter().any(|e| e.matches(k))
                                {
                                    keys.push((k.clone(), v.clone()));
                                }
                            }
                            keys.sort();
                        }
                    }
                    for (k, v) in keys {
                        let i = self.tmp.len() as u32;
                        self.tmp.add(&k, &v);
                        self.cands.push(Cand {
                            src: Src::Tmp(i),
                            var: Var::Tx,
                        });
                    }
                }
                Var::MatchedVar => {
                    let i = self.tmp.len() as u32;
                    let v = self.matched_var.clone();
                    self.tmp.add(b"", &v);
                    self.cands.push(Cand {
                        src: Src::Tmp(i),
                        var: Var::MatchedVar,
                    });
                }
                Var::MatchedVarName => {
                    let i = self.tmp.len() as u32;
                    let v = self.matched_name.clone();
                    self.tmp.add(b"", &v);
                    self.cands.push(Cand {
                        src: Src::Tmp(i),
                        var: Var::MatchedVarName,
                    });
                }
                Var::MatchedVars | Var::MatchedVarsNames => {
                    let names = t.var == Var::MatchedVarsNames;
                    let items: Vec<Kv> = self.matched_vars.as_slice().to_vec();
                    for kv in items {
                        if t.sel.as_ref().is_some_and(|s| !s.matches(&kv.name)) {
                            continue;
                        }
                        let i = self.tmp.len() as u32;
                        let v = if names {
                            kv.name.clone()
                        } else {
                            kv.value.clone()
                        };
                        self.tmp.add(&kv.name, &v);
                        self.cands.push(Cand {
                            src: Src::Tmp(i),
                            var: t.var,
                        });
                    }
                }
                Var::Empty => {}
                v => {
                    let mut b = std::mem::take(&mut self.buf);
                    if self.req.scalar(v, &mut b) {
                        let i = self.tmp.len() as u32;
                        self.tmp.add(b"", &b);
                        self.cands.push(Cand {
                            src: Src::Tmp(i),
                            var: v,
                        });
                    }
                    self.buf = b;
                }
            }
        }
        if t.count {
            let n = self.cands.len() - start;
            self.cands.truncate(start);
            let i = self.tmp.len() as u32;
            let mut b = std::mem::take(&mut self.count_buf);
            b.clear();
            push_decimal(&mut b, n as i64);
            self.tmp.add(b"", &b);
            self.count_buf = b;
            self.cands.push(Cand {
                src: Src::Tmp(i),
                var: t.var,
            });
        }
    }

    fn keep(&self, rule: &CRule, t: &Target, name: &[u8]) -> bool {
        if let Some(s) = &t.sel {
            if !s.matches(name) {
                return false;
            }
        }
        !t.excl.iter().any(|e| e.matches(name))
            && (self.removed_targets.is_empty() || !self.name_removed(rule, t.var, name))
    }
}

/// A pool of the request.
fn pool_in(req: &Request, id: PoolId) -> &Pool {
    match id {
        PoolId::ArgsGet => &req.args_get,
        PoolId::ArgsPost => &req.args_post,
        PoolId::Cookies => &req.cookies,
        PoolId::Headers => &req.headers,
        PoolId::Files => &req.files,
        PoolId::FilesSizes => &req.files_sizes,
        PoolId::PartHeaders => &req.part_headers,
        PoolId::Xml => &req.xml,
    }
}

/// The pools (and whether names or values) a collection variable reads.
fn pools_of(var: Var) -> &'static [(PoolId, bool)] {
    match var {
        Var::Args => &[(PoolId::ArgsGet, false), (PoolId::ArgsPost, false)],
        Var::ArgsGet => &[(PoolId::ArgsGet, false)],
        Var::ArgsPost => &[(PoolId::ArgsPost, false)],
        Var::ArgsNames => &[(PoolId::ArgsGet, true), (PoolId::ArgsPost, true)],
        Var::ArgsGetNames => &[(PoolId::ArgsGet, true)],
        Var::ArgsPostNames => &[(PoolId::ArgsPost, true)],
        Var::RequestCookies => &[(PoolId::Cookies, false)],
        Var::RequestCookiesNames => &[(PoolId::Cookies, true)],
        Var::RequestHeaders => &[(PoolId::Headers, false)],
        Var::RequestHeadersNames => &[(PoolId::Headers, true)],
        Var::Files => &[(PoolId::Files, false)],
        Var::FilesNames => &[(PoolId::Files, true)],
        Var::FilesSizes => &[(PoolId::FilesSizes, false)],
        Var::MultipartPartHeaders => &[(PoolId::PartHeaders, false)],
        Var::Xml => &[(PoolId::Xml, false)],
        _ => &[],
    }
}

fn applies(rule: &CRule, id: Option<u32>, tag: Option<&str>) -> bool {
    match (id, tag) {
        (Some(i), _) => rule.id == i,
        (None, Some(t)) => rule.tags.iter().any(|x| x == t),
        _ => false,
    }
}

fn var_name(v: Var) -> &'static str {
    match v {
        Var::Args => "ARGS",
        Var::ArgsGet => "ARGS_GET",
        Var::ArgsPost => "ARGS_POST",
        Var::ArgsNames => "ARGS_NAMES",
        Var::ArgsGetNames => "ARGS_GET_NAMES",
        Var::ArgsPostNames => "ARGS_POST_NAMES",
        Var::RequestCookies => "REQUEST_COOKIES",
        Var::RequestCookiesNames => "REQUEST_COOKIES_NAMES",
        Var::RequestHeaders => "REQUEST_HEADERS",
        Var::RequestHeadersNames => "REQUEST_HEADERS_NAMES",
        Var::Files => "FILES",
        Var::FilesNames => "FILES_NAMES",
        Var::Xml => "XML",
        Var::Tx => "TX",
        Var::RequestFilename => "REQUEST_FILENAME",
        Var::RequestBody => "REQUEST_BODY",
        Var::RequestUri => "REQUEST_URI",
        Var::MultipartPartHeaders => "MULTIPART_PART_HEADERS",
        _ => "VAR",
    }
}
