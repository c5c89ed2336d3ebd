//! Plain tokens: the links that can never match a value made only of ASCII letters,
//! digits and `_` (a session id, a hex hash, a word), decided once at load.
//!
//! Such a value goes through every transformation chain that has no step rewriting
//! whole values (base64, hex, hashes, length) unchanged up to letter case (no step acts
//! on those bytes: [`ChainGate::identity_for`]), so what the operator sees is again a
//! plain token. For a non-negated `@rx` whether any plain token can match is decided
//! exactly: a lazy DFA of the pattern, explored from its start state over the 63 token
//! bytes and the end of input, reaches a match state or not. The byte validators are
//! decided by the token bytes themselves (no `%`, all ASCII), and a string comparison
//! with a literal by whether the literal is itself a token. Everything else (libinjection,
//! phrase lists, numbers, negated operators) counts as able to match.
//!
//! A memo slot made for a plain-token value starts with these links' bits set (see
//! [`super::memo::MissMemo::slot`]): a fresh session cookie is then skipped by every
//! regex that needs punctuation, without being transformed, gated or searched.

use ahash::AHashMap;
use regex_automata::hybrid::dfa::DFA;
use regex_automata::util::{start, syntax};
use regex_automata::Anchored;

use super::super::compile::Compiled;
use super::super::operator::{Operator, StrOp};
use super::super::prefilter::{byte_set, ByteSet, ChainGate};

/// Lazy DFA states explored per pattern at most; past it the link counts as able to
/// match. (At PL1, 64 decides 92 links in about 30 ms of load; 4,096 decides 98 in
/// about 110 ms.)
const MAX_STATES: usize = 64;
/// Lazy DFA cache per pattern, bytes.
const CACHE_BYTES: usize = 4 << 20;

/// Plain-token classes, each a superset of the one before: the bytes a value may hold
/// beyond ASCII letters and digits. Class 0 is a bare token (a session id, a hash, a
/// word); class 1 adds what a single cookie header (`name=value`), a dotted version or
/// a UUID holds. A chain with a step acting on one of a class's bytes (`-` for
/// removeComments, `.` for normalizePath) is not decided for that class.
pub(super) const CLASSES: [&[u8]; 2] = [b"_", b"_=-."];

/// Whether `b` belongs to class `k`.
fn in_class(k: usize, b: u8) -> bool {
    b.is_ascii_alphanumeric() || CLASSES.get(k).is_some_and(|extra| extra.contains(&b))
}

/// The bytes of class `k`.
fn class_bytes(k: usize) -> impl Iterator<Item = u8> + Clone {
    (0u8..=127).filter(move |&b| in_class(k, b))
}

/// The narrowest class holding every byte of `v` (the empty value is in class 0).
pub(super) fn class_of(v: &[u8]) -> Option<usize> {
    let mut k = 0;
    for &b in v {
        while !in_class(k, b) {
            k += 1;
            if k >= CLASSES.len() {
                return None;
            }
        }
    }
    Some(k)
}

/// Per class, the links (bits by `Link::idx`, `words` u64) known to miss every value of
/// the class.
///
/// Each distinct regex is compiled once for all classes, and classes are decided from
/// the widest: a pattern no value of a wider class matches matches no value of a
/// narrower one either (its values are values of the wider class), so the narrower
/// class is explored only when the wider one may match.
pub(super) fn token_misses(c: &Compiled, words: usize) -> Vec<Vec<u64>> {
    let sets: Vec<ByteSet> = (0..CLASSES.len())
        .map(|k| byte_set(&class_bytes(k).collect::<Vec<u8>>()))
        .collect();
    let mut bits = vec![vec![0u64; words]; CLASSES.len()];
    let mut rx: AHashMap<&str, RxClasses> = AHashMap::new();
    for link in c.rules.iter().flat_map(|r| &r.links) {
        if !link.pure || link.negated {
            continue;
        }
        let Some(op) = &link.op else { continue };
        let gate = ChainGate::new(&link.transforms);
        for (k, set) in sets.iter().enumerate() {
            if !gate.identity_for(set) {
                continue;
            }
            let never = match op {
                Operator::Rx(re) => rx
                    .entry(re.as_str())
                    .or_insert_with(|| RxClasses::new(re.as_str()))
                    .never(k),
                _ => never_matches(op, k),
            };
            if let (true, Some(w)) = (never, bits[k].get_mut(link.idx as usize / 64)) {
                *w |= 1 << (link.idx % 64);
            }
        }
    }
    bits
}

