//! The per-transaction side of the literal gates ([`super::super::prefilter`]): for each
//! value source (a pool of names or values, or a scalar variable) and transformation
//! chain, the set of gates whose literals occur in some value, computed on first use and
//! kept for the phase.
//!
//! A raw value's byte set decides whether a chain can change it beyond ASCII case; if
//! not, the raw value's scan (done once per value) stands for the chain's. Otherwise the
//! value is transformed through the evaluator's per-transaction cache (the same cache the
//! operators then read) and scanned. A GET without arguments has empty argument pools, so
//! every rule over ARGS is decided here without looking at a value.

use super::super::compile::{Compiled, Link};
use super::super::model::Var;
use super::super::prefilter::{byte_set, has, ByteSet};
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

/// A raw pool value's byte set and, once scanned, where its gate bits are.
#[derive(Debug, Clone, Copy)]
struct RawInfo {
    set: ByteSet,
    /// Offset of its bits in `GateState::bits`, `u32::MAX` before the first scan.
    hits: u32,
}

/// Reused gate state of one worker.
#[derive(Debug, Default)]
pub(super) struct GateState {
    /// Per (source, chain): offset + 1 of the gate bits in `bits`, 0 = not yet computed.
    agg: Vec<u32>,
    bits: Vec<u64>,
    /// Per pool source: its values' raw info, valid when the source's bit in `raw_ready`.
    raw: Vec<Vec<RawInfo>>,
    raw_ready: u32,
    seen: Vec<u64>,
    tmp: Vec<u8>,
    chains: usize,
    words: usize,
}

impl GateState {
    /// Forgets everything computed (the values change between phases).
    pub(super) fn reset(&mut self, c: &Compiled) {
        self.chains = c.chains;
        self.words = c.prefilter.words();
        self.agg.clear();
        self.agg.resize(N_SOURCES * c.chains.max(1), 0);
        self.bits.clear();
        self.raw.resize_with(POOL_SOURCES, Vec::new);
        self.raw_ready = 0;
    }
}

impl CrsScratch {
    /// Whether some value of the link's targets, transformed by its chain, contains one
    /// of the link's gate literals. False proves the link cannot match.
    #[inline(never)]
    pub(super) fn may_match(&mut self, c: &Compiled, link: &Link) -> bool {
        let Some(g) = link.gate else { return true };
        for &src in &link.gate_srcs {
            // Unknown source: cannot rule the link out.
            let Some(off) = self.gate_bits(c, src, link) else {
                return true;
            };
            let w = self.gate.words;
            if has(self.gate.bits.get(off..off + w).unwrap_or_default(), g) {
                return true;
            }
        }
        false
    }

    /// The gate bits of (`src`, the link's chain), computed on first use.
    #[inline(never)]
    fn gate_bits(&mut self, c: &Compiled, src: u16, link: &Link) -> Option<usize> {
        let chain = usize::from(link.chain_id);
        let idx = usize::from(src) * self.gate.chains + chain;
        match self.gate.agg.get(idx) {
            Some(&o) if o > 0 => return Some((o - 1) as usize),
            Some(_) => {}
            None => return None,
        }
        let w = self.gate.words;
        let off = self.gate.bits.len();
        self.gate.bits.resize(off + w, 0);
        let cg = c.chain_gates.get(chain).copied();
        let src_us = usize::from(src);
        if src_us < POOL_SOURCES {
            let (p, names) = (POOLS[src_us / 2], src_us % 2 == 1);
            self.ensure_raw(src_us, p, names);
            let n = self.gate.raw[src_us].len();
            for i in 0..n {
                let info = self.gate.raw[src_us][i];
                if cg.is_some_and(|g| g.identity_for(&info.set)) {
                    let h = if info.hits == u32::MAX {
                        let h = self.gate.bits.len();
                        self.gate.bits.resize(h + w, 0);
                        let kv = super::pool_in(&self.req, p).as_slice().get(i);
                        let v = kv.map_or(&[][..], |kv| if names { &kv.name } else { &kv.value });
                        let st = &mut self.gate;
                        c.prefilter
                            .scan(v, &info.set, &mut st.seen, &mut st.bits[h..h + w]);
                        st.raw[src_us][i].hits = h as u32;
                        h
                    } else {
                        info.hits as usize
                    };
                    for k in 0..w {
                        let x = self.gate.bits[h + k];
                        self.gate.bits[off + k] |= x;
                    }
                } else {
                    let (a, b) =
                        self.transformed(Src::Pool(p, names, i as u32), link.chain_id, &link.transforms);
                    let v: &[u8] = if a == u32::MAX {
                        &self.t1
                    } else {
                        self.arena.get(a as usize..b as usize).unwrap_or_default()
                    };
                    let set = byte_set(v);
                    let st = &mut self.gate;
                    c.prefilter
                        .scan(v, &set, &mut st.seen, &mut st.bits[off..off + w]);
                }
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
            let set = byte_set(&v);
            if cg.is_some_and(|g| g.identity_for(&set)) {
                let st = &mut self.gate;
                c.prefilter
                    .scan(&v, &set, &mut st.seen, &mut st.bits[off..off + w]);
            } else {
                let mut a = std::mem::take(&mut self.t1);
                let mut b = std::mem::take(&mut self.t2);
                a.clear();
                a.extend_from_slice(&v);
                for t in &link.transforms {
                    t.apply(&a, &mut b);
                    std::mem::swap(&mut a, &mut b);
                }
                let set = byte_set(&a);
                let st = &mut self.gate;
                c.prefilter
                    .scan(&a, &set, &mut st.seen, &mut st.bits[off..off + w]);
                self.t1 = a;
                self.t2 = b;
            }
            self.gate.tmp = v;
        }
        if let Some(slot) = self.gate.agg.get_mut(idx) {
            *slot = off as u32 + 1;
        }
        Some(off)
    }

    /// Computes the byte sets of a pool source's values once per phase.
    fn ensure_raw(&mut self, src: usize, p: PoolId, names: bool) {
        if self.gate.raw_ready & (1 << src) != 0 {
            return;
        }
        let mut raw = std::mem::take(&mut self.gate.raw[src]);
        raw.clear();
        for kv in self.pool(p).as_slice() {
            let v = if names { &kv.name } else { &kv.value };
            raw.push(RawInfo {
                set: byte_set(v),
                hits: u32::MAX,
            });
        }
        self.gate.raw[src] = raw;
        self.gate.raw_ready |= 1 << src;
    }
}
