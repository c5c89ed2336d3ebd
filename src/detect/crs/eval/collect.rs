//! Gathering a target's candidate values from the request pools, TX and the scratch
//! pool, applying selectors and exclusions, and naming the variable a value came through
//! (MATCHED_VAR_NAME).

use super::super::collections::{Kv, Pool, Request};
use super::super::compile::{CRule, Sel, Target};
use super::super::model::Var;
use super::actions::push_decimal;
use super::*;

impl CrsScratch {
    pub(super) fn cand_name(&mut self, c: &Cand) {
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
    pub(super) fn collect(&mut self, rule: &CRule, t: &Target) {
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
                        scalar: super::memo::NO_SOURCE,
                    });
                }
            }
        } else {
            match t.var {
                Var::Tx => {
                    match &t.sel {
                        Some(Sel::Name(n)) => {
                            // One variable by name: copied straight into the scratch pool.
                            if let Some(v) = self.tx.get(n) {
                                let i = self.tmp.len() as u32;
                                self.tmp.add(n, v);
                                self.cands.push(Cand {
                                    src: Src::Tmp(i),
                                    var: Var::Tx,
                                    scalar: super::memo::NO_SOURCE,
                                });
                            }
                        }
                        _ => self.collect_tx(t),
                    }
                }
                Var::MatchedVar => {
                    let i = self.tmp.len() as u32;
                    let v = self.matched_var.clone();
                    self.tmp.add(b"", &v);
                    self.cands.push(Cand {
                        src: Src::Tmp(i),
                        var: Var::MatchedVar,
                        scalar: super::memo::NO_SOURCE,
                    });
                }
                Var::MatchedVarName => {
                    let i = self.tmp.len() as u32;
                    let v = self.matched_name.clone();
                    self.tmp.add(b"", &v);
                    self.cands.push(Cand {
                        src: Src::Tmp(i),
                        var: Var::MatchedVarName,
                        scalar: super::memo::NO_SOURCE,
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
                            scalar: super::memo::NO_SOURCE,
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
                            scalar: super::sources::scalar_source(v),
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
                scalar: super::memo::NO_SOURCE,
            });
        }
    }

    /// The TX variables a regex selector (or the whole collection) takes, in name
    /// order, copied into the scratch pool without allocating per variable. A TX slot
    /// keeps its name for the worker's life, so which slots the target selects is
    /// decided once per slot and kept sorted by name: each call looks only at the
    /// slots made since the last one, then takes the selected ones set in this
    /// transaction (920450 reads its per-header names among a few hundred TX names).
    fn collect_tx(&mut self, t: &Target) {
        if self.tx_sel_epoch != self.tx.epoch() {
            self.tx_sel_epoch = self.tx.epoch();
            for c in &mut self.tx_sel_cache {
                c.seen = 0;
                c.selected.clear();
            }
        }
        let id = t.tx_sel as usize;
        if t.tx_sel != u32::MAX && self.tx_sel_cache.len() <= id {
            self.tx_sel_cache.resize_with(id + 1, TxSel::default);
        }
        let mut cache = self
            .tx_sel_cache
            .get_mut(id)
            .map(std::mem::take)
            .unwrap_or_default();
        let n = self.tx.slot_count();
        for slot in cache.seen..n {
            let k = self.tx.slot_name(slot);
            let take = t.sel.as_ref().map_or(true, |s| s.matches(k))
                && !t.excl.iter().any(|e| e.matches(k));
            if take {
                let tx = &self.tx;
                let at = cache
                    .selected
                    .binary_search_by(|&j| tx.slot_name(j as usize).cmp(k))
                    .unwrap_or_else(|e| e);
                cache.selected.insert(at, slot as u32);
            }
        }
        cache.seen = n;
        for &slot in &cache.selected {
            let Some(v) = self.tx.slot_value(slot as usize) else {
                continue;
            };
            let i = self.tmp.len() as u32;
            self.tmp.add(self.tx.slot_name(slot as usize), v);
            self.cands.push(Cand {
                src: Src::Tmp(i),
                var: Var::Tx,
                scalar: super::memo::NO_SOURCE,
            });
        }
        if let Some(c) = self.tx_sel_cache.get_mut(id) {
            *c = cache;
        }
    }

    pub(super) fn keep(&self, rule: &CRule, t: &Target, name: &[u8]) -> bool {
        if let Some(s) = &t.sel {
            if !s.matches(name) {
                return false;
            }
        }
        !t.excl.iter().any(|e| e.matches(name))
            && (!rule.target_ctl
                || self.removed_targets.is_empty()
                || !self.name_removed(rule, t.var, name))
    }
}

