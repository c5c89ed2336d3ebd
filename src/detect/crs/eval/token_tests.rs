//! Tests of the plain-token analysis: each shortcut against deciding by its own DFA.

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
    let alphabet: Vec<u8> = class_bytes(CLASSES.len() - 1).collect();
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

/// The bundled CRS loaded at paranoia level `pl` (blocking and detection alike).
fn engine_at(pl: u8) -> CrsEngine {
    let mut s = CrsSettings::new(bundled());
    s.paranoia_level = pl;
    s.detection_paranoia_level = pl;
    CrsEngine::load(&s).expect("bundled CRS loads")
}

/// The shared analysis (one DFA per pattern, widest class first) against deciding
/// each link and class on its own with a DFA of its own.
#[test]
fn shared_analysis_decides_as_each_class_alone() {
    for pl in [1, 2] {
        let e = engine_at(pl);
        let p = &e.program;
        let words = p.links.div_ceil(64).max(1);
        let shared = token_misses(&p.c, words);
        for (k, bits) in shared.iter().enumerate() {
            let set = byte_set(&class_bytes(k).collect::<Vec<u8>>());
            let mut alone = vec![0u64; words];
            for link in p.c.rules.iter().flat_map(|r| &r.links) {
                let Some(op) = &link.op else { continue };
                if !link.pure
                    || link.negated
                    || !ChainGate::new(&link.transforms).identity_for(&set)
                {
                    continue;
                }
                let never = match op {
                    Operator::Rx(re) => rx_never_matches(re.as_str(), k),
                    _ => never_matches(op, k),
                };
                if never {
                    alone[link.idx as usize / 64] |= 1 << (link.idx % 64);
                }
            }
            assert_eq!(bits, &alone, "PL{pl}, class {k}");
        }
    }
}

#[test]
fn links_decided_at_load_miss_every_sampled_token() {
    for pl in [1, 4] {
        let e = engine_at(pl);
        let p = &e.program;
        let samples = tokens();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (k, bits) in p.token.iter().enumerate() {
            let decided = bits.iter().map(|w| w.count_ones()).sum::<u32>();
            assert!(
                decided >= 40,
                "PL{pl}, class {k}: only {decided} links decided"
            );
            let mine: Vec<&Vec<u8>> = samples
                .iter()
                .filter(|t| class_of(t).is_some_and(|c| c <= k))
                .collect();
            assert!(mine.len() > 100, "class {k}: {} samples", mine.len());
            for link in p.c.rules.iter().flat_map(|r| &r.links) {
                let bit = bits.get(link.idx as usize / 64).copied().unwrap_or(0);
                if bit & (1 << (link.idx % 64)) == 0 {
                    continue;
                }
                let Some(op) = &link.op else { continue };
                for t in &mine {
                    a.clear();
                    a.extend_from_slice(t);
                    for tr in &link.transforms {
                        tr.apply(&a, &mut b);
                        std::mem::swap(&mut a, &mut b);
                    }
                    let hit = op.exec(&a, &mut NoMacros, &mut Vec::new(), None, None);
                    assert!(
                        hit.is_none(),
                        "PL{pl}: link {} matches class {k} value {:?}",
                        link.idx,
                        String::from_utf8_lossy(t)
                    );
                }
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
        assert!(rx_never_matches(p, 0), "{p}");
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
        assert!(!rx_never_matches(p, 0), "{p}");
    }
}

#[test]
fn token_test_is_by_byte() {
    assert_eq!(class_of(b"9f8e7d6c5b4a3921"), Some(0));
    assert_eq!(class_of(b""), Some(0));
    assert_eq!(class_of(b"GA1_2"), Some(0));
    assert_eq!(class_of(b"GA1.2"), Some(1));
    assert_eq!(class_of(b"session=9f8e"), Some(1));
    assert_eq!(class_of(b"a b"), None);
    assert_eq!(class_of(b"a=b; c=d"), None);
    assert_eq!(class_of("é".as_bytes()), None);
}
