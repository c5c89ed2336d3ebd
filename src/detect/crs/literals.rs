//! Required literals of an operator: a set of strings one of which (ASCII
//! case-insensitively) every match contains, found at rule compile time.
//!
//! For `@rx` this is regex-syntax's literal extraction (prefixes and suffixes) over the
//! pattern and, recursively, over its required parts (a concatenation's elements, a
//! repetition of at least one, every branch of an alternation), after folding each
//! `(?i)` letter class `[xX]` to its lowercase letter so that case variants do not blow
//! the extraction's limits. `@pm` gives its phrases, the literal string comparisons their
//! argument. The most selective set found is kept. [`super::prefilter`] turns the sets
//! into gates.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

use super::operator::{Operator, StrOp};

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
                arg.split_whitespace()
                    .map(|w| w.as_bytes().to_vec())
                    .collect()
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
    let parse = |p: &str, unicode: bool| {
        regex_syntax::ParserBuilder::new()
            .utf8(false)
            .unicode(unicode)
            .dot_matches_new_line(true)
            .build()
            .parse(p)
            .ok()
    };
    // Without Unicode, `(?i)` folds ASCII letters only: every match of the pattern is,
    // up to ASCII case, a match of the pattern without its leading `(?i)`, and the gate
    // compares ASCII case-insensitively. Parsing without it keeps words as literals
    // instead of 2^n case variants. (The flag cannot make a pattern that parses without
    // Unicode fail to, so this is the mode `compile_regex` compiles it in.)
    let bare = pattern.strip_prefix("(?i)").unwrap_or(pattern);
    let (hir, parsed) = match parse(bare, false) {
        Some(h) => (h, bare),
        None => (parse(pattern, true)?, pattern),
    };
    if parsed.contains("(?i") {
        required(&fold_case(&hir), 0)
    } else {
        required(&hir, 0)
    }
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

/// Concatenations nested deeper than this are not examined on their own (the enclosing
/// expression's extraction still applies); bounds the load-time cost on large patterns.
const MAX_DEPTH: usize = 4;

/// A literal set every match of `h` contains, the best one found. Extraction runs on
/// literals, classes and concatenations; a capture or a repetition of at least one is its
/// inside; an alternation is the union of its branches' sets (all must have one).
fn required(h: &Hir, depth: usize) -> Option<Vec<Vec<u8>>> {
    match h.kind() {
        HirKind::Capture(c) => required(&c.sub, depth),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub, depth),
        HirKind::Literal(_) | HirKind::Class(_) => extract(h, ExtractKind::Prefix),
        HirKind::Concat(hs) => {
            let mut best = better(
                extract(h, ExtractKind::Prefix),
                extract(h, ExtractKind::Suffix),
            );
            if depth < MAX_DEPTH {
                for e in hs {
                    best = better(best, required(e, depth + 1));
                }
            }
            best
        }
        HirKind::Alternation(hs) => {
            let mut all: Vec<Vec<u8>> = Vec::new();
            for b in hs {
                all.extend(required(b, depth)?);
                if all.len() > 4 * MAX_GATE_LITERALS {
                    return None;
                }
            }
            normalise(all.into_iter(), MAX_GATE_LITERALS)
        }
        _ => None,
    }
}

fn extract(h: &Hir, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    let seq = Extractor::new()
        .kind(kind)
        .limit_total(2 * MAX_GATE_LITERALS)
        .extract(h);
    let lits = seq.literals()?;
    normalise(
        lits.iter().map(|l| l.as_bytes().to_vec()),
        MAX_GATE_LITERALS,
    )
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
        // Nothing required: an optional literal or a large class.
        assert_eq!(lits("a?b?"), None);
        assert_eq!(lits("^[0-9a-z]+$"), None);
    }

    #[test]
    fn operator_literals() {
        let pm = Operator::compile("pm", "Foo bar").expect("compiles");
        assert_eq!(
            op_literals("pm", "Foo bar", &pm),
            Some(vec![b"bar".to_vec(), b"foo".to_vec()])
        );
        let within = Operator::compile("within", "a b").expect("compiles");
        assert_eq!(op_literals("within", "a b", &within), None);
        let eq = Operator::compile("streq", "").expect("compiles");
        assert_eq!(op_literals("streq", "", &eq), None);
    }
}
