//! Literal gates: which rule links can possibly match, decided per transaction by one
//! automaton pass over the values instead of running every operator.
//!
//! Each gateable link (a non-negated `@rx`, `@pm` or literal string comparison over
//! request variables) has the literals one of which every match contains
//! ([`super::literals`]). Per transaction and per (value source, transformation chain)
//! the evaluator scans the transformed values once with an Aho-Corasick automaton of
//! every gate's literals (ASCII case-insensitive) and keeps the set of gates whose
//! literal occurs; a link whose gate is not in the set of any of its sources cannot
//! match and is skipped whole. The test only ever says "maybe" or "no": a "maybe" runs
//! the real operator, so semantics do not change.
//!
//! [`ChainGate`] says when a transformation chain leaves a value unchanged up to ASCII
//! case (no byte any step acts on), so the raw value's gate set stands for the
//! transformed one and most benign values are never transformed for the gate.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::transform::Transform;

/// A 256-bit set of byte values.
pub type ByteSet = [u64; 4];

/// The set of bytes occurring in `v`.
pub fn byte_set(v: &[u8]) -> ByteSet {
    let mut s = [0u64; 4];
    for &b in v {
        s[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    s
}

fn set_of(bytes: impl IntoIterator<Item = u8>) -> ByteSet {
    let mut s = [0u64; 4];
    for b in bytes {
        s[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    s
}

/// C-locale whitespace.
const C_SPACE: [u8; 6] = [b' ', b'\t', b'\n', 0x0b, 0x0c, b'\r'];

/// The bytes a transformation acts on: on a value without any of them, the
/// transformation leaves it unchanged or only changes ASCII letter case. `None` for
/// transformations that rewrite every value (hashes, encodings, length).
pub fn acts_on(t: Transform) -> Option<ByteSet> {
    use Transform::*;
    Some(match t {
        Lowercase | Uppercase => [0; 4],
        UrlDecode | UrlDecodeUni => set_of([b'%', b'+']),
        HtmlEntityDecode => set_of([b'&']),
        JsDecode | CssDecode | EscapeSeqDecode => set_of([b'\\']),
        RemoveNulls | ReplaceNulls => set_of([0]),
        CmdLine => set_of(
            [b'"', b'\'', b'\\', b'^', b',', b';']
                .into_iter()
                .chain(C_SPACE),
        ),
        CompressWhitespace | Trim | TrimLeft | TrimRight => set_of(C_SPACE),
        RemoveWhitespace => set_of(C_SPACE.into_iter().chain([0xa0, 0xc2])),
        ReplaceComments => set_of([b'*']),
        RemoveComments | RemoveCommentsChar => set_of([b'*', b'<', b'-', b'#']),
        NormalizePath => set_of([b'/', b'.']),
        NormalizePathWin => set_of([b'/', b'.', b'\\']),
        Utf8ToUnicode => set_of((0x80..=0xff).chain([0])),
        Base64Decode | Base64DecodeExt | HexDecode | HexEncode | Length | Md5 | Sha1
        | UrlEncode => return None,
    })
}

/// When a chain of transformations can be skipped for the literal scan.
#[derive(Debug, Clone, Copy)]
pub struct ChainGate {
    /// Union of the bytes the chain's steps act on.
    specials: ByteSet,
    /// False when a step rewrites every value.
    fast: bool,
}

impl ChainGate {
    pub fn new(chain: &[Transform]) -> ChainGate {
        let mut specials = [0u64; 4];
        for t in chain {
            match acts_on(*t) {
                Some(s) => {
                    for (a, b) in specials.iter_mut().zip(s) {
                        *a |= b;
                    }
                }
                None => {
                    return ChainGate {
                        specials,
                        fast: false,
                    }
                }
            }
        }
        ChainGate {
            specials,
            fast: true,
        }
    }

    /// Whether the chain leaves a value with byte set `set` unchanged up to ASCII case.
    pub fn identity_for(&self, set: &ByteSet) -> bool {
        self.fast && self.specials.iter().zip(set).all(|(a, b)| a & b == 0)
    }
}

/// The gate automaton's states at most (patterns' bytes); past it the prefilter is off
/// (every gated link runs), which is counted by [`Prefilter::literals`] being 0.
const MAX_AUTOMATON_BYTES: usize = 1 << 20;

/// Every gate of a program: one Aho-Corasick automaton over all gates' literals (ASCII
/// case-insensitive, overlapping matches), and for each literal the gates it belongs to.
///
/// [`Prefilter::scan`] runs the automaton over a value once and sets the bit of every
/// gate one of whose literals occurs in it: one pass decides every gate for that value,
/// instead of one test per link. The test is exact (a gate's bit is set if and only if
/// one of its literals occurs), so it never rules out a link that can match.
#[derive(Debug, Default)]
pub struct Prefilter {
    ac: Option<AhoCorasick>,
    /// Per automaton pattern: `lit_gates[a..b]`.
    pat_gates: Vec<(u32, u32)>,
    lit_gates: Vec<u32>,
    /// Per gate: its one-byte literals (tested against the values' byte set: a common
    /// byte as an automaton pattern would report a match at every occurrence).
    gate_bytes: Vec<ByteSet>,
    gates: usize,
    literals: usize,
}

impl Prefilter {
    /// Builds the gates; `sets[g]` are gate `g`'s literals (lowercase, non-empty).
    pub fn build(sets: &[Vec<Vec<u8>>]) -> Prefilter {
        let mut by_lit: HashMap<&[u8], Vec<u32>> = HashMap::new();
        let mut order: Vec<&[u8]> = Vec::new();
        let mut gate_bytes = vec![[0u64; 4]; sets.len()];
        let mut singles = 0;
        for (g, set) in sets.iter().enumerate() {
            for l in set.iter().filter(|l| !l.is_empty()) {
                if let [b] = l.as_slice() {
                    let b = b.to_ascii_lowercase();
                    for c in [b, b.to_ascii_uppercase()] {
                        gate_bytes[g][usize::from(c >> 6)] |= 1 << (c & 63);
                    }
                    singles += 1;
                    continue;
                }
                let e = by_lit.entry(l.as_slice()).or_insert_with(|| {
                    order.push(l.as_slice());
                    Vec::new()
                });
                if e.last() != Some(&(g as u32)) {
                    e.push(g as u32);
                }
            }
        }
        let mut p = Prefilter {
            gates: sets.len(),
            gate_bytes,
            literals: singles,
            ..Prefilter::default()
        };
        let bytes: usize = order.iter().map(|l| l.len()).sum();
        if bytes > MAX_AUTOMATON_BYTES {
            p.literals = 0;
            p.gate_bytes.clear();
            return p;
        }
        if order.is_empty() {
            return p;
        }
        for l in &order {
            let a = p.lit_gates.len() as u32;
            p.lit_gates.extend(by_lit.get(l).into_iter().flatten());
            p.pat_gates.push((a, p.lit_gates.len() as u32));
        }
        p.ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&order)
            .ok();
        match p.ac {
            Some(_) => p.literals += order.len(),
            None => {
                p.literals = 0;
                p.gate_bytes.clear();
            }
        }
        p
    }

    /// Number of distinct literals over all gates (0: the prefilter is off).
    pub fn literals(&self) -> usize {
        self.literals
    }

    /// u64 words of a gate set: the gates' bits, then the values' byte set.
    pub fn words(&self) -> usize {
        self.gates.div_ceil(64) + 4
    }

    /// Adds to `set` ([`Prefilter::words`] long) the gates one of whose literals of two
    /// bytes or more occurs in `v`, and `v`'s byte set `bytes` (for the one-byte
    /// literals). When the prefilter is off every gate is set (every link runs).
    pub fn scan(&self, v: &[u8], bytes: &ByteSet, set: &mut [u64]) {
        let n = set.len();
        if let Some(tail) = set.get_mut(n.saturating_sub(4)..) {
            for (a, b) in tail.iter_mut().zip(bytes) {
                *a |= b;
            }
        }
        if self.literals == 0 {
            set.fill(u64::MAX);
            return;
        }
        let Some(ac) = &self.ac else { return };
        let bits = &mut set[..n.saturating_sub(4)];
        for m in ac.find_overlapping_iter(v) {
            let Some(&(a, b)) = self.pat_gates.get(m.pattern().as_usize()) else {
                continue;
            };
            for &g in self
                .lit_gates
                .get(a as usize..b as usize)
                .unwrap_or_default()
            {
                if let Some(w) = bits.get_mut(g as usize / 64) {
                    *w |= 1 << (g % 64);
                }
            }
        }
    }

    /// Whether gate `g` is in `set`: one of its literals occurs. An unknown gate passes.
    pub fn passes(&self, g: u32, set: &[u64]) -> bool {
        if g as usize >= self.gates {
            return true;
        }
        let hit = set
            .get(g as usize / 64)
            .map_or(true, |w| w & (1 << (g % 64)) != 0);
        if hit {
            return true;
        }
        let Some(gb) = self.gate_bytes.get(g as usize) else {
            return self.literals == 0;
        };
        let n = set.len();
        set.get(n.saturating_sub(4)..)
            .unwrap_or_default()
            .iter()
            .zip(gb)
            .any(|(a, b)| a & b != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits_of(pf: &Prefilter, v: &[u8]) -> Vec<u64> {
        let mut b = vec![0; pf.words()];
        pf.scan(v, &byte_set(v), &mut b);
        b
    }

    #[test]
    fn gates_pass_exactly_when_a_literal_occurs() {
        let pf = Prefilter::build(&[
            vec![b"select".to_vec()],
            vec![b"<".to_vec(), b"script".to_vec()],
            vec![b"zzz".to_vec()],
            vec![b"lect".to_vec(), b"select".to_vec()],
        ]);
        assert_eq!(pf.literals(), 5);
        let b = bits_of(&pf, b"SELECT a FROM b");
        assert!(pf.passes(0, &b) && pf.passes(3, &b));
        assert!(!pf.passes(1, &b) && !pf.passes(2, &b));
        let b = bits_of(&pf, b"x<y");
        assert!(pf.passes(1, &b) && !pf.passes(0, &b));
        let b = bits_of(&pf, b"z");
        assert!(!pf.passes(1, &b) && !pf.passes(2, &b));
        let b = bits_of(&pf, b"<ScRiPt>");
        assert!(pf.passes(1, &b) && !pf.passes(0, &b) && !pf.passes(3, &b));
        // The pair set of "zz" used to pass "zzz" (a Bloom false positive); exact now.
        let b = bits_of(&pf, b"zz sel ect");
        assert!((0..4).all(|g| !pf.passes(g, &b)));
        // Many gates: bits past the first word.
        let sets: Vec<Vec<Vec<u8>>> = (0..130)
            .map(|i| vec![format!("k{i}x").into_bytes()])
            .collect();
        let pf = Prefilter::build(&sets);
        let b = bits_of(&pf, b"..K129X..k7x");
        assert!(pf.passes(129, &b) && pf.passes(7, &b) && !pf.passes(12, &b));
        assert!(pf.passes(1000, &b), "an unknown gate passes");
        // No literal at all: no automaton, every gate passes.
        let pf = Prefilter::build(&[]);
        assert!(pf.passes(0, &bits_of(&pf, b"x")));
    }

    #[test]
    fn extracted_regex_gates_never_reject_a_match() {
        let cases: &[(&str, &[&[u8]])] = &[
            (
                "(?i)(?:\\b(?:un)?ion|sel)ect",
                &[b"UnIonect", b"select", b"x ionECT"],
            ),
            ("(?i)<scr[^>]*ipt", &[b"<SCRxxipt", b"<script"]),
            ("\\.\\./|\\.\\.\\\\", &[b"../", b"a..\\b"]),
            ("(?i)k", &[b"K", b"k"]),
        ];
        for (p, inputs) in cases {
            let re = super::super::operator::compile_regex(p).expect("compiles");
            let set = super::super::literals::rx_literals(p).expect("gate");
            let pf = Prefilter::build(&[set]);
            for i in *inputs {
                assert!(re.is_match(i), "{p} matches {i:?}");
                assert!(pf.passes(0, &bits_of(&pf, i)), "gate of {p} passes {i:?}");
            }
        }
    }

    #[test]
    fn chains_without_special_bytes_are_identity_up_to_case() {
        let samples: &[&[u8]] = &[
            b"Mozilla/5.0 (X11; Linux x86_64)",
            b"GA1.2.3",
            b"abc123_DEF",
            b"text/html,application/xhtml+xml;q=0.9",
            b"a%41b+c&amp;d\\x41 e--f#g/*h*/i\x00j\xc3\xa9",
            b"/a/./b/../c//d",
            b"  lead and trail  ",
        ];
        let all = [
            Transform::Lowercase,
            Transform::Uppercase,
            Transform::UrlDecode,
            Transform::UrlDecodeUni,
            Transform::HtmlEntityDecode,
            Transform::JsDecode,
            Transform::CssDecode,
            Transform::EscapeSeqDecode,
            Transform::RemoveNulls,
            Transform::ReplaceNulls,
            Transform::CmdLine,
            Transform::CompressWhitespace,
            Transform::Trim,
            Transform::TrimLeft,
            Transform::TrimRight,
            Transform::RemoveWhitespace,
            Transform::ReplaceComments,
            Transform::RemoveComments,
            Transform::RemoveCommentsChar,
            Transform::NormalizePath,
            Transform::NormalizePathWin,
            Transform::Utf8ToUnicode,
        ];
        let mut checked = 0;
        for t in all {
            let g = ChainGate::new(&[t]);
            for s in samples {
                // Every sub-slice, so values both with and without special bytes occur.
                for a in 0..s.len() {
                    for b in a..=s.len() {
                        let v = &s[a..b];
                        if !g.identity_for(&byte_set(v)) {
                            continue;
                        }
                        let mut out = Vec::new();
                        t.apply(v, &mut out);
                        assert!(out.eq_ignore_ascii_case(v), "{t:?} changed {v:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000);
        assert!(!ChainGate::new(&[Transform::Lowercase, Transform::Sha1])
            .identity_for(&byte_set(b"abc")));
    }
}