/// The TX slots a TX target with a regex selector takes (see `collect_tx`).
#[derive(Debug, Default)]
pub(super) struct TxSel {
    /// Slots looked at so far (all below it).
    seen: usize,
    /// The selected ones, in name order.
    selected: Vec<u32>,
}

/// A pool of the request.
pub(super) fn pool_in(req: &Request, id: PoolId) -> &Pool {
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
pub(super) fn pools_of(var: Var) -> &'static [(PoolId, bool)] {
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

pub(super) fn var_name(v: Var) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::super::txmap::TxMap;
    use super::*;
    use crate::detect::crs::model::SelectorSpec;

    const NAMES: [&str; 8] = [
        "header_name_920450_host",
        "header_name_920450_proxy",
        "score",
        "header_name_920450_accept",
        "header_name_920450_x_skip",
        "0",
        "header_name_920450_cookie",
        "paranoia_level",
    ];

    fn target(tx_sel: u32) -> Target {
        let sel =
            |r: &str| Sel::compile(&SelectorSpec::Regex(r.into())).expect("test selector compiles");
        Target {
            var: Var::Tx,
            sel: Some(sel("^header_name_920450_")),
            count: false,
            excl: vec![sel("x_skip$")],
            excluded: false,
            tx_sel,
            src_mask: 0,
        }
    }

    proptest::proptest! {
        /// Over transactions that set TX names in any order (new slots appearing
        /// between calls), the kept selection gives what the plain walk gives: every
        /// set variable the selector takes and the exclusion does not, in name order.
        #[test]
        fn kept_tx_selection_matches_the_plain_walk(
            txns in proptest::collection::vec(
                proptest::collection::vec((0usize..8, 0u8..3), 0..6), 1..8)
        ) {
            let mut base = TxMap::default();
            base.set(b"paranoia_level", b"1");
            let t = target(0);
            let mut s = CrsScratch::default();
            for (n, sets) in txns.iter().enumerate() {
                s.tx.reset_from(&base, 1);
                for &(k, v) in sets {
                    s.tx.set(NAMES[k].as_bytes(), &[b'a' + v]);
                }
                // Twice per transaction: the second call reads the kept selection.
                for _ in 0..2 {
                    s.cands.clear();
                    s.tmp.clear();
                    s.collect_tx(&t);
                    let got: Vec<(Vec<u8>, Vec<u8>)> = s
                        .tmp
                        .as_slice()
                        .iter()
                        .map(|kv| (kv.name.clone(), kv.value.clone()))
                        .collect();
                    let mut want: Vec<(Vec<u8>, Vec<u8>)> = s
                        .tx
                        .iter_slots()
                        .filter(|(_, k, _)| {
                            t.sel.as_ref().is_some_and(|x| x.matches(k))
                                && !t.excl.iter().any(|e| e.matches(k))
                        })
                        .map(|(_, k, v)| (k.to_vec(), v.to_vec()))
                        .collect();
                    want.sort();
                    proptest::prop_assert_eq!(&got, &want, "transaction {}", n);
                    proptest::prop_assert_eq!(s.cands.len(), want.len());
                }
            }
        }
    }
}
