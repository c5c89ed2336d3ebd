//! A field's regexes as the rule set runs them: each compiled on first use, and
//! behind its gate ([`super::gate`]), whose clauses are checked cheapest expected
//! work first with SIMD searches (`memchr` for bytes, `memmem` for one literal,
//! Aho-Corasick for literal sets), each clause at most once per value.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{Regex, RegexBuilder};
use std::collections::HashMap;

use super::fewbytes::{BytePair, FewBytes, MAX_FEW_BYTES_SCAN};
use super::gate::{self, Clause};
use super::pairs::{PairSet, MAX_PAIR_SCAN_BYTES};

/// Compiled regexes are capped at this size each (guards against pathological rules).
/// The loader refuses a regex whose program exceeds 1 MiB; the engine grants twice
/// that, so a regex the loader accepted always compiles here (a failure would mean a
/// rule that never matches).
pub(super) const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// What a value is known to do about a clause, in the per-value table.
const UNKNOWN: u8 = 0;
const HOLDS: u8 = 1;
const FAILS: u8 = 2;

/// A test for one clause: does the value hold any of its literals? Values are
/// lowercase ([`crate::detect::fields::Value::bytes`]) and literals too, so byte
/// and substring searches need no case folding; literal sets are searched ASCII
/// case-insensitively all the same.
#[derive(Debug)]
enum ClauseTest {
    /// Single bytes: one `memchr` pass per three (a word-at-a-time pass over a short
    /// value, for up to three).
    Bytes {
        bytes: Vec<u8>,
        few: Option<FewBytes>,
    },
    /// One literal: a SIMD substring search (a two-byte literal such as `..` in a
    /// short value: a word-at-a-time pass, whose set-up is nothing). The searcher is
    /// boxed: it is some 300 bytes, and the other tests a tenth of that.
    Literal {
        finder: Box<memchr::memmem::Finder<'static>>,
        pair: Option<BytePair>,
    },
    /// Literals that start with at most three distinct bytes: a `memchr` search for
    /// those bytes, each find checked against the literals starting there (a short
    /// value holding none of the bytes is ruled out a word at a time first).
    Anchored {
        firsts: Vec<u8>,
        literals: Clause,
        few: Option<FewBytes>,
    },
    /// Several literals: a packed SIMD (Teddy) search when the set allows it.
    Packed(aho_corasick::packed::Searcher),
    /// Several literals, otherwise: an automaton, built on first use (building one
    /// for a large set was a tenth of start-up, and short values never need it: see
    /// [`FieldGate::all_closed`]).
    Literals {
        clause: Clause,
        automaton: std::sync::OnceLock<Option<AhoCorasick>>,
    },
}

impl ClauseTest {
    fn new(clause: &Clause) -> Result<ClauseTest, aho_corasick::BuildError> {
        if clause.iter().all(|l| l.len() == 1) {
            let mut bytes: Vec<u8> = clause.iter().flatten().copied().collect();
            bytes.sort_unstable();
            bytes.dedup();
            let few = FewBytes::new(&bytes);
            return Ok(ClauseTest::Bytes { bytes, few });
        }
        if let [one] = clause.as_slice() {
            return Ok(ClauseTest::Literal {
                finder: Box::new(memchr::memmem::Finder::new(one).into_owned()),
                pair: <[u8; 2]>::try_from(one.as_slice()).ok().map(BytePair::new),
            });
        }
        let mut firsts: Vec<u8> = clause.iter().filter_map(|l| l.first().copied()).collect();
        firsts.sort_unstable();
        firsts.dedup();
        if firsts.len() <= 3 && clause.iter().all(|l| !l.is_empty()) {
            return Ok(ClauseTest::Anchored {
                few: FewBytes::new(&firsts),
                firsts,
                literals: clause.clone(),
            });
        }
        if let Some(p) = packed(clause) {
            return Ok(ClauseTest::Packed(p));
        }
        Ok(ClauseTest::Literals {
            clause: clause.clone(),
            automaton: std::sync::OnceLock::new(),
        })
    }

