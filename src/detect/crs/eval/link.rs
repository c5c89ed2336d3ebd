//! Matching one link: walking its candidate values, the per-transaction transformation
//! cache, the per-thread miss memo, and running the operator
//! with capture and MATCHED_VAR(S) bookkeeping.

use super::super::collections::Pool;
use super::super::compile::{CRule, Compiled, Link};
use super::super::operator::Evidence;
use super::super::transform::Transform;
use super::actions::Env;
use super::collect::pool_in;
use super::memo::Hit;
use super::*;
use crate::detect::alert::MAX_EVIDENCE_BYTES;

/// Evaluates one link: true when some target value matches (or, for a SecAction, always).
///
/// A `starter` link (any link but the last of a chain) keeps every matching value for
/// MATCHED_VARS and runs its setvars at each match, as ModSecurity v3 does
/// (`executeActionsIndependentOfChainedRuleResult`) and Coraza (non-disruptive actions
/// per match): the next link reads what they set (920420's `tx.content_type`, 931130's
/// `tx.rfi_parameter_*`), and they stay set even when the chain then fails.
pub(super) fn eval_link(
    c: &Compiled,
    rule: &CRule,
    link: &Link,
    s: &mut CrsScratch,
    starter: bool,
    ev_out: &mut Vec<u8>,
) -> bool {
    // A link whose setvars run per match walks every value as a starter does.
    let starter = starter || link.each_match;
    let keep_all = starter;
    s.op_call = s.op_call.wrapping_add(1);
    if link.op.is_none() {
        if starter {
            s.run_starter_setvars(rule, link);
        }
        return true;
    }
    // A link that misses has no side effect, so one no value can match is skipped:
    // every value already missed (the memo), or none holds a required literal (gate),
    // decided per source.
    if link.memo_srcs.is_some() {
        if s.known_miss(c, rule, link) {
            return false;
        }
        if s.each_source_ruled_out(c, rule, link) {
            s.all_missed(rule, link);
            return false;
        }
    } else if link.gate.is_some() && !s.may_match(c, link) {
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
        let slot = if link.pure {
            s.cand_slot(c, link.memo)
        } else {
            None
        };
        if let Some(k) = slot {
            if s.memo.misses(k, link.idx) {
                continue;
            }
        }
        let before = matched;
        matched = false;
        if link.multi_match {
            // The operator sees the value before and after each step; a step that left
            // it unchanged gives the operator the bytes it just missed on (a miss changes
            // nothing), so it is not run again. Buffers reused across values.
            let mut cur = std::mem::take(&mut s.mm_cur);
            let mut next = std::mem::take(&mut s.mm_next);
            cur.clear();
            cur.extend_from_slice(s.value(c.src));
            let mut hit = s.try_op(rule, link, c, &cur, starter, ev_out, None);
            for t in &link.transforms {
                if hit {
                    break;
                }
                t.apply(&cur, &mut next);
                if next == cur {
                    continue;
                }
                std::mem::swap(&mut cur, &mut next);
                hit = s.try_op(rule, link, c, &cur, starter, ev_out, None);
            }
            s.mm_cur = cur;
            s.mm_next = next;
            matched |= hit;
        } else {
            let (a, b) = s.transformed(c.src, link.chain_id, &link.transforms);
            // The value is borrowed out of the scratch (try_op touches neither buffer).
            let hit = if a == u32::MAX {
                let v = std::mem::take(&mut s.t1);
                let hit = s.try_op(rule, link, c, &v, starter, ev_out, slot);
                s.t1 = v;
                hit
            } else {
                let arena = std::mem::take(&mut s.arena);
                let v = arena.get(a as usize..b as usize).unwrap_or_default();
                let hit = s.try_op(rule, link, c, v, starter, ev_out, slot);
                s.arena = arena;
                hit
            };
            matched |= hit;
        }
        if let (Some(k), false) = (slot, matched) {
            s.memo.set_miss(k, link.idx);
        }
        matched |= before;
        if matched && !keep_all {
            break;
        }
    }
    s.cands = cands;
    if !matched {
        s.all_missed(rule, link);
    }
    matched
}

