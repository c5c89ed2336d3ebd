//! Literal gates: which rule links can possibly match a value, decided by one
//! Aho-Corasick scan instead of running every operator.
//!
//! At compile time each gateable link (a non-negated `@rx`, `@pm` or literal string
//! comparison) gets the set of literals one of which every match must contain
//! ([`op_literals`]; for regexes, regex-syntax's literal extraction over the pattern and
//! its required sub-expressions, ASCII case folded). All links' literals go into one
//! case-insensitive automaton ([`Prefilter`]); scanning a value yields a bitset of the
//! gates whose literal occurs. A link none of whose target values hits its gate cannot
//! match, so the evaluator skips it whole. The gate is a superset test only: a hit still
//! runs the real operator, so semantics are unchanged.
//!
//! [`ChainGate`] says when a transformation chain leaves a value unchanged up to ASCII
//! case (no byte any step acts on), so the raw value's scan stands for the transformed
//! one and most benign values are scanned once, not once per chain.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

use super::operator::{Operator, StrOp};
use super::transform::Transform;

/// A gate with more literals than this is not worth it (the link always runs): large
/// sets would make the shared automaton too big to stay in cache, and the operators they
/// come from (`@pm` lists, long alternations) are fast automata themselves.
const MAX_GATE_LITERALS: usize = 64;

/// The literals one of which (ASCII case-insensitively) every match of the operator
/// contains, or `None` when no such finite set is known (the link always runs).
pub fn op_literals(name: &str, arg: &str, op: &Operator) -> Option<Vec<Vec<u8>>> {
    let lits = match (name, op) {
        ("rx", Operator::Rx(_)) => rx_literals(arg)?,
        (_, Operator::Pm(_)) => {
            let words: Vec<Vec<u8>> = if name == "pm" {
                arg.split_whitespace().map(|w| w.as_bytes().to_vec()).collect()
            } else {
                arg.lines().map(|w| w.as_bytes().to_vec()).collect()
            };
            if words.len() > MAX_GATE_LITERALS {
                return None;
            }
            words
        }
        (_, Operator::Str(op, m)) => match op {
            StrOp::Eq | StrOp::Contains | StrOp::BeginsWith | StrOp::EndsWith => {
                vec![m.literal()?.to_vec()]
            }
            StrOp::Within => return None,
        },
        _ => return None,
    };
    normalise(lits.into_iter(), MAX_GATE_LITERALS)
}

/// Lowercases, dedupes and checks a literal set: no empty literal, at most `max`.
fn normalise(lits: impl Iterator<Item = Vec<u8>>, max: usize) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for mut l in lits {
        if l.is_empty() {
            return None;
        }
        l.make_ascii_lowercase();
        out.push(l);
    }
    out.sort();
    out.dedup();
    if out.is_empty() || out.len() > max {
        return None;
    }
    if out.len() <= MAX_GATE_LITERALS {
        // A literal containing a shorter one is implied by it: keep the shorter.
        let short: Vec<Vec<u8>> = out.clone();
        out.retain(|l| {
            !short
                .iter()
                .any(|s| s.len() < l.len() && memchr::memmem::find(l, s).is_some())
        });
    }
    Some(out)
}

/// Required literals of a regex, parsed with the flags [`super::operator::compile_regex`]
/// compiles it with (bytes first, Unicode if that fails).
pub fn rx_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let parse = |unicode: bool| {
        regex_syntax::ParserBuilder::new()
            .utf8(false)
            .unicode(unicode)
            .dot_matches_new_line(true)
            .build()
            .parse(pattern)
    };
    let hir = parse(false).or_else(|_| parse(true)).ok()?;
    required(&fold_case(&hir), 0)
}

/// Replaces each `[xX]` class (what `(?i)` makes of an ASCII letter) by the lowercase
/// letter. Every match of the original then contains, up to ASCII case, what every match
/// of the folded expression contains, and literal extraction is not defeated by the
/// 2^n case variants of a word.
fn fold_case(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Class(c) => match ascii_pair(c) {
            Some(b) => Hir::literal(vec![b]),
            None => h.clone(),
        },
        HirKind::Repetition(r) => {
            let mut r = r.clone();
            r.sub = Box::new(fold_case(&r.sub));
            Hir::repetition(r)
        }
        HirKind::Capture(c) => {
            let mut c = c.clone();
            c.sub = Box::new(fold_case(&c.sub));
            Hir::capture(c)
        }
        HirKind::Concat(hs) => Hir::concat(hs.iter().map(fold_case).collect()),
        HirKind::Alternation(hs) => Hir::alternation(hs.iter().map(fold_case).collect()),
        _ => h.clone(),
    }
}

