//! The per-transaction side of the literal gates ([`super::super::prefilter`]): for each
//! value source (a pool of names or values, or a scalar variable) and transformation
//! chain, the set of gates one of whose literals occurs in its values (one automaton
//! pass), computed on first use and kept for the phase.
//!
//! A raw value's byte set decides whether a chain can change it beyond ASCII case; if
//! not, the raw values' gate set (built once per source) stands for the chain's.
//! Otherwise the value is transformed through the evaluator's per-transaction cache (the
//! same cache the operators then read) and scanned. A GET without arguments has empty argument pools, so
//! every rule over ARGS is decided here without looking at a value. A raw value's scan is
//! kept with its memo slot ([`super::memo`]): a header or cookie met in an earlier
//! transaction is not scanned again when a fresh value next to it makes the source's set
//! be worked out.

use super::super::compile::{Compiled, Link};
use super::super::model::Var;
use super::super::prefilter::{byte_set, ByteSet};
use super::sources::{stable_in_phase2, N_SOURCES, POOLS, POOL_SOURCES, SCALARS};
use super::{CrsScratch, PoolId, Src};

/// Reused gate state of one worker.
#[derive(Debug, Default)]
pub(super) struct GateState {
    /// Per (source, chain): (generation, slot of its gate set in `bits`); an entry of
    /// an older generation than its source's is not computed yet (no clearing).
    agg: Vec<(u32, u32)>,
    generation: u32,
    /// Per source: the generation its entries must have (phase 2 renews only the
    /// sources the body can change).
    src_gen: Vec<u32>,
    /// Gate sets, `words` u64 each; the first `used` are this phase's.
    bits: Vec<u64>,
    words: usize,
    used: usize,
    /// Per pool source: slot + 1 of the raw values' gate set, 0 = not yet computed.
    raw: [u32; POOL_SOURCES],
    /// Per pool source: each raw value's byte set (valid once `raw` is set).
    sets: Vec<Vec<ByteSet>>,
    tmp: Vec<u8>,
    /// One value's scan (reused).
    one: Vec<u64>,
    chains: usize,
}

/// The byte set a recorded scan ends with (its last four words).
fn tail_set(bits: &[u64]) -> ByteSet {
    let mut set = [0u64; 4];
    if let Some(t) = bits.get(bits.len().saturating_sub(4)..) {
        for (s, b) in set.iter_mut().zip(t) {
            *s = *b;
        }
    }
    set
}

impl GateState {
    /// Forgets everything computed (a new transaction).
    pub(super) fn reset(&mut self, c: &Compiled) {
        self.chains = c.chains.max(1);
        self.words = c.prefilter.words();
        let n = N_SOURCES * self.chains;
        self.generation = self.generation.wrapping_add(1);
        if self.agg.len() != n || self.generation == 0 {
            self.agg.clear();
            self.agg.resize(n, (0, 0));
            self.generation = 1;
        }
        self.used = 0;
        self.raw = [0; POOL_SOURCES];
        self.src_gen.clear();
        self.src_gen.resize(N_SOURCES, self.generation);
        self.sets.resize_with(POOL_SOURCES, Vec::new);
    }

    /// Forgets what phase 2 can change: the pools the body fills (empty in phase 1) and
    /// the body-related scalars. Headers, cookies, query arguments and the request line
    /// keep their gate sets.
    pub(super) fn reset_phase2(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped: nothing computed can be trusted; start the table over.
            self.agg.fill((0, 0));
            self.generation = 1;
            self.src_gen.fill(0);
        }
        for (src, g) in self.src_gen.iter_mut().enumerate() {
            if !stable_in_phase2(src) {
                *g = self.generation;
                if let Some(r) = self.raw.get_mut(src) {
                    *r = 0;
                }
            }
        }
    }

    /// A cleared gate-set slot.
    fn alloc(&mut self) -> usize {
        let w = self.words;
        let (a, b) = (self.used * w, (self.used + 1) * w);
        if self.bits.len() < b {
            self.bits.resize(b, 0);
        }
        self.bits[a..b].fill(0);
        self.used += 1;
        self.used - 1
    }

    /// Gate set `slot`.
    fn set(&self, slot: usize) -> &[u64] {
        self.bits
            .get(slot * self.words..(slot + 1) * self.words)
            .unwrap_or_default()
    }

    fn set_mut(&mut self, slot: usize) -> &mut [u64] {
        let w = self.words;
        self.bits
            .get_mut(slot * w..(slot + 1) * w)
            .unwrap_or_default()
    }
}

