//! Numbering at load: each link's index (its bit in the miss memo's sets; the links
//! with memo sources first, phase 1's then phase 2's), its TX
//! regex targets' cache ids, its memo and gate value sources, each target's source bit
//! mask, the readers of each value source (with the words they span per phase), and
//! which rules a `ctl:ruleRemoveTarget*`
//! can narrow. The per-transaction use of all this is in [`super::skip`].

use ahash::AHashMap;

use super::super::compile::{self, Compiled, Link};
use super::super::model::{Ctl, Var};
use super::sources::{self, N_SOURCES};

/// Numbers the program's links (the memo's bit positions), their TX regex targets and
/// their distinct memo source sets, fills each link's gate and memo sources, and marks
/// the rules some `ctl:ruleRemoveTarget*` names. Returns (links, source sets).
pub(super) fn number_links(c: &mut Compiled) -> (usize, usize) {
    // The links with memo sources first, phase 1's then phase 2's, so each phase's
    // skip set and each source's intersection span few words (see `fill_skip`).
    for link in c.rules.iter_mut().flat_map(|r| &mut r.links) {
        link.memo_srcs = skip_sources(link);
    }
    let mut links = 0u32;
    for phase in [1u8, 2] {
        for rule in c.rules.iter_mut().filter(|r| r.phase.clamp(1, 2) == phase) {
            for link in rule.links.iter_mut().filter(|l| l.memo_srcs.is_some()) {
                link.idx = links;
                links += 1;
            }
        }
    }
    let memo_links = links as usize;
    for link in c.rules.iter_mut().flat_map(|r| &mut r.links) {
        if link.memo_srcs.is_none() {
            link.idx = links;
            links += 1;
        }
    }
    let mut groups: AHashMap<Vec<u16>, u32> = AHashMap::new();
    let mut tx_sels = 0u32;
    let mut buf = Vec::new();
    for (ri, rule) in c.rules.iter_mut().enumerate() {
        rule.idx = ri as u32;
        for link in &mut rule.links {
            for t in &mut link.targets {
                buf.clear();
                if sources::sources_of(t.var, &mut buf) {
                    t.src_mask = buf.iter().filter(|&&b| b < 64).fold(0, |m, &b| m | 1 << b);
                }
                if t.var == Var::Tx && !matches!(t.sel, Some(compile::Sel::Name(_))) {
                    t.tx_sel = tx_sels;
                    tx_sels += 1;
                }
            }
            if let Some(srcs) = &link.memo_srcs {
                link.memo_mask = srcs.iter().filter(|&&b| b < 64).fold(0, |m, &b| m | 1 << b);
                let n = groups.len() as u32;
                link.memo_group = *groups.entry(srcs.clone()).or_insert(n);
            }
            if link.gate.is_none() {
                continue;
            }
            let mut srcs = Vec::new();
            let mut ok = true;
            for t in link.targets.iter().filter(|t| !t.excluded) {
                ok &= sources::sources_of(t.var, &mut srcs);
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
    let mut ctl_ids = Vec::new();
    let mut ctl_tags = Vec::new();
    for l in c.rules.iter().flat_map(|r| &r.links) {
        for ctl in &l.ctls {
            match ctl {
                Ctl::RuleRemoveTargetById(id, _) => ctl_ids.push(*id),
                Ctl::RuleRemoveTargetByTag(tag, _) => ctl_tags.push(tag.to_string()),
                _ => {}
            }
        }
    }
    for r in &mut c.rules {
        r.target_ctl = ctl_ids.contains(&r.id) || r.tags.iter().any(|t| ctl_tags.contains(t));
    }
    let words = (links as usize).div_ceil(64).max(1);
    // Per phase: a phase's skip set only answers for its own rules' links, so a source
    // only the other phase reads is not worked out (see `fill_skip`).
    let mut users = vec![0u64; 2 * N_SOURCES * words];
    for rule in &c.rules {
        let base = usize::from(rule.phase.clamp(1, 2) - 1) * N_SOURCES;
        for link in &rule.links {
            for &src in link.memo_srcs.iter().flatten() {
                let at = (base + usize::from(src)) * words + link.idx as usize / 64;
                if let Some(u) = users.get_mut(at) {
                    *u |= 1 << (link.idx % 64);
                }
            }
        }
    }
    for (phase, out) in c.phase_srcs.iter_mut().enumerate() {
        out.clear();
        for src in 0..N_SOURCES {
            let at = (phase * N_SOURCES + src) * words;
            let Some(u) = users.get(at..at + words) else {
                continue;
            };
            let (Some(lo), Some(hi)) = (
                u.iter().position(|&x| x != 0),
                u.iter().rposition(|&x| x != 0),
            ) else {
                continue;
            };
            out.push((src as u16, lo as u32, hi as u32 + 1));
        }
    }
    c.memo_words = memo_links.div_ceil(64).min(words);
    c.src_users = users;
    (links as usize, groups.len())
}

/// The memo sources of a link that can be skipped when all of them are known misses.
pub(super) fn skip_sources(link: &Link) -> Option<Vec<u16>> {
    if !link.pure || link.op.is_none() {
        return None;
    }
    let mut srcs = Vec::new();
    for t in link.targets.iter().filter(|t| !t.excluded) {
        if t.count || !sources::sources_of(t.var, &mut srcs) {
            return None;
        }
    }
    srcs.sort_unstable();
    srcs.dedup();
    Some(srcs)
}