    /// Whether `value` holds a literal of the clause. A short value is first tested a
    /// word at a time for the clause's (first) bytes, inline: most values end there.
    #[inline(always)]
    fn holds(&self, value: &[u8]) -> bool {
        if value.len() < MAX_FEW_BYTES_SCAN {
            match self {
                ClauseTest::Bytes { few: Some(f), .. } => return f.any_in(value),
                ClauseTest::Literal { pair: Some(p), .. } => return p.in_value(value),
                ClauseTest::Anchored { few: Some(f), .. } if !f.any_in(value) => return false,
                _ => {}
            }
        }
        self.search(value)
    }

    /// [`ClauseTest::holds`] by the clause's full search.
    #[inline(never)]
    fn search(&self, value: &[u8]) -> bool {
        match self {
            ClauseTest::Bytes { bytes, .. } => bytes.chunks(3).any(|c| match *c {
                [a] => memchr::memchr(a, value).is_some(),
                [a, b] => memchr::memchr2(a, b, value).is_some(),
                [a, b, c] => memchr::memchr3(a, b, c, value).is_some(),
                _ => true,
            }),
            ClauseTest::Literal { finder, .. } => finder.find(value).is_some(),
            ClauseTest::Anchored {
                firsts, literals, ..
            } => {
                let starts_here = |i: usize| {
                    let rest = value.get(i..).unwrap_or_default();
                    literals.iter().any(|l| rest.starts_with(l))
                };
                match *firsts.as_slice() {
                    [a] => memchr::memchr_iter(a, value).any(starts_here),
                    [a, b] => memchr::memchr2_iter(a, b, value).any(starts_here),
                    [a, b, c] => memchr::memchr3_iter(a, b, c, value).any(starts_here),
                    _ => true,
                }
            }
            ClauseTest::Packed(p) => p.find(value).is_some(),
            ClauseTest::Literals { clause, automaton } => automaton
                .get_or_init(|| {
                    AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::LeftmostFirst)
                        .build(clause)
                        .ok()
                })
                .as_ref()
                // An automaton that cannot be built rules nothing out.
                .map_or(true, |ac| ac.is_match(value)),
        }
    }

    /// Rough cost of one test, in `memchr` passes.
    fn cost(&self) -> f64 {
        match self {
            ClauseTest::Bytes { bytes, .. } => bytes.len().div_ceil(3) as f64,
            ClauseTest::Literal { .. } => 1.5,
            ClauseTest::Anchored { .. } => 1.5,
            ClauseTest::Packed(_) => 2.0,
            ClauseTest::Literals { .. } => 6.0,
        }
    }
}

/// Values up to this long get a field's `contains` literals by a pair scan rather
/// than a packed search (whose Rabin-Karp fallback on short values, and Teddy's
/// set-up, cost more than a scalar pass over a few dozen bytes).
const MAX_ANY_PAIR_SCAN_BYTES: usize = 32;

/// Whether a value holds any literal of a set, by the cheapest search the set allows
/// (one literal: a substring search; a few first bytes: a byte search; else a packed
/// search, or a pair scan on short values). The prefilter of a field's `contains`
/// literals: most values hold none, and then need no overlapping search.
#[derive(Debug)]
pub(super) struct AnyLiteral {
    test: ClauseTest,
    pairs: Option<PairSet>,
}

impl AnyLiteral {
    /// The search for `literals` (non-empty; lowercased here, as values are).
    pub(super) fn new(literals: &[&[u8]]) -> Result<AnyLiteral, aho_corasick::BuildError> {
        let mut clause: Clause = literals.iter().map(|l| l.to_ascii_lowercase()).collect();
        clause.sort();
        clause.dedup();
        let test = ClauseTest::new(&clause)?;
        let pairs = match test {
            ClauseTest::Packed(_) | ClauseTest::Literals { .. } => PairSet::new(&clause),
            _ => None,
        };
        Ok(AnyLiteral { test, pairs })
    }

