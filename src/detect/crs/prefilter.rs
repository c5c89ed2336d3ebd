//! Literal gates: which rule links can possibly match, decided per transaction from a
//! compact signature of the values instead of running every operator.
//!
//! Each gateable link (a non-negated `@rx`, `@pm` or literal string comparison over
//! request variables) has the literals one of which every match contains
//! ([`super::literals`]). Per transaction and per (value source, transformation chain)
//! the evaluator builds a [`Signature`]: the set of bytes and a 4096-bit Bloom set of the
//! byte pairs occurring in the transformed values, ASCII case folded. A literal can occur
//! only if its byte, or every one of its byte pairs, is in the signature; a link none of
//! whose literals can occur in any of its sources cannot match and is skipped whole. The
//! test only ever says "maybe" or "no": a "maybe" runs the real operator, so semantics do
//! not change.
//!
//! [`ChainGate`] says when a transformation chain leaves a value unchanged up to ASCII
//! case (no byte any step acts on), so the raw value's signature stands for the
//! transformed one and most benign values are never transformed for the gate.

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

/// u64 words of a signature's pair set (4096 bits).
pub const PAIR_WORDS: usize = 64;
/// Pairs of a literal tested at most (any subset of a literal's pairs is a sound test).
const MAX_PAIRS_PER_LITERAL: usize = 12;

fn pair_bit(a: u8, b: u8) -> u16 {
    let k = (u32::from(a) << 8) | u32::from(b);
    (k.wrapping_mul(0x9E37_79B1) >> 20) as u16
}

/// The bytes and byte pairs (ASCII lowercased) of some values.
#[derive(Debug, Clone)]
pub struct Signature {
    bytes: ByteSet,
    pairs: [u64; PAIR_WORDS],
}

impl Default for Signature {
    fn default() -> Signature {
        Signature {
            bytes: [0; 4],
            pairs: [0; PAIR_WORDS],
        }
    }
}

impl Signature {
    pub fn clear(&mut self) {
        self.bytes = [0; 4];
        self.pairs = [0; PAIR_WORDS];
    }

    /// Adds the bytes and pairs of `v`.
    pub fn add(&mut self, v: &[u8]) {
        let mut prev: Option<u8> = None;
        for &b in v {
            let b = b.to_ascii_lowercase();
            self.bytes[usize::from(b >> 6)] |= 1 << (b & 63);
            if let Some(p) = prev {
                let k = pair_bit(p, b);
                self.pairs[usize::from(k >> 6)] |= 1 << (k & 63);
            }
            prev = Some(b);
        }
    }

    /// Adds everything `o` holds.
    pub fn union(&mut self, o: &Signature) {
        for (a, b) in self.bytes.iter_mut().zip(o.bytes) {
            *a |= b;
        }
        for (a, b) in self.pairs.iter_mut().zip(o.pairs.iter()) {
            *a |= b;
        }
    }

    fn has_pair(&self, k: u16) -> bool {
        self.pairs[usize::from(k >> 6) % PAIR_WORDS] & (1 << (k & 63)) != 0
    }
}

/// One gate: its one-byte literals as a byte set, its longer literals as pair lists.
#[derive(Debug, Default)]
struct Gate {
    bytes: ByteSet,
    /// For each longer literal, `pairs[a..b]`.
    lits: Vec<(u32, u32)>,
}

/// Every gate of a program.
#[derive(Debug, Default)]
pub struct Prefilter {
    gates: Vec<Gate>,
    pairs: Vec<u16>,
    literals: usize,
}

impl Prefilter {
    /// Builds the gates; `sets[g]` are gate `g`'s literals (lowercase, non-empty).
    pub fn build(sets: &[Vec<Vec<u8>>]) -> Prefilter {
        let mut p = Prefilter::default();
        for set in sets {
            let mut g = Gate::default();
            for l in set {
                p.literals += 1;
                match l.as_slice() {
                    [] => {}
                    [b] => {
                        let b = b.to_ascii_lowercase();
                        g.bytes[usize::from(b >> 6)] |= 1 << (b & 63);
                    }
                    _ => {
                        let mut ks: Vec<u16> = l
                            .windows(2)
                            .map(|w| pair_bit(w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase()))
                            .collect();
                        ks.sort_unstable();
                        ks.dedup();
                        if ks.len() > MAX_PAIRS_PER_LITERAL {
                            let step = ks.len().div_ceil(MAX_PAIRS_PER_LITERAL);
                            ks = ks.into_iter().step_by(step).collect();
                        }
                        let a = p.pairs.len() as u32;
                        p.pairs.extend(ks);
                        g.lits.push((a, p.pairs.len() as u32));
                    }
                }
            }
            p.gates.push(g);
        }
        p
    }

    /// Number of literals over all gates.
    pub fn literals(&self) -> usize {
        self.literals
    }

    /// Whether some literal of gate `g` may occur in the values `sig` describes. An
    /// unknown gate passes.
    pub fn passes(&self, g: u32, sig: &Signature) -> bool {
        let Some(gate) = self.gates.get(g as usize) else {
            return true;
        };
        if gate.bytes.iter().zip(sig.bytes).any(|(a, b)| a & b != 0) {
            return true;
        }
        gate.lits.iter().any(|&(a, b)| {
            self.pairs
                .get(a as usize..b as usize)
                .unwrap_or_default()
                .iter()
                .all(|&k| sig.has_pair(k))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_pass_when_a_literal_occurs_and_mostly_not_otherwise() {
        let pf = Prefilter::build(&[
            vec![b"select".to_vec()],
            vec![b"<".to_vec(), b"script".to_vec()],
            vec![b"zzz".to_vec()],
        ]);
        let mut sig = Signature::default();
        sig.add(b"SELECT a FROM b");
        assert!(pf.passes(0, &sig));
        assert!(!pf.passes(1, &sig));
        assert!(!pf.passes(2, &sig));
        sig.add(b"x<y");
        assert!(pf.passes(1, &sig));
        let mut other = Signature::default();
        other.add(b"<ScRiPt>");
        assert!(pf.passes(1, &other) && !pf.passes(0, &other));
        other.union(&sig);
        assert!(pf.passes(0, &other));
        other.clear();
        assert!(!pf.passes(0, &other) && !pf.passes(1, &other));
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
                let mut sig = Signature::default();
                sig.add(i);
                assert!(pf.passes(0, &sig), "gate of {p} passes {i:?}");
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
