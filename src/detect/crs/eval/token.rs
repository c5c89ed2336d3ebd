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

use regex_automata::hybrid::dfa::DFA;
use regex_automata::util::{start, syntax};
use regex_automata::Anchored;

use super::super::compile::Compiled;
use super::super::operator::{Operator, StrOp};
use super::super::prefilter::{byte_set, ChainGate};

/// Lazy DFA states explored per pattern at most; past it the link counts as able to
/// match. (At PL1, 64 decides 92 links in about 30 ms of load; 4,096 decides 98 in
/// about 110 ms.)
const MAX_STATES: usize = 64;
/// Lazy DFA cache per pattern, bytes.
const CACHE_BYTES: usize = 4 << 20;

/// Whether `b` is a plain-token byte.
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The plain-token bytes.
fn token_bytes() -> impl Iterator<Item = u8> + Clone {
    (0u8..=127).filter(|&b| token_byte(b))
}

/// Whether `v` is a plain token (the empty value is one).
pub(super) fn is_token(v: &[u8]) -> bool {
    v.iter().all(|&b| token_byte(b))
}

/// The links (bits by `Link::idx`, `words` u64) known to miss every plain token.
pub(super) fn token_misses(c: &Compiled, words: usize) -> Vec<u64> {
    let mut bits = vec![0u64; words];
    let token_set = byte_set(&token_bytes().collect::<Vec<u8>>());
    for link in c.rules.iter().flat_map(|r| &r.links) {
        if !link.pure || link.negated {
            continue;
        }
        if !ChainGate::new(&link.transforms).identity_for(&token_set) {
            continue;
        }
        let Some(op) = &link.op else { continue };
        if !never_matches_token(op) {
            continue;
        }
        if let Some(w) = bits.get_mut(link.idx as usize / 64) {
            *w |= 1 << (link.idx % 64);
        }
    }
    bits
}