    /// Whether lowercase `value` holds any of the literals.
    pub(super) fn holds(&self, value: &[u8]) -> bool {
        match &self.pairs {
            Some(pairs) if value.len() <= MAX_ANY_PAIR_SCAN_BYTES => pairs.holds(value),
            _ => self.test.holds(value),
        }
    }
}

/// A packed (SIMD) searcher for lowercase literals, which finds one in a lowercase
/// value whenever any occurs; `None` when the set does not suit it (too many).
fn packed<P: AsRef<[u8]>>(literals: &[P]) -> Option<aho_corasick::packed::Searcher> {
    aho_corasick::packed::Config::new()
        .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(literals.iter().map(|l| l.as_ref().to_ascii_lowercase()))
        .build()
}

/// How often a clause is expected to hold in ordinary traffic: its commonest
/// literal's, a literal being as common as the product of its bytes' rough
/// frequencies. Only the order of checks depends on it, never a verdict.
fn commonness(clause: &Clause) -> f64 {
    let byte = |b: u8| -> f64 {
        match b {
            b' ' => 0.9,
            b'a'..=b'z' | b'A'..=b'Z' => 0.5,
            b'/' | b'.' | b'-' | b'_' | b',' | b'=' | b'&' | b';' | b'(' | b')' | b':' => 0.5,
            b'0'..=b'9' => 0.3,
            _ => 0.05,
        }
    };
    clause
        .iter()
        .map(|lit| lit.iter().map(|&b| byte(b)).product::<f64>())
        .fold(0.0, f64::max)
        .min(0.99)
}

/// The gates of a field's regexes: its distinct clauses, and per regex the clauses
/// it needs, rarest first (no clause: the regex always runs).
#[derive(Debug)]
pub(super) struct FieldGate {
    tests: Vec<ClauseTest>,
    per_regex: Vec<Vec<usize>>,
    /// Every literal of every regex's first clause, in one search: a value holding
    /// none of them fails every regex's first clause, so no regex runs on it. `None`
    /// when some regex has no clause (it always runs).
    firsts: Option<ClauseTest>,
    /// The same literals by byte pairs, for short values, when `firsts` is a packed
    /// or automaton search (slow to start on a short value).
    firsts_pairs: Option<PairSet>,
    /// Whether `firsts` holds no ASCII letter: then [`FieldGate::all_closed`] gives
    /// the same answer on a value before it is lowercased as after.
    firsts_caseless: bool,
}

impl FieldGate {
    /// The gate of `sources`, or `None` when no regex has one. `required` keeps each
    /// source's clauses (see [`gate::required`]) for the next field: rules test the
    /// same regex on several fields, and finding its clauses is a parse.
    pub(super) fn new(
        sources: &[&str],
        required: &mut HashMap<String, Vec<Clause>>,
    ) -> Result<Option<FieldGate>, aho_corasick::BuildError> {
        let mut tests = Vec::new();
        let mut index: HashMap<Clause, usize> = HashMap::new();
        let mut per_regex = Vec::with_capacity(sources.len());
        for src in sources {
            let mut ids: Vec<(usize, f64)> = Vec::new();
            let clauses = required
                .entry((*src).to_owned())
                .or_insert_with(|| gate::required(src))
                .clone();
            for clause in clauses {
                let common = commonness(&clause);
                let id = match index.get(&clause) {
                    Some(&id) => id,
                    None => {
                        tests.push(ClauseTest::new(&clause)?);
                        index.insert(clause, tests.len() - 1);
                        tests.len() - 1
                    }
                };
                // Cheapest expected work first: a test's cost over the chance it
                // rules the regex out.
                let cost = tests.get(id).map_or(1.0, ClauseTest::cost);
                ids.push((id, cost / (1.0 - common)));
            }
            ids.sort_by(|a, b| a.1.total_cmp(&b.1));
            per_regex.push(ids.into_iter().map(|(id, _)| id).collect::<Vec<_>>());
        }
        if tests.is_empty() {
            return Ok(None);
        }
        let by_id: HashMap<usize, &Clause> = index.iter().map(|(c, &id)| (id, c)).collect();
        let mut union: Clause = Vec::new();
        let mut every_regex_gated = true;
        for ids in &per_regex {
            match ids.first().and_then(|id| by_id.get(id)) {
                Some(clause) => union.extend(clause.iter().cloned()),
                None => every_regex_gated = false,
            }
        }
        union.sort();
        union.dedup();
        let firsts_caseless = union.iter().all(|l| !l.iter().any(u8::is_ascii_alphabetic));
        let firsts = if every_regex_gated {
            Some(ClauseTest::new(&union)?)
        } else {
            None
        };
        let firsts_pairs = match firsts {
            Some(ClauseTest::Packed(_) | ClauseTest::Literals { .. }) => PairSet::new(&union),
            _ => None,
        };
        Ok(Some(FieldGate {
            tests,
            per_regex,
            firsts,
            firsts_pairs,
            firsts_caseless,
        }))
    }

