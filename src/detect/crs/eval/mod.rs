//! Running the program over one transaction: phases, chains, setvar, skipAfter, ctl,
//! capture, MATCHED_VAR(S), and the anomaly score.
//!
//! Values are gathered per target into a reused candidate list; each value's
//! transformation chain runs once per transaction and is cached by (value, chain) in an
//! arena, so the many rules sharing `t:urlDecodeUni,t:lowercase` over ARGS transform each
//! argument once. Rules execute their actions once per match (libmodsecurity v3's
//! behaviour), and a rule stops at its first matching value unless it starts a chain.
//!
//! This file holds the program and the phase/rule loop; link matching is in `link`,
//! setvar/ctl/macros in `actions`, value collection in `collect`, literal gates in
//! `gate`, and the precomputed request-independent start in `prefix`.

use std::net::IpAddr;

use ahash::AHashMap;

use super::bodyproc::{build_phase2, processor_for};
use super::collections::{Pool, Processor, Request};
use super::compile::{self, CRule, Compiled, Entry};
use super::model::Var;
use super::operator::atoi;
use super::{CrsError, CrsMatch, CrsOutcome, CrsSettings, CrsStats};
use crate::http::HttpTransaction;

mod actions;
mod collect;
mod consts;
mod fold;
mod gate;
mod link;
mod memo;
mod names;
mod number;
mod prefix;
mod nameset;
mod plan;
mod removal;
mod rule;
mod skip;
mod spare;
mod sources;
mod token;
mod txmap;

use actions::apply_setvar;
use collect::{pool_in, pools_of};
use rule::setvar_score;

/// Rule matches recorded per transaction at most.
const MAX_MATCHES: usize = 256;
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
    /// Process-unique id (keys the per-thread miss memo).
    id: u64,
    /// Links in the program (the width of the miss memo's sets).
    links: usize,
    /// Per rule: its outcome when fixed at load (see [`fold`]).
    folded: Vec<fold::Fold>,
    /// Per plain-token class, the links that miss every value of it (see [`token`]).
    token: Vec<Vec<u64>>,
    /// Per pool source, the links that never select a value by its name (see
    /// [`names`]).
    names: names::NameSets,
    /// Per rule: evaluated once per list of header names (see [`nameset`]).
    keyed: Vec<bool>,
    /// Per phase, its entries as the rule loop reads them first (see [`plan`]).
    steps: [Vec<plan::Step>; 2],
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
    /// For a scalar variable's value: its memo source (`memo::NO_SOURCE` otherwise).
    scalar: u16,
}

/// Reused per-transaction state. One per worker thread.
#[derive(Debug, Default)]
pub struct CrsScratch {
    req: Request,
    tx: txmap::TxMap,
    /// Per TX target with a regex selector (`Target::tx_sel`): the TX slots it selects
    /// (valid for the slots of `tx_sel_epoch`; see `collect_tx`).
    tx_sel_cache: Vec<collect::TxSel>,
    tx_sel_epoch: u64,
    tmp: Pool,
    cands: Vec<Cand>,
    cache: AHashMap<(u32, u16), (u32, u32)>,
    arena: Vec<u8>,
    t1: Vec<u8>,
    t2: Vec<u8>,
    /// A multiMatch link's value before and after a step (see `eval_link`).
    mm_cur: Vec<u8>,
    mm_next: Vec<u8>,
    buf: Vec<u8>,
    /// An operator's expanded macro argument, kept across the candidates of one link
    /// evaluation (`op_call` numbers evaluations; `op_buf_call` is the one `op_buf`
    /// was expanded for, 0 for none).
    op_buf: Vec<u8>,
    op_call: u64,
    op_buf_call: u64,
    caps: Vec<Vec<u8>>,
    matched_var: Vec<u8>,
    matched_name: Vec<u8>,
    matched_vars: Pool,
    /// Score added by chain starters' setvars during the current rule.
    starter_score: u32,
    removed_ids: Vec<(u32, u32)>,
    removed_tags: Vec<String>,
    /// Target removals applied this transaction: (rule id or tag, target), shared with
    /// the program's ctl so that applying one copies nothing.
    removed_targets: Vec<removal::RemovedTarget>,
    body_processor: Option<Processor>,
    memo: memo::MissMemo,
    names_memo: nameset::NameSetMemo,
    slots: skip::TxnSlots,
    /// The removal state (see [`removal`]): which `ctl` target removals this
    /// transaction applied; the entries of `rule_removals` are valid for one state.
    removal_epoch: u64,
    removals: removal::RemovalStates,
    /// Tests only: take none of the per-rule skip and cross-transaction removal
    /// shortcuts, to compare their decisions with the plain evaluation.
    #[cfg(test)]
    pub(crate) reference: bool,
    /// Per rule index: (removal state, bits of the `removed_targets` entries that apply
    /// to it).
    rule_removals: Vec<(u64, u64)>,
    hasher: ahash::RandomState,
    remote: Option<IpAddr>,
    /// Values transformed again because the per-transaction cache was full.
    uncached: u64,
    /// Rule matches not recorded past [`MAX_MATCHES`] this transaction.
    matches_dropped: u64,
    gate: gate::GateState,
    sv_name: Vec<u8>,
    sv_val: Vec<u8>,
    count_buf: Vec<u8>,
    /// The last outcome's match list and evidence buffers, emptied, for the next
    /// transaction ([`CrsScratch::recycle`]): a rule such as 941010 matches in nearly
    /// every request, and each match allocated its evidence.
    spare_matched: Vec<CrsMatch>,
    spare_evidence: Vec<Vec<u8>>,
}

