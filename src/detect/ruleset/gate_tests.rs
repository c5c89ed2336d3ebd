//! Gates never rule out a value their regex matches: checked on strings generated
//! from every bundled rule regex (so most do match), wrapped in noise.

use super::*;
use crate::detect::rules::{load, Condition, Op};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use regex::bytes::RegexBuilder;

fn regexes(c: &Condition, out: &mut Vec<String>) {
    match c {
        Condition::All(items) | Condition::Any(items) => items.iter().for_each(|i| regexes(i, out)),
        Condition::Not(inner) => regexes(inner, out),
        Condition::Test {
            op: Op::Regex(r), ..
        } => out.push(r.clone()),
        Condition::Test { .. } => {}
    }
}

fn bundled_regexes() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let defs = load(&dir).expect("bundled rules");
    let mut all = Vec::new();
    for d in &defs.rules {
        regexes(&d.condition, &mut all);
    }
    all.sort();
    all.dedup();
    all
}

/// `hir` with its anchors and word boundaries dropped (the generator refuses them;
/// values generated without them are filtered by the regex itself).
fn without_looks(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Repetition(r) => Hir::repetition(regex_syntax::hir::Repetition {
            sub: Box::new(without_looks(*r.sub)),
            ..r
        }),
        HirKind::Capture(c) => without_looks(*c.sub),
        HirKind::Concat(items) => Hir::concat(items.into_iter().map(without_looks).collect()),
        HirKind::Alternation(items) => {
            Hir::alternation(items.into_iter().map(without_looks).collect())
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) => Hir::literal(l.0),
        HirKind::Class(c) => Hir::class(c),
    }
}

fn has(gate: &[Clause], lits: &[&str]) -> bool {
    let want: Clause = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
    gate.contains(&want)
}

#[test]
fn keywords_and_punctuation_become_clauses() {
    let g = required(r"union(\s+(all|distinct))?\s+select\b.{0,200}(\bfrom\b|--|#|/\*|\bnull\b)");
    assert!(has(&g, &["union"]), "{g:?}");
    assert!(has(&g, &["select"]), "{g:?}");
    assert!(has(&g, &["#", "--", "/*", "from", "null"]), "{g:?}");
    let g = required(r"^\s*(https?|ftps?|smb)://");
    assert!(
        has(&g, &["ftp://", "ftps://", "http://", "https://", "smb://"]),
        "{g:?}"
    );
    let g = required(r"(^|/)\.\.(/|$)");
    assert!(has(&g, &[".."]), "{g:?}");
    let g = required(r"\$\{\s*jndi\s*:");
    assert!(
        has(&g, &["jndi"]) && has(&g, &["${"]) && has(&g, &[":"]),
        "{g:?}"
    );
}

#[test]
fn regexes_that_can_match_anything_have_no_gate() {
    assert!(required(r".*").is_empty());
    assert!(required(r"\w+").is_empty());
    assert!(required(r"a|\w").is_empty());
    assert!(required(r"x?").is_empty());
    assert!(required(r"(").is_empty());
}

#[test]
fn every_bundled_rule_regex_has_a_gate() {
    for r in bundled_regexes() {
        let gate = required(&r);
        let shown: Vec<Vec<String>> = gate
            .iter()
            .map(|c| {
                c.iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect()
            })
            .collect();
        println!("{r}\n    {shown:?}");
        assert!(!gate.is_empty(), "no gate for {r}");
    }
}

#[test]
fn a_gate_passes_every_value_its_regex_matches() {
    let noise = prop::collection::vec(
        prop::sample::select(vec![
            &b"a"[..],
            b" ",
            b"Z9",
            b"/",
            b"'",
            b"(",
            b"%",
            b"\xc3\xa9",
            b"--",
        ]),
        0..4,
    )
    .prop_map(|parts| parts.concat());
    for source in bundled_regexes() {
        let gate = required(&source);
        let re = RegexBuilder::new(&source)
            .case_insensitive(true)
            .unicode(false)
            .build()
            .expect("bundled regex compiles");
        let hir = ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .case_insensitive(true)
            .build()
            .parse(&source)
            .expect("parses");
        let gen = proptest::string::bytes_regex_parsed(&without_looks(hir)).expect("generator");
        let mut runner = TestRunner::new(Config {
            cases: 300,
            failure_persistence: None,
            ..Config::default()
        });
        let matched = std::cell::Cell::new(0u32);
        runner
            .run(&(noise.clone(), gen, noise.clone()), |(a, m, b)| {
                let value = [a, m, b].concat();
                if re.is_match(&value) {
                    matched.set(matched.get() + 1);
                    prop_assert!(
                        passes(&gate, &value),
                        "gate {:?} rules out {:?}, which {} matches",
                        gate,
                        String::from_utf8_lossy(&value),
                        source
                    );
                }
                Ok(())
            })
            .expect("gate holds");
        assert!(matched.get() > 0, "no generated value matched {source}");
    }
}