/// One pattern's lazy DFA and its per-class answers, worked out on demand.
struct RxClasses {
    dfa: Option<(DFA, regex_automata::hybrid::dfa::Cache)>,
    /// Per class: not decided yet, or whether no value of it matches.
    known: [Option<bool>; CLASSES.len()],
}

impl RxClasses {
    fn new(pattern: &str) -> RxClasses {
        let dfa = build_dfa(pattern).map(|d| {
            let cache = d.create_cache();
            (d, cache)
        });
        RxClasses {
            dfa,
            known: [None; CLASSES.len()],
        }
    }

    /// Whether no value of class `k` matches (false when undecided).
    fn never(&mut self, k: usize) -> bool {
        if let Some(Some(v)) = self.known.get(k) {
            return *v;
        }
        // A wider class decided "never" decides every narrower one.
        let wider = (k + 1..CLASSES.len()).any(|j| self.never(j));
        let v = wider
            || match &mut self.dfa {
                Some((dfa, cache)) => explore(dfa, cache, k),
                None => false,
            };
        if let Some(slot) = self.known.get_mut(k) {
            *slot = Some(v);
        }
        v
    }
}

/// Whether `op` matches no value of class `k`.
fn never_matches(op: &Operator, k: usize) -> bool {
    match op {
        Operator::Rx(re) => build_dfa(re.as_str()).is_some_and(|d| {
            let mut cache = d.create_cache();
            explore(&d, &mut cache, k)
        }),
        // Every byte allowed: nothing to report.
        Operator::ByteRange(r) => class_bytes(k).all(|b| r.allows(b)),
        // No `%` to be malformed, all ASCII.
        Operator::UrlEncoding | Operator::Utf8Encoding | Operator::NoMatch => true,
        Operator::Str(op, arg) => match (op, arg.literal()) {
            (StrOp::Eq | StrOp::Contains | StrOp::BeginsWith | StrOp::EndsWith, Some(l)) => {
                class_of(l).map_or(true, |c| c > k)
            }
            _ => false,
        },
        _ => false,
    }
}

/// The lazy DFA of `pattern`, compiled as `operator::compile_regex` compiles it
/// (Unicode off where the pattern allows, `.` matching a newline, bytes not required
/// to be UTF-8).
fn build_dfa(pattern: &str) -> Option<DFA> {
    let build = |unicode: bool| {
        DFA::builder()
            .configure(
                DFA::config()
                    .cache_capacity(CACHE_BYTES)
                    .skip_cache_capacity_check(true),
            )
            .syntax(
                syntax::Config::new()
                    .unicode(unicode)
                    .utf8(false)
                    .dot_matches_new_line(true),
            )
            .build(pattern)
            .ok()
    };
    build(false).or_else(|| build(true))
}

/// Whether no string of class `k` bytes contains a match of the DFA's pattern. False
/// when undecided.
fn explore(dfa: &DFA, cache: &mut regex_automata::hybrid::dfa::Cache, k: usize) -> bool {
    let clears = cache.clear_count();
    let Ok(start) = dfa.start_state(cache, &start::Config::new().anchored(Anchored::No)) else {
        return false;
    };
    let mut seen = std::collections::HashSet::from([start]);
    let mut todo = vec![start];
    while let Some(s) = todo.pop() {
        if s.is_match() || s.is_quit() || s.is_unknown() {
            return false;
        }
        match dfa.next_eoi_state(cache, s) {
            Ok(e) if !e.is_match() && !e.is_quit() => {}
            _ => return false,
        }
        for b in class_bytes(k) {
            let Ok(n) = dfa.next_state(cache, s, b) else {
                return false;
            };
            if n.is_dead() || seen.contains(&n) {
                continue;
            }
            if seen.len() >= MAX_STATES {
                return false;
            }
            seen.insert(n);
            todo.push(n);
        }
    }
    // State ids are only stable while the cache was not cleared during the walk.
    cache.clear_count() == clears
}

/// [`explore`] on a DFA of its own: whether no string of class `k` bytes matches
/// `pattern` (the reference the shared analysis is tested against).
#[cfg(test)]
fn rx_never_matches(pattern: &str, k: usize) -> bool {
    build_dfa(pattern).is_some_and(|d| {
        let mut cache = d.create_cache();
        explore(&d, &mut cache, k)
    })
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