impl Program {
    pub fn compile(items: Vec<super::load::Item>, s: &CrsSettings) -> Result<Program, CrsError> {
        let mut c = compile::compile(items, s)?;
        let (links, _) = number::number_links(&mut c);
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
            id: memo::next_program_id(),
            links,
            folded: Vec::new(),
            token: Vec::new(),
            names: names::NameSets::default(),
            keyed: Vec::new(),
            steps: Default::default(),
        };
        // The prefix runs the rule loop, which walks the steps.
        p.steps = p.plan();
        p.prefix = prefix::Prefix::build(&p);
        // Constant TX macros resolved, some links became pure: numbered again.
        p.resolve_constants();
        number::number_links(&mut p.c);
        p.token = token::token_misses(&p.c, links.div_ceil(64).max(1));
        p.names = names::NameSets::build(&p.c, links.div_ceil(64).max(1));
        p.fold();
        p.keyed = nameset::keyed_rules(&p);
        // Again: links were numbered again and rules folded since.
        p.steps = p.plan();
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
        s.tx.reset_from(&self.prefix.tx, self.id);
        s.memo
            .prepare(self.id, self.links, &self.token, &self.names);
        s.slots.reset(s.memo.words(), self.c.memo_words);
        s.cache.clear();
        s.arena.clear();
        s.removed_ids.clear();
        s.removed_tags.clear();
        s.removed_targets.clear();
        s.removals.prepare(self.id);
        s.removal_epoch = removal::EMPTY;
        s.body_processor = None;
        s.matched_vars.clear();
        s.matched_var.clone_from(&self.prefix.matched_var);
        s.matched_name.clone_from(&self.prefix.matched_name);
        // One allocation for the matches of a typical transaction.
        out.matched.reserve(self.prefix.matched.len() + 32);
        out.matched.extend(self.prefix.matched.iter().cloned());
        s.uncached = 0;
        s.matches_dropped = 0;
        s.remote = Some(txn.client.ip());
        s.req.build_phase1(txn);
        s.req.processor = processor_for(s.req.header("content-type"));
        s.gate.reset(&self.c);
        self.run_phase(0, s, out, self.prefix.resume, false);
        build_phase2(&mut s.req, txn, s.body_processor);
        // Phase 2 only appends to pools that are empty in phase 1 (body arguments,
        // files, XML): the cached transformations and gate sets of headers, cookies and
        // query arguments stay valid.
        s.gate.reset_phase2();
        s.slots.reset_phase2();
        self.run_phase(1, s, out, 0, false);
        stats.record(
            s.req.caps,
            s.uncached,
            s.matches_dropped,
            std::mem::take(&mut s.memo.resets)
                + std::mem::take(&mut s.tx.rebuilds)
                + std::mem::take(&mut s.removals.resets)
                + std::mem::take(&mut s.names_memo.resets),
            s.req.reqbody_error,
        );
        let tx_num = |s: &CrsScratch, k: &[u8]| s.tx.get(k).map(atoi);
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
        let steps = &self.steps[phase];
        let phase_number = phase as u8 + 1;
        let mut i = start;
        while let Some(&step) = steps.get(i) {
            let Some(ri) = step.rule else {
                i += 1;
                continue;
            };
            if prefix_only && !step.independent {
                return i;
            }
            i += 1;
            if step.never {
                continue;
            }
            // Most rules end here, on the compact step alone: a removal by id or tag
            // would need the rule, and is checked first as below.
            if step.link != plan::NOT_SKIPPABLE
                && s.removed_ids.is_empty()
                && s.removed_tags.is_empty()
                && s.link_skipped(&self.c, phase_number, step.link)
            {
                continue;
            }
            let Some(rule) = self.c.rules.get(ri as usize) else {
                continue;
            };
            if s.is_removed(rule) {
                continue;
            }
            match self.folded.get(ri as usize) {
                Some(fold::Fold::Never) => continue,
                Some(fold::Fold::Matches(m)) => {
                    // A fixed condition, then the rule's setvars as it matches.
                    let (evidence, mv, mvn) = &**m;
                    s.matched_vars.clear();
                    s.starter_score = 0;
                    s.matched_var.clone_from(mv);
                    s.matched_name.clone_from(mvn);
                    let kv = s.matched_vars.push();
                    kv.value.extend_from_slice(mv);
                    kv.name.extend_from_slice(mvn);
                    let mut ev = s.evidence_buf();
                    ev.extend_from_slice(evidence);
                    self.finish_rule(rule, s, out, ev);
                }
                Some(fold::Fold::Always(m)) => {
                    let (m, mv, mvn) = &**m;
                    if out.matched.len() >= MAX_MATCHES {
                        s.matches_dropped += 1;
                    } else {
                        out.matched.push(m.clone());
                    }
                    s.matched_var.clone_from(mv);
                    s.matched_name.clone_from(mvn);
                }
                _ => {
                    if s.first_link_skipped(&self.c, rule) || !self.eval_rule_keyed(rule, s, out) {
                        continue;
                    }
                }
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
}