/// Whether `op` matches no plain token.
fn never_matches_token(op: &Operator) -> bool {
    match op {
        Operator::Rx(re) => rx_never_matches_token(re.as_str()),
        // Every byte allowed: nothing to report.
        Operator::ByteRange(r) => token_bytes().all(|b| r.allows(b)),
        // No `%` to be malformed, all ASCII.
        Operator::UrlEncoding | Operator::Utf8Encoding | Operator::NoMatch => true,
        Operator::Str(op, arg) => match (op, arg.literal()) {
            (StrOp::Eq | StrOp::Contains | StrOp::BeginsWith | StrOp::EndsWith, Some(l)) => {
                !is_token(l)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Whether no string of plain-token bytes contains a match of `pattern`, compiled as
/// `operator::compile_regex` compiles it (Unicode off where the pattern allows, `.`
/// matching a newline, bytes not required to be UTF-8). False when undecided.
fn rx_never_matches_token(pattern: &str) -> bool {
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
    let Some(dfa) = build(false).or_else(|| build(true)) else {
        return false;
    };
    let mut cache = dfa.create_cache();
    let Ok(start) = dfa.start_state(&mut cache, &start::Config::new().anchored(Anchored::No))
    else {
        return false;
    };
    let mut seen = std::collections::HashSet::from([start]);
    let mut todo = vec![start];
    while let Some(s) = todo.pop() {
        if s.is_match() || s.is_quit() || s.is_unknown() {
            return false;
        }
        match dfa.next_eoi_state(&mut cache, s) {
            Ok(e) if !e.is_match() && !e.is_quit() => {}
            _ => return false,
        }
        for b in token_bytes() {
            let Ok(n) = dfa.next_state(&mut cache, s, b) else {
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
    // State ids are only stable while the cache was never cleared.
    cache.clear_count() == 0
}

#[cfg(test)]
mod tests {
    use super::super::super::operator::{Expand, MacroText};
    use super::super::super::tests::bundled;
    use super::super::super::{CrsEngine, CrsSettings};
    use super::*;

    /// Macro arguments are never expanded for the links decided here (pure links).
    struct NoMacros;
    impl Expand for NoMacros {
        fn expand(&mut self, _m: &MacroText, out: &mut Vec<u8>) {
            out.clear();
        }
    }

    /// Plain tokens an attacker or a browser might send: SQL, shell, script and PHP
    /// words, numbers, hex, mixed case, and pseudo-random ones.
    fn tokens() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            "",
            "a",
            "0",
            "1",
            "select",
            "UNION",
            "union_select",
            "script",
            "alert",
            "eval",
            "onerror",
            "javascript",
            "cat",
            "passwd",
            "etc",
            "bin",
            "sh",
            "bash",
            "whoami",
            "sleep",
            "benchmark",
            "or",
            "and",
            "OR1",
            "1or1",
            "0x41",
            "admin",
            "root",
            "phpinfo",
            "system",
            "exec",
            "cmd",
            "nc",
            "wget",
            "curl",
            "xp_cmdshell",
            "information_schema",
            "char",
            "concat",
            "ping",
            "id",
            "ls",
            "php",
            "jsp",
            "GLOBALS",
            "_SERVER",
            "__proto__",
            "constructor",
            "document",
            "cookie",
            "9f8e7d6c5b4a3921",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ]
        .iter()
        .map(|t| t.as_bytes().to_vec())
        .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet: Vec<u8> = token_bytes().collect();
        for _ in 0..300 {
            let mut t = Vec::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                t.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            v.push(t);
        }
        v
    }

    #[test]
    fn links_decided_at_load_miss_every_sampled_token() {
        for pl in [1, 4] {
            let mut s = CrsSettings::new(bundled());
            s.paranoia_level = pl;
            s.detection_paranoia_level = pl;
            let e = CrsEngine::load(&s).expect("bundled CRS loads");
            let p = &e.program;
            let decided = p.token.iter().map(|w| w.count_ones()).sum::<u32>();
            assert!(decided >= 50, "PL{pl}: only {decided} links decided");
            let samples = tokens();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for link in p.c.rules.iter().flat_map(|r| &r.links) {
                let bit = p.token.get(link.idx as usize / 64).copied().unwrap_or(0);
                if bit & (1 << (link.idx % 64)) == 0 {
                    continue;
                }
                let Some(op) = &link.op else { continue };
                for t in &samples {
                    a.clear();
                    a.extend_from_slice(t);
                    for tr in &link.transforms {
                        tr.apply(&a, &mut b);
                        std::mem::swap(&mut a, &mut b);
                    }
                    let hit = op.exec(&a, &mut NoMacros, &mut Vec::new(), None, None);
                    assert!(
                        hit.is_none(),
                        "PL{pl}: link {} matches token {:?}",
                        link.idx,
                        String::from_utf8_lossy(t)
                    );
                }
            }
        }
    }

    #[test]
    fn regexes_needing_punctuation_never_match_a_token() {
        for p in [
            r"(?i)<script",
            r"[;|&]\s*cat\b",
            r"^.*%[0-9a-f]{2}",
            r"(?i)\bunion\b.{1,100}?\bselect\b\W",
        ] {
            assert!(rx_never_matches_token(p), "{p}");
        }
    }

    #[test]
    fn regexes_a_token_can_satisfy_are_kept() {
        for p in [
            r"(?i)select",
            r"^[a-z]+$",
            r"^$",
            r"\d{5,}",
            r"(?i)\bunion\b",
            r"a|;",
            // Unicode classes: decided on the same syntax as the engine's regex.
            r"\pL{3}",
        ] {
            assert!(!rx_never_matches_token(p), "{p}");
        }
    }

    #[test]
    fn token_test_is_by_byte() {
        assert!(is_token(b"9f8e7d6c5b4a3921"));
        assert!(is_token(b""));
        assert!(is_token(b"GA1_2"));
        assert!(!is_token(b"GA1.2"));
        assert!(!is_token(b"a b"));
        assert!(!is_token("é".as_bytes()));
    }
}