impl CrsScratch {
    /// Whether some value of the link's targets, transformed by its chain, may contain
    /// one of the link's gate literals. False proves the link cannot match.
    pub(super) fn may_match(&mut self, c: &Compiled, link: &Link) -> bool {
        let Some(g) = link.gate else { return true };
        for &src in &link.gate_srcs {
            // Unknown source: cannot rule the link out.
            let Some(slot) = self.gate_sig(c, src, link) else {
                return true;
            };
            if c.prefilter.passes(g, self.gate.set(slot)) {
                return true;
            }
        }
        false
    }

    /// Whether source `src` cannot hold a match of the link: none of its values,
    /// transformed by the link's chain, contains one of the gate's literals.
    pub(super) fn gate_rules_out(&mut self, c: &Compiled, link: &Link, src: u16) -> bool {
        let Some(g) = link.gate else { return false };
        match self.gate_sig(c, src, link) {
            Some(slot) => !c.prefilter.passes(g, self.gate.set(slot)),
            None => false,
        }
    }

    /// The gate set of (`src`, the link's chain), computed on first use.
    fn gate_sig(&mut self, c: &Compiled, src: u16, link: &Link) -> Option<usize> {
        let chain = usize::from(link.chain_id);
        let idx = usize::from(src) * self.gate.chains + chain;
        match self.gate.agg.get(idx) {
            Some(&(g, slot)) if Some(&g) == self.gate.src_gen.get(usize::from(src)) => {
                return Some(slot as usize)
            }
            Some(_) => {}
            None => return None,
        }
        let cg = c.chain_gates.get(chain).copied()?;
        let src_us = usize::from(src);
        let slot = if src_us < POOL_SOURCES {
            let (p, names) = (POOLS[src_us / 2], src_us % 2 == 1);
            let raw = self.ensure_raw(c, src_us, p, names);
            let n = self.gate.sets[src_us].len();
            let changed = (0..n).any(|i| !cg.identity_for(&self.gate.sets[src_us][i]));
            if !changed {
                // Every value is its own transformed form, up to case.
                raw
            } else {
                // The raw values' gates stay in (a superset is still sound); the values
                // the chain changes add the gates of their transformed forms.
                let slot = self.gate.alloc();
                let w = self.gate.words;
                self.gate.bits.copy_within(raw * w..(raw + 1) * w, slot * w);
                for i in 0..n {
                    if cg.identity_for(&self.gate.sets[src_us][i]) {
                        continue;
                    }
                    let (a, b) = self.transformed(
                        Src::Pool(p, names, i as u32),
                        link.chain_id,
                        &link.transforms,
                    );
                    let v: &[u8] = if a == u32::MAX {
                        &self.t1
                    } else {
                        self.arena.get(a as usize..b as usize).unwrap_or_default()
                    };
                    let dst = self
                        .gate
                        .bits
                        .get_mut(slot * w..(slot + 1) * w)
                        .unwrap_or_default();
                    c.prefilter.scan(v, &byte_set(v), dst);
                }
                slot
            }
        } else {
            let var = SCALARS[src_us - POOL_SOURCES];
            // A value scanned before (by its memo slot) whose chain changes nothing:
            // its recorded scan.
            let ms = self.scalar_slot(src_us - POOL_SOURCES);
            if let Some(bits) = self.memo.scan(ms) {
                let set = tail_set(bits);
                if cg.identity_for(&set) {
                    let slot = self.gate.alloc();
                    let w = self.gate.words;
                    if let Some(dst) = self.gate.bits.get_mut(slot * w..(slot + 1) * w) {
                        for (d, b) in dst.iter_mut().zip(bits) {
                            *d |= b;
                        }
                    }
                    let generation = self.gate.src_gen.get(src_us).copied().unwrap_or(0);
                    if let Some(o) = self.gate.agg.get_mut(idx) {
                        *o = (generation, slot as u32);
                    }
                    return Some(slot);
                }
            }
            let mut v = std::mem::take(&mut self.gate.tmp);
            if var == Var::RequestBody {
                // Whether REQUEST_BODY is exposed can change within the phase
                // (ctl:forceRequestBodyVariable): the gate looks at the body regardless.
                v.clear();
                v.extend_from_slice(&self.req.body);
            } else if !self.req.scalar(var, &mut v) {
                v.clear();
            }
            let slot = self.gate.alloc();
            let set = byte_set(&v);
            if cg.identity_for(&set) {
                c.prefilter.scan(&v, &set, self.gate.set_mut(slot));
                // The slot was cleared: it holds the raw value's scan alone.
                let w = self.gate.words;
                if let Some(bits) = self.gate.bits.get(slot * w..(slot + 1) * w) {
                    self.memo.set_scan(ms, bits);
                }
            } else {
                let mut a = std::mem::take(&mut self.t1);
                let mut b = std::mem::take(&mut self.t2);
                a.clear();
                a.extend_from_slice(&v);
                for t in &link.transforms {
                    t.apply(&a, &mut b);
                    std::mem::swap(&mut a, &mut b);
                }
                c.prefilter.scan(&a, &byte_set(&a), self.gate.set_mut(slot));
                self.t1 = a;
                self.t2 = b;
            }
            self.gate.tmp = v;
            slot
        };
        let generation = self.gate.src_gen.get(src_us).copied().unwrap_or(0);
        if let Some(o) = self.gate.agg.get_mut(idx) {
            *o = (generation, slot as u32);
        }
        Some(slot)
    }

