//! The per-phase skip set and the per-source intersections it is made of: which
//! links every value of a source is a known miss for ([`CrsScratch::source_misses`]),
//! and, once per phase, which links no source they read can match
//! ([`CrsScratch::fill_skip`], asked by `first_link_skipped` and `known_miss`).

use super::super::super::compile::Compiled;
use super::super::sources::{N_SOURCES, POOLS, POOL_SOURCES};
use super::super::CrsScratch;

impl CrsScratch {
    /// Works out `slots.skip`: the links none of whose sources holds a value not known
    /// to miss them. Per source (its intersection computed once per phase), the links
    /// reading it that it does not rule out are collected; the rest are skipped. Only
    /// phase `phase`'s readers count (a phase runs only its own rules, and the set is
    /// worked out again in the next phase), so a source only the other phase reads
    /// costs nothing here: phase 1 no longer hashes the query arguments and cookies that
    /// only phase-2 rules read, and phase 2 skips the sources only phase 1 reads.
    pub(super) fn fill_skip(&mut self, c: &Compiled, phase: u8) {
        let w = self.slots.words;
        let mut live = std::mem::take(&mut self.slots.skip);
        live.clear();
        live.resize(w, 0);
        let base = usize::from(phase.clamp(1, 2) - 1) * N_SOURCES;
        // The links a ctl took a whole source from read nothing there (a removal made
        // later in the phase only narrows further: the set stays sound).
        let mut removed = std::mem::take(&mut self.slots.removed);
        removed.clear();
        if let Some(r) = self.removed_users(c, w) {
            removed.extend_from_slice(r);
        }
        let phase_srcs = c
            .phase_srcs
            .get(usize::from(phase.clamp(1, 2) - 1))
            .map_or(&[][..], |v| &v[..]);
        // Only the sources the phase reads, over the words their readers span.
        for &(src, lo, hi) in phase_srcs {
            let (src, lo, hi) = (usize::from(src), lo as usize, hi as usize);
            let at = (base + src) * w;
            let Some(users) = c.src_users.get(at + lo..at + hi) else {
                continue;
            };
            let Some(live) = live.get_mut(lo..hi) else {
                continue;
            };
            self.source_misses(src, 0);
            let gone = removed.get(src * w + lo..src * w + hi);
            match (self.slots.and.get(src * w + lo..src * w + hi), gone) {
                (Some(missed), Some(gone)) => {
                    for (((l, u), m), g) in live.iter_mut().zip(users).zip(missed).zip(gone) {
                        *l |= u & !m & !g;
                    }
                }
                (Some(missed), None) => {
                    for ((l, u), m) in live.iter_mut().zip(users).zip(missed) {
                        *l |= u & !m;
                    }
                }
                (None, _) => {
                    for (l, u) in live.iter_mut().zip(users) {
                        *l |= u;
                    }
                }
            }
        }
        self.slots.removed = removed;
        for x in live.iter_mut() {
            *x = !*x;
        }
        // Links without memo sources are never read from this set (`known_miss`).
        self.slots.skip = live;
        self.slots.skip_ok = true;
    }

    /// Whether every value of source `src` is a known miss for link `idx` (the
    /// source's intersection is worked out on first use in the phase). Inlined: the
    /// narrowed links ask it for each live source, most often answered by one bit.
    #[inline]
    pub(in crate::detect::crs::eval) fn source_misses(&mut self, src: usize, idx: u32) -> bool {
        match self.slots.and_ok.get(src) {
            Some(true) => {}
            Some(false) => self.fill_source(src),
            None => return false,
        }
        let i = src * self.slots.words + idx as usize / 64;
        self.slots
            .and
            .get(i)
            .is_some_and(|x| x & (1 << (idx % 64)) != 0)
    }

    /// Works out source `src`'s intersection: the links every value of it misses.
    #[inline(never)]
    fn fill_source(&mut self, src: usize) {
        let w = self.slots.words;
        let mut acc = std::mem::take(&mut self.slots.and);
        if let Some(dst) = acc.get_mut(src * w..(src + 1) * w) {
            dst.fill(u64::MAX);
            // Only the links with memo sources ask (the first `memo_words`); the rest
            // stay "not known to miss".
            let (dst, rest) = dst.split_at_mut(self.slots.memo_words.min(w));
            rest.fill(0);
            if src < POOL_SOURCES {
                let n = self.pool(POOLS[src / 2]).len() as u32;
                for i in 0..n {
                    let slot = self.pool_slot(src, i);
                    self.memo.and_into(slot, dst);
                }
            } else {
                let slot = self.scalar_slot(src - POOL_SOURCES);
                self.memo.and_into(slot, dst);
            }
            if let Some(ok) = self.slots.and_ok.get_mut(src) {
                *ok = true;
            }
        }
        self.slots.and = acc;
    }
}
