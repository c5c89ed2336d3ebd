//! Named selectors: the links that can never select a collection value because of its
//! name, decided at load per value source.
//!
//! Many links read a collection only through literal names (920190 reads
//! `REQUEST_HEADERS:Range|REQUEST_HEADERS:Request-Range`, 920160
//! `REQUEST_HEADERS:Content-Length`). A value of that source under any other name is
//! never their candidate, so it is a miss for them whatever its bytes. A memo slot made
//! for a pool value starts with those links' bits set (see
//! [`super::memo::MissMemo::slot`]): a fresh `Cookie` or `Referer` header no longer
//! makes every header rule collect the headers to find none of its names.
//!
//! A link qualifies for a source when it is a memo link (pure, no count) and every
//! target it reads that source through has a literal name selector (a regex selector or
//! the whole collection could select any name). Exclusions and `ctl` removals only
//! narrow what a target selects, so they never make a name selectable.

use super::super::compile::{Compiled, Sel};
use super::sources::POOL_SOURCES;

/// Per pool source: the links that read it only through literal names, and per name
/// the ones among them that select it.
#[derive(Debug, Default, Clone)]
pub(super) struct NameSets {
    words: usize,
    /// Per pool source (empty when no link qualifies).
    per_src: Vec<SrcNames>,
}

#[derive(Debug, Default, Clone)]
struct SrcNames {
    /// `words` u64: the qualifying links.
    links: Vec<u64>,
    /// (lowercase name, `words` u64: the qualifying links that select it).
    by_name: Vec<(Vec<u8>, Vec<u64>)>,
}

impl NameSets {
    /// Works out the sets of a numbered program (`words` u64 per link set).
    pub(super) fn build(c: &Compiled, words: usize) -> NameSets {
        let mut per_src = vec![SrcNames::default(); POOL_SOURCES];
        for link in c.rules.iter().flat_map(|r| &r.links) {
            let Some(srcs) = &link.memo_srcs else {
                continue;
            };
            let (w, bit) = (link.idx as usize / 64, 1u64 << (link.idx % 64));
            for &src in srcs.iter().filter(|&&s| usize::from(s) < POOL_SOURCES) {
                let reading = || {
                    link.targets
                        .iter()
                        .filter(move |t| !t.excluded && t.src_mask & (1 << src) != 0)
                };
                let named = reading().all(|t| matches!(t.sel, Some(Sel::Name(_))));
                let Some(s) = per_src.get_mut(usize::from(src)) else {
                    continue;
                };
                if !named {
                    continue;
                }
                if s.links.is_empty() {
                    s.links = vec![0; words];
                }
                s.links[w] |= bit;
                for t in reading() {
                    let Some(Sel::Name(n)) = &t.sel else {
                        continue;
                    };
                    let n = n.to_ascii_lowercase();
                    let k = match s.by_name.iter().position(|(x, _)| *x == n) {
                        Some(k) => k,
                        None => {
                            s.by_name.push((n, vec![0; words]));
                            s.by_name.len() - 1
                        }
                    };
                    s.by_name[k].1[w] |= bit;
                }
            }
        }
        NameSets { words, per_src }
    }

    /// Adds to `bits` the links that never select a value named `name` in pool source
    /// `src`.
    pub(super) fn add_misses(&self, src: usize, name: &[u8], bits: &mut [u64]) {
        let Some(s) = self.per_src.get(src) else {
            return;
        };
        if s.links.is_empty() || bits.len() != self.words {
            return;
        }
        let selecting = s
            .by_name
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, b)| &b[..]);
        for (k, (x, l)) in bits.iter_mut().zip(&s.links).enumerate() {
            let sel = selecting.and_then(|b| b.get(k)).copied().unwrap_or(0);
            *x |= l & !sel;
        }
    }

    /// Links that qualify for some source.
    #[cfg(test)]
    pub(super) fn links(&self) -> usize {
        let mut all = vec![0u64; self.words];
        for s in &self.per_src {
            for (a, l) in all.iter_mut().zip(&s.links) {
                *a |= l;
            }
        }
        all.iter().map(|x| x.count_ones() as usize).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::crs::tests::bundled;
    use crate::detect::crs::{CrsEngine, CrsSettings};

    /// The shortcut against the plain selection: a link's bit is set for a name only
    /// when it reads the source and none of its targets there selects the name, and it
    /// is set for every such link whose targets there all name literals.
    #[test]
    fn a_name_is_a_miss_only_for_links_that_never_select_it() {
        let e = CrsEngine::load(&CrsSettings::new(bundled())).expect("bundled CRS loads");
        let p = &e.program;
        let words = p.links.div_ceil(64).max(1);
        assert!(p.names.links() >= 10, "{}", p.names.links());
        let names: [&[u8]; 9] = [
            b"Range",
            b"range",
            b"Cookie",
            b"Content-Length",
            b"referer",
            b"x-unknown",
            b"",
            b"User-Agent",
            b"_charset_",
        ];
        let (mut set_somewhere, mut clear_somewhere) = (0, 0);
        for src in 0..POOL_SOURCES {
            for name in names {
                let mut bits = vec![0u64; words];
                p.names.add_misses(src, name, &mut bits);
                for link in p.c.rules.iter().flat_map(|r| &r.links) {
                    let set = bits[link.idx as usize / 64] & (1 << (link.idx % 64)) != 0;
                    let reads = link
                        .memo_srcs
                        .as_ref()
                        .is_some_and(|s| s.contains(&(src as u16)));
                    let through: Vec<_> = link
                        .targets
                        .iter()
                        .filter(|t| !t.excluded && t.src_mask & (1 << src) != 0)
                        .collect();
                    let selects = through
                        .iter()
                        .any(|t| t.sel.as_ref().map_or(true, |s| s.matches(name)));
                    let all_named = through.iter().all(|t| matches!(t.sel, Some(Sel::Name(_))));
                    assert_eq!(
                        set,
                        reads && all_named && !selects,
                        "link {} source {src} name {:?}",
                        link.idx,
                        String::from_utf8_lossy(name)
                    );
                    if reads && all_named {
                        if set {
                            set_somewhere += 1;
                        } else {
                            clear_somewhere += 1;
                        }
                    }
                }
            }
        }
        assert!(set_somewhere > 0 && clear_somewhere > 0);
    }
}
