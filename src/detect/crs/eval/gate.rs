//! The per-transaction side of the literal gates ([`super::super::prefilter`]): for each
//! value source (a pool of names or values, or a scalar variable) and transformation
//! chain, the [`Signature`] of its values, computed on first use and kept for the phase.
//!
//! A raw value's byte set decides whether a chain can change it beyond ASCII case; if
//! not, the raw values' signature (built once per source) stands for the chain's.
//! Otherwise the value is transformed through the evaluator's per-transaction cache (the
//! same cache the operators then read) and its pairs are added. A GET without arguments has empty argument pools, so
//! every rule over ARGS is decided here without looking at a value.

use super::super::compile::{Compiled, Link};
use super::super::model::Var;
use super::super::prefilter::{byte_set, ByteSet, Signature};
use super::{CrsScratch, PoolId, Src};

/// Pool sources: `pool * 2 + names`.
const POOL_SOURCES: usize = 16;

const POOLS: [PoolId; 8] = [
    PoolId::ArgsGet,
    PoolId::ArgsPost,
    PoolId::Cookies,
    PoolId::Headers,
    PoolId::Files,
    PoolId::FilesSizes,
    PoolId::PartHeaders,
    PoolId::Xml,
];

/// Scalar variables, numbered after the pool sources.
const SCALARS: [Var; 19] = [
    Var::RequestFilename,
    Var::RequestBasename,
    Var::RequestUri,
    Var::RequestUriRaw,
    Var::RequestLine,
    Var::RequestMethod,
    Var::RequestProtocol,
    Var::QueryString,
    Var::RequestBody,
    Var::RequestBodyLength,
    Var::ArgsCombinedSize,
    Var::FilesCombinedSize,
    Var::MultipartStrictError,
    Var::MultipartUnmatchedBoundary,
    Var::ReqbodyProcessor,
    Var::ReqbodyError,
    Var::RemoteAddr,
    Var::UniqueId,
    Var::Duration,
];

const N_SOURCES: usize = POOL_SOURCES + SCALARS.len();

fn pool_source(p: PoolId, names: bool) -> u16 {
    let i = POOLS.iter().position(|&x| x == p).unwrap_or(0);
    (i * 2 + usize::from(names)) as u16
}

/// Adds the sources of `var` to `out`; false when the variable cannot be gated.
pub(super) fn sources_of(var: Var, out: &mut Vec<u16>) -> bool {
    let pools = super::pools_of(var);
    if !pools.is_empty() {
        out.extend(pools.iter().map(|&(p, n)| pool_source(p, n)));
        return true;
    }
    if var == Var::Empty {
        return true;
    }
    match SCALARS.iter().position(|&v| v == var) {
        Some(i) => {
            out.push((POOL_SOURCES + i) as u16);
            true
        }
        None => false,
    }
}

/// Reused gate state of one worker.
#[derive(Debug, Default)]
pub(super) struct GateState {
    /// Per (source, chain): (generation, slot of its signature in `sigs`); an entry of
    /// an older generation is not computed yet (no clearing between phases).
    agg: Vec<(u32, u32)>,
    generation: u32,
    /// Signatures; the first `used` are this phase's.
    sigs: Vec<Signature>,
    used: usize,
    /// Per pool source: slot + 1 of the raw values' signature, 0 = not yet computed.
    raw: [u32; POOL_SOURCES],
    /// Per pool source: each raw value's byte set (valid once `raw` is set).
    sets: Vec<Vec<ByteSet>>,
    tmp: Vec<u8>,
    chains: usize,
}

impl GateState {
    /// Forgets everything computed (the values change between phases).
    pub(super) fn reset(&mut self, c: &Compiled) {
        self.chains = c.chains.max(1);
        let n = N_SOURCES * self.chains;
        self.generation = self.generation.wrapping_add(1);
        if self.agg.len() != n || self.generation == 0 {
            self.agg.clear();
            self.agg.resize(n, (0, 0));
            self.generation = 1;
        }
        self.used = 0;
        self.raw = [0; POOL_SOURCES];
        self.sets.resize_with(POOL_SOURCES, Vec::new);
    }

    /// A cleared signature slot.
    fn alloc(&mut self) -> usize {
        if self.used == self.sigs.len() {
            self.sigs.push(Signature::default());
        } else {
            self.sigs[self.used].clear();
        }
        self.used += 1;
        self.used - 1
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
            if c.prefilter.passes(g, &self.gate.sigs[slot]) {
                return true;
            }
        }
        false
    }

    /// The signature of (`src`, the link's chain), computed on first use.
    fn gate_sig(&mut self, c: &Compiled, src: u16, link: &Link) -> Option<usize> {
        let chain = usize::from(link.chain_id);
        let idx = usize::from(src) * self.gate.chains + chain;
        match self.gate.agg.get(idx) {
            Some(&(g, slot)) if g == self.gate.generation => return Some(slot as usize),
            Some(_) => {}
            None => return None,
        }
        let cg = c.chain_gates.get(chain).copied()?;
        let src_us = usize::from(src);
        let slot = if src_us < POOL_SOURCES {
            let (p, names) = (POOLS[src_us / 2], src_us % 2 == 1);
            let raw = self.ensure_raw(src_us, p, names);
            let n = self.gate.sets[src_us].len();
            let changed = (0..n).any(|i| !cg.identity_for(&self.gate.sets[src_us][i]));
            if !changed {
                // Every value is its own transformed form, up to case.
                raw
            } else {
                // The raw values' pairs stay in (a superset is still sound); the values
                // the chain changes add their transformed pairs.
                let slot = self.gate.alloc();
                let (a, b) = self.gate.sigs.split_at_mut(slot);
                if let (Some(r), Some(dst)) = (a.get(raw), b.first_mut()) {
                    dst.union(r);
                }
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
                    self.gate.sigs[slot].add(v);
                }
                slot
            }
        } else {
            let var = SCALARS[src_us - POOL_SOURCES];
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
            if cg.identity_for(&byte_set(&v)) {
                self.gate.sigs[slot].add(&v);
            } else {
                let mut a = std::mem::take(&mut self.t1);
                let mut b = std::mem::take(&mut self.t2);
                a.clear();
                a.extend_from_slice(&v);
                for t in &link.transforms {
                    t.apply(&a, &mut b);
                    std::mem::swap(&mut a, &mut b);
                }
                self.gate.sigs[slot].add(&a);
                self.t1 = a;
                self.t2 = b;
            }
            self.gate.tmp = v;
            slot
        };
        let generation = self.gate.generation;
        if let Some(o) = self.gate.agg.get_mut(idx) {
            *o = (generation, slot as u32);
        }
        Some(slot)
    }

    /// The signature of a pool source's raw values, and their byte sets, once per phase.
    fn ensure_raw(&mut self, src: usize, p: PoolId, names: bool) -> usize {
        if self.gate.raw[src] > 0 {
            return (self.gate.raw[src] - 1) as usize;
        }
        let slot = self.gate.alloc();
        let mut sets = std::mem::take(&mut self.gate.sets[src]);
        sets.clear();
        for kv in super::pool_in(&self.req, p).as_slice() {
            let v = if names { &kv.name } else { &kv.value };
            sets.push(byte_set(v));
            self.gate.sigs[slot].add(v);
        }
        self.gate.sets[src] = sets;
        self.gate.raw[src] = slot as u32 + 1;
        slot
    }
}