    /// The gate set of a pool source's raw values, and their byte sets, once per phase.
    fn ensure_raw(&mut self, c: &Compiled, src: usize, p: PoolId, names: bool) -> usize {
        if self.gate.raw[src] > 0 {
            return (self.gate.raw[src] - 1) as usize;
        }
        let slot = self.gate.alloc();
        let w = self.gate.words;
        let mut sets = std::mem::take(&mut self.gate.sets[src]);
        let mut one = std::mem::take(&mut self.gate.one);
        sets.clear();
        let n = super::pool_in(&self.req, p).len() as u32;
        for i in 0..n {
            // A value met before (by its memo slot): its recorded scan, not a new one.
            let ms = self.pool_slot(src, i);
            if let Some(bits) = self.memo.scan(ms) {
                sets.push(tail_set(bits));
                if let Some(dst) = self.gate.bits.get_mut(slot * w..(slot + 1) * w) {
                    for (d, b) in dst.iter_mut().zip(bits) {
                        *d |= b;
                    }
                }
                continue;
            }
            let Some(kv) = super::pool_in(&self.req, p).as_slice().get(i as usize) else {
                break;
            };
            let v = if names { &kv.name } else { &kv.value };
            let set = byte_set(v);
            sets.push(set);
            one.clear();
            one.resize(w, 0);
            c.prefilter.scan(v, &set, &mut one);
            if let Some(dst) = self.gate.bits.get_mut(slot * w..(slot + 1) * w) {
                for (d, b) in dst.iter_mut().zip(&one) {
                    *d |= b;
                }
            }
            self.memo.set_scan(ms, &one);
        }
        self.gate.one = one;
        self.gate.sets[src] = sets;
        self.gate.raw[src] = slot as u32 + 1;
        slot
    }
}