/// The lowercase letter when `c` is exactly `{x, X}`.
fn ascii_pair(c: &Class) -> Option<u8> {
    let mut members: Vec<u32> = Vec::new();
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                for x in r.start()..=r.end() {
                    members.push(u32::from(x));
                    if members.len() > 2 {
                        return None;
                    }
                }
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                for x in u32::from(r.start())..=u32::from(r.end()) {
                    members.push(x);
                    if members.len() > 2 {
                        return None;
                    }
                }
            }
        }
    }
    match members.as_slice() {
        [a, b] => {
            let (a, b) = (u8::try_from(*a).ok()?, u8::try_from(*b).ok()?);
            (a.is_ascii_uppercase() && b == a.to_ascii_lowercase()).then_some(b)
        }
        _ => None,
    }
}

/// Recursion depth past which sub-expressions are not examined (the whole-expression
/// extraction still applies).
const MAX_DEPTH: usize = 32;

/// A literal set every match of `h` contains, the best one found.
fn required(h: &Hir, depth: usize) -> Option<Vec<Vec<u8>>> {
    let mut best = better(extract(h, ExtractKind::Prefix), extract(h, ExtractKind::Suffix));
    if depth >= MAX_DEPTH {
        return best;
    }
    match h.kind() {
        HirKind::Capture(c) => best = better(best, required(&c.sub, depth + 1)),
        HirKind::Repetition(r) if r.min >= 1 => best = better(best, required(&r.sub, depth + 1)),
        HirKind::Concat(hs) => {
            for e in hs {
                best = better(best, required(e, depth + 1));
            }
        }
        HirKind::Alternation(hs) => {
            let mut all: Vec<Vec<u8>> = Vec::new();
            let mut ok = true;
            for b in hs {
                match required(b, depth + 1) {
                    Some(l) => all.extend(l),
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                best = better(best, normalise(all.into_iter(), MAX_GATE_LITERALS));
            }
        }
        _ => {}
    }
    best
}

fn extract(h: &Hir, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    let seq = Extractor::new().kind(kind).extract(h);
    let lits = seq.literals()?;
    normalise(lits.iter().map(|l| l.as_bytes().to_vec()), MAX_GATE_LITERALS)
}

/// The more selective of two literal sets: longer shortest literal, then fewer literals.
fn better(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let score = |l: &Vec<Vec<u8>>| {
        let min = l.iter().map(Vec::len).min().unwrap_or(0).min(4);
        (min, std::cmp::Reverse(l.len()))
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

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
        CmdLine => set_of([b'"', b'\'', b'\\', b'^', b',', b';'].into_iter().chain(C_SPACE)),
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

/// The shared automaton of every gate's literals.
#[derive(Debug)]
pub struct Prefilter {
    /// Literals of two bytes or more.
    ac: Option<AhoCorasick>,
    /// Gates with one-byte literals, and those bytes in both ASCII cases: tested against
    /// the value's byte set, which is cheaper than reporting every such byte from the
    /// automaton.
    byte_gates: Vec<(u32, ByteSet)>,
    /// For pattern `p`, its gates are `gates[starts[p]..starts[p + 1]]`.
    starts: Vec<u32>,
    gates: Vec<u32>,
    /// Number of gates.
    n_gates: usize,
}

impl Prefilter {
    /// Builds the automaton for `sets[g]`, the literals of gate `g`.
    pub fn build(sets: &[Vec<Vec<u8>>]) -> Result<Prefilter, String> {
        let mut by_lit: ahash::AHashMap<&[u8], Vec<u32>> = ahash::AHashMap::new();
        let mut byte_gates = Vec::new();
        for (g, set) in sets.iter().enumerate() {
            let g = u32::try_from(g).map_err(|_| "too many gates")?;
            let mut bytes = Vec::new();
            for l in set {
                match l.as_slice() {
                    [b] => bytes.extend([b.to_ascii_lowercase(), b.to_ascii_uppercase()]),
                    _ => by_lit.entry(l.as_slice()).or_default().push(g),
                }
            }
            if !bytes.is_empty() {
                byte_gates.push((g, set_of(bytes)));
            }
        }
        let mut lits: Vec<(&[u8], Vec<u32>)> = by_lit.into_iter().collect();
        lits.sort();
        let mut starts = vec![0u32];
        let mut gates = Vec::new();
        for (_, gs) in &lits {
            gates.extend_from_slice(gs);
            starts.push(u32::try_from(gates.len()).map_err(|_| "too many gates")?);
        }
        let ac = if lits.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(lits.iter().map(|(l, _)| *l))
                    .or_else(|_| {
                        AhoCorasickBuilder::new()
                            .ascii_case_insensitive(true)
                            .match_kind(MatchKind::Standard)
                            .build(lits.iter().map(|(l, _)| *l))
                    })
                    .map_err(|e| format!("literal prefilter: {e}"))?,
            )
        };
        if std::env::var_os("TW_DUMP_GATES").is_some() {
            eprintln!("AC kind {:?} mem {}", ac.as_ref().map(|a| a.kind()), ac.as_ref().map_or(0, |a| a.memory_usage()));
        }
        Ok(Prefilter {
            ac,
            byte_gates,
            starts,
            gates,
            n_gates: sets.len(),
        })
    }

    /// u64 words in a gate bitset.
    pub fn words(&self) -> usize {
        self.n_gates.div_ceil(64).max(1)
    }

    /// Number of distinct literals (patterns of the automaton).
    pub fn patterns(&self) -> usize {
        self.starts.len() - 1
    }

    /// ORs into `out` (of [`Prefilter::words`] words) the gates whose literals occur in
    /// `v`, whose byte set is `set` (see [`byte_set`]). `seen` is scratch (resized here)
    /// to visit each pattern's gates once.
    pub fn scan(&self, v: &[u8], set: &ByteSet, seen: &mut Vec<u64>, out: &mut [u64]) {
        if v.is_empty() {
            return;
        }
        for (g, bytes) in &self.byte_gates {
            if bytes.iter().zip(set).any(|(a, b)| a & b != 0) {
                if let Some(x) = out.get_mut(*g as usize / 64) {
                    *x |= 1 << (g % 64);
                }
            }
        }
        let Some(ac) = &self.ac else { return };
        seen.clear();
        seen.resize(self.patterns().div_ceil(64), 0);
        for m in ac.find_overlapping_iter(v) {
            let p = m.pattern().as_usize();
            let (w, bit) = (p / 64, 1u64 << (p % 64));
            let Some(s) = seen.get_mut(w) else { continue };
            if *s & bit != 0 {
                continue;
            }
            *s |= bit;
            let (a, b) = (self.starts[p] as usize, self.starts[p + 1] as usize);
            for &g in self.gates.get(a..b).unwrap_or_default() {
                if let Some(x) = out.get_mut(g as usize / 64) {
                    *x |= 1 << (g % 64);
                }
            }
        }
    }
}

/// Whether gate `g` is set in `bits`.
pub fn has(bits: &[u64], g: u32) -> bool {
    bits.get(g as usize / 64)
        .is_some_and(|w| w & (1 << (g % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        rx_literals(p).map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .collect()
        })
    }

    #[test]
    fn regex_literals_are_required_and_case_folded() {
        assert_eq!(lits("(?i)union\\s+select"), Some(vec!["union".into()]));
        assert_eq!(
            lits("(?i)[\\s(]*(?:sleep|benchmark)\\s*\\("),
            Some(vec!["benchmark".into(), "sleep".into()])
        );
        // An inner required part is found when the prefix is open.
        assert_eq!(lits("[a-z]+=<script"), Some(vec!["=<script".into()]));
        // Nothing required: an optional literal or a plain class.
        assert_eq!(lits("a?b?"), None);
        assert_eq!(lits("^[0-9a-z]+$"), None);
    }

    #[test]
    fn regex_gate_never_rejects_a_match() {
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
            let set = rx_literals(p).expect("gate");
            let pf = Prefilter::build(&[set]).expect("builds");
            for i in *inputs {
                assert!(re.is_match(i), "{p} matches {i:?}");
                let mut out = vec![0u64; pf.words()];
                pf.scan(i, &byte_set(i), &mut Vec::new(), &mut out);
                assert!(has(&out, 0), "gate of {p} passes {i:?}");
            }
        }
    }

    #[test]
    fn scan_sets_only_present_gates() {
        let pf = Prefilter::build(&[
            vec![b"select".to_vec()],
            vec![b"<".to_vec(), b"script".to_vec()],
            vec![b"zzz".to_vec()],
        ])
        .expect("builds");
        let mut out = vec![0u64; pf.words()];
        let v = b"SELECT a FROM b <";
        pf.scan(v, &byte_set(v), &mut Vec::new(), &mut out);
        assert!(has(&out, 0) && has(&out, 1) && !has(&out, 2));
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