impl CrsScratch {
    pub(super) fn pool(&self, id: PoolId) -> &Pool {
        pool_in(&self.req, id)
    }

    pub(super) fn value(&self, src: Src) -> &[u8] {
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
    pub(super) fn transformed(
        &mut self,
        src: Src,
        chain_id: u16,
        transforms: &[Transform],
    ) -> (u32, u32) {
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

    /// Runs the link's operator over candidate `c`'s value `v` (transformed) and, on a
    /// match, does the match's bookkeeping. `slot`: the value's memo slot for a pure
    /// link (its whole chain applied), under which a match is remembered and replayed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn try_op(
        &mut self,
        rule: &CRule,
        link: &Link,
        c: &Cand,
        v: &[u8],
        starter: bool,
        ev_out: &mut Vec<u8>,
        slot: Option<u32>,
    ) -> bool {
        let Some(op) = &link.op else { return false };
        let mut caps = std::mem::take(&mut self.caps);
        #[cfg(test)]
        let slot = slot.filter(|_| !self.reference);
        // A pure link's match on the same bytes: its evidence and captures again,
        // without the search (the operator reads no macro: nothing expanded).
        if let Some(h) = slot.and_then(|k| self.memo.hit(k, link.idx)) {
            let r = h.evidence;
            if link.capture {
                caps.truncate(h.caps.len());
                for (i, src) in h.caps.iter().enumerate() {
                    match caps.get_mut(i) {
                        Some(dst) => {
                            dst.clear();
                            dst.extend_from_slice(src);
                        }
                        None => caps.push(src.clone()),
                    }
                }
            }
            return self.after_op(rule, link, c, v, starter, ev_out, r, caps);
        }
        let mut buf = std::mem::take(&mut self.op_buf);
        let r = {
            let mut env = Env {
                req: &self.req,
                tx: &self.tx,
                mv: &self.matched_var,
                mvn: &self.matched_name,
                rule,
                // A link that is not a chain starter changes nothing between its
                // candidates (it stops at its first match), so a macro argument
                // expanded for its first candidate holds for the rest.
                reuse: !starter && self.op_buf_call == self.op_call,
            };
            op.exec(
                v,
                &mut env,
                &mut buf,
                link.capture.then_some(&mut caps),
                self.remote,
            )
        };
        self.op_buf = buf;
        self.op_buf_call = if starter { 0 } else { self.op_call };
        if let (Some(k), true) = (slot, r.is_some() != link.negated) {
            let caps = if link.capture && r.is_some() {
                caps.clone()
            } else {
                Vec::new()
            };
            self.memo.set_hit(k, link.idx, Hit { evidence: r, caps });
        }
        self.after_op(rule, link, c, v, starter, ev_out, r, caps)
    }

    /// The operator gave `r` (with captures `caps` when it captured): on a match, the
    /// captures, evidence, MATCHED_VAR(S) and a starter's setvars.
    #[allow(clippy::too_many_arguments)]
    fn after_op(
        &mut self,
        rule: &CRule,
        link: &Link,
        c: &Cand,
        v: &[u8],
        starter: bool,
        ev_out: &mut Vec<u8>,
        r: Option<Evidence>,
        caps: Vec<Vec<u8>>,
    ) -> bool {
        let hit = r.is_some() != link.negated;
        if hit {
            if link.capture && r.is_some() {
                for (i, c) in caps.iter().enumerate() {
                    // TX:0-9, named without allocating.
                    let d = [b'0' + (i % 10) as u8];
                    self.tx.set(&d, c);
                }
            }
            ev_out.clear();
            match r {
                Some(Evidence::Range(a, b)) => ev_out
                    .extend_from_slice(v.get(a..b.min(a + MAX_EVIDENCE_BYTES)).unwrap_or_default()),
                Some(Evidence::Fingerprint(fp)) => {
                    ev_out.extend_from_slice(super::super::injection::fingerprint_str(&fp))
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
}
