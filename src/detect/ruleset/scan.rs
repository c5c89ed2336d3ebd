//! The scan of one transaction's values: every field's values through that field's
//! matcher (exact table, prefixes, suffixes, contains automaton, gated regexes,
//! numbers, existence), each test that hits noted in the leaf table.

use super::hits::{Literal, Scratch, Token};
use super::memo::MissMemo;
use super::{Cmp, FieldMatcher, RuleSet};
use crate::detect::fields::{FieldValues, Value};
use aho_corasick::AhoCorasick;

impl RuleSet {
    /// Records the regexes of field `fi` that match value `vi`: each only while its
    /// test has not hit (a later hit would not be recorded) and only if the value
    /// gets through its gate. True when the gate ruled out every regex (no regex can
    /// match the value).
    fn regex_hits(
        &self,
        m: &FieldMatcher,
        fi: usize,
        vi: usize,
        value: Value<'_>,
        scratch: &mut Scratch,
    ) -> bool {
        let v = value.bytes;
        #[cfg(test)]
        let shortcut = !self.reference;
        #[cfg(not(test))]
        let shortcut = true;
        // Most values stop here, before the per-clause table is lent.
        if shortcut && m.gate.as_ref().is_some_and(|g| g.all_closed(v)) {
            return true;
        }
        let mut known = std::mem::take(&mut scratch.present);
        if let Some(gate) = &m.gate {
            gate.reset(&mut known);
        }
        // The reference mode runs every regex: no hit or gate shortcut.
        #[cfg(test)]
        let shortcut = !self.reference;
        #[cfg(not(test))]
        let shortcut = true;
        for (i, ((_, leaf), regex)) in m.regex_sources.iter().zip(&m.regexes).enumerate() {
            if shortcut {
                if scratch.hit(*leaf) {
                    continue;
                }
                if let Some(gate) = &m.gate {
                    if !gate.open(i, v, &mut known) {
                        continue;
                    }
                }
            }
            if regex.is_match(v) {
                let token = Token::Regex {
                    field: fi,
                    index: i,
                    value: vi,
                };
                scratch.record(*leaf, token, value.upload);
            }
        }
        scratch.present = known;
        false
    }

    /// Fills `scratch` with the tests that hit. A hit notes where its evidence lies;
    /// only the rules that match turn it into bytes (a regex's evidence costs a
    /// second, capturing search).
    pub(super) fn hits(&self, values: &FieldValues, scratch: &mut Scratch) {
        scratch.reset(self.leaf_count);
        #[cfg(test)]
        let memo_allowed = !self.reference;
        #[cfg(not(test))]
        let memo_allowed = true;
        let mut memo = scratch.memo.take().unwrap_or_default();
        if memo_allowed {
            // (The reference mode neither reads nor empties it: the tests compare
            // the two modes in turns on one thread.)
            memo.own(self.id);
        }
        let filled = values.filled();
        for (fi, ((field, m), bit)) in self.fields.iter().zip(&self.filled_bits).enumerate() {
            if filled & bit == 0 {
                // No value: no test of the field can hit.
                continue;
            }
            let remembered = m.memo && memo_allowed;
            for (vi, value) in values.get(*field).iter().enumerate() {
                let v = value.bytes;
                // A value this field's tests all ruled out before needs no test now.
                let key = if remembered {
                    MissMemo::key(fi, v)
                } else {
                    None
                };
                if key.is_some_and(|k| memo.holds(k, fi, v)) {
                    continue;
                }
                // Whether every test ruled the value out (nothing hit, or would have
                // hit had its test not hit already).
                let mut missed = true;
                let this = Token::Value {
                    field: fi,
                    value: vi,
                };
                let literal = |list: Literal, index: usize| Token::Literal {
                    field: fi,
                    list,
                    index,
                };
                #[cfg(test)]
                let shaped = self.reference || m.exact_shape.may_hold(v);
                #[cfg(not(test))]
                let shaped = m.exact_shape.may_hold(v);
                if let Some(leaves) = shaped.then(|| m.exact.get(v)).flatten() {
                    missed = false;
                    for &leaf in leaves {
                        scratch.record(leaf, this, value.upload);
                    }
                }
                for (pi, (p, leaf)) in m.prefixes.iter().enumerate() {
                    if v.starts_with(p) {
                        missed = false;
                        scratch.record(*leaf, literal(Literal::Prefix, pi), value.upload);
                    }
                }
                for (si, (s, leaf)) in m.suffixes.iter().enumerate() {
                    if v.ends_with(s) {
                        missed = false;
                        scratch.record(*leaf, literal(Literal::Suffix, si), value.upload);
                    }
                }
                // Most values hold no literal: a prefiltered yes/no search says so
                // faster than the overlapping search, which finds every one.
                #[cfg(test)]
                let prefilter = !self.reference;
                #[cfg(not(test))]
                let prefilter = true;
                let any = |ac: &AhoCorasick| match &m.contains_any {
                    Some(p) => p.holds(v),
                    None => ac.is_match(v),
                };
                if let Some(ac) = m.contains.as_ref().filter(|ac| !prefilter || any(ac)) {
                    missed = false;
                    for found in ac.find_overlapping_iter(v) {
                        // The literal itself, never the value's own bytes around it.
                        let ci = found.pattern().as_usize();
                        if let Some((_, leaf)) = m.contains_patterns.get(ci) {
                            scratch.record(*leaf, literal(Literal::Contains, ci), value.upload);
                        }
                    }
                }
                if !m.regexes.is_empty() && !self.regex_hits(m, fi, vi, value, scratch) {
                    missed = false;
                }
                if !m.numeric.is_empty() {
                    if let Some(n) = std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        for (cmp, limit, leaf) in &m.numeric {
                            let ok = match cmp {
                                Cmp::Lt => n < *limit,
                                Cmp::Le => n <= *limit,
                                Cmp::Gt => n > *limit,
                                Cmp::Ge => n >= *limit,
                            };
                            if ok {
                                scratch.record(*leaf, this, value.upload);
                            }
                        }
                    }
                }
                for leaf in &m.exists {
                    scratch.record(*leaf, this, value.upload);
                }
                if let (Some(k), true) = (key, missed) {
                    memo.remember(k, fi, v);
                }
            }
        }
        scratch.memo = Some(memo);
        if let Some(src) = values.src {
            for (nets, leaf) in &self.cidrs {
                if nets.iter().any(|n| n.contains(&src)) {
                    scratch.record(*leaf, Token::Address(src), None);
                }
            }
        }
    }
}