    /// Whether no regex of the field can match `value` (a value holding no literal
    /// of any regex's first clause). Always inline: every header value asks, and most
    /// end in a few word tests that cost less than the call.
    #[inline(always)]
    pub(super) fn all_closed(&self, value: &[u8]) -> bool {
        let Some(firsts) = &self.firsts else {
            return false;
        };
        match &self.firsts_pairs {
            Some(pairs) if value.len() <= MAX_PAIR_SCAN_BYTES => !pairs.holds(value),
            _ => !firsts.holds(value),
        }
    }

    /// Whether [`FieldGate::all_closed`] may be asked of a value not yet lowercased
    /// (every regex is gated, and no literal it looks for has a letter).
    pub(super) fn closes_raw_values(&self) -> bool {
        self.firsts.is_some() && self.firsts_caseless
    }

    /// Readies the per-value table for a new value.
    pub(super) fn reset(&self, known: &mut Vec<u8>) {
        known.clear();
        known.resize(self.tests.len(), UNKNOWN);
    }

    /// Whether regex `i` may match `value`: every clause it needs holds. `known`
    /// remembers each clause's answer for this value.
    pub(super) fn open(&self, i: usize, value: &[u8], known: &mut [u8]) -> bool {
        let Some(ids) = self.per_regex.get(i) else {
            return true;
        };
        ids.iter().all(|&c| match known.get(c).copied() {
            Some(HOLDS) => true,
            Some(FAILS) => false,
            _ => {
                let holds = self.tests.get(c).map_or(true, |t| t.holds(value));
                if let Some(k) = known.get_mut(c) {
                    *k = if holds { HOLDS } else { FAILS };
                }
                holds
            }
        })
    }
}

/// A rule regex, compiled on first use with the flags and size limit it was checked
/// with when its rule was read (so it compiles; a failure would mean no match).
#[derive(Debug)]
pub(super) struct LazyRegex {
    source: String,
    regex: std::sync::OnceLock<Option<Regex>>,
}

impl LazyRegex {
    pub(super) fn new(source: &str) -> LazyRegex {
        LazyRegex {
            source: source.to_owned(),
            regex: std::sync::OnceLock::new(),
        }
    }

    /// Whether the regex matches anywhere in `value`.
    pub(super) fn is_match(&self, value: &[u8]) -> bool {
        self.regex
            .get_or_init(|| {
                RegexBuilder::new(&self.source)
                    .case_insensitive(true)
                    .unicode(false)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .ok()
            })
            .as_ref()
            .is_some_and(|r| r.is_match(value))
    }
}

#[cfg(test)]
#[path = "regexes_tests.rs"]
mod tests;
