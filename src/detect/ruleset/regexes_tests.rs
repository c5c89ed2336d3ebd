//! The compiled field gates: every bundled regex compiles lazily, and the compiled
//! gate, its union and the pair scan answer as the clauses do.

use super::*;

/// Every bundled rule regex compiles when first needed.
#[test]
fn every_bundled_regex_compiles_lazily() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let defs = crate::detect::rules::load(&dir).expect("bundled rules");
    let set = super::super::RuleSet::compile(defs).expect("compiles");
    let mut n = 0;
    for (_, m) in &set.fields {
        for r in &m.regexes {
            let _ = r.is_match(b"");
            assert!(r.regex.get().is_some_and(Option::is_some), "{}", r.source);
            n += 1;
        }
    }
    assert!(n > 10, "only {n} regexes");
}

/// The compiled gate answers as the reference check of its clauses does.
#[test]
fn compiled_gate_agrees_with_the_clauses() {
    let sources = [
        r"union(\s+(all|distinct))?\s+select\b.{0,200}(\bfrom\b|--|#|/\*|\bnull\b)",
        r"(\$\(|`)\s*(cat|id|whoami)\b",
        r"\(\s*\)\s*\{",
        r"\w+",
    ];
    let g = FieldGate::new(&sources, &mut HashMap::new())
        .expect("builds")
        .expect("has clauses");
    let values: [&[u8]; 10] = [
        b"1 union select a from b",
        b"1 union/**/select a from b",
        b"union select",
        b"$(id)",
        b"`whoami`",
        b"() { :; }",
        b"mozilla/5.0 (x11; linux)",
        b"a $( b",
        b"x`y",
        b"",
    ];
    for v in values {
        for (i, src) in sources.iter().enumerate() {
            let mut known = Vec::new();
            g.reset(&mut known);
            let want = gate::passes(&gate::required(src), v);
            assert_eq!(g.open(i, v, &mut known), want, "{src} on {v:?}");
            // Asked again, the remembered answers give the same.
            assert_eq!(g.open(i, v, &mut known), want);
            // All closed only when none is open.
            if g.all_closed(v) {
                assert!(!want, "{src} on {v:?}");
            }
            // The pair scan answers as the union's own search.
            let union_holds = g.firsts.as_ref().map_or(true, |t| t.holds(v));
            assert_eq!(g.all_closed(v), !union_holds, "{v:?}");
        }
    }
}

/// On every bundled field gate with a pair scan, the scan answers as the union's
/// SIMD search does, on values made of gate literals and ordinary text.
#[test]
fn pair_scan_agrees_with_the_union_search_on_bundled_gates() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let defs = crate::detect::rules::load(&dir).expect("bundled rules");
    let set = super::super::RuleSet::compile(defs).expect("compiles");
    let gates: Vec<&FieldGate> = set
        .fields
        .iter()
        .filter_map(|(_, m)| m.gate.as_ref())
        .filter(|g| g.firsts_pairs.is_some())
        .collect();
    assert!(gates.len() >= 3, "only {} gates scan pairs", gates.len());
    let piece = prop::sample::select(vec![
        "/etc/passwd",
        "/etc/passw",
        "..",
        ".",
        "/",
        "'",
        "\"",
        "${",
        "$",
        "{",
        "select",
        "selec",
        "or",
        "o",
        "id",
        "i",
        "sh",
        "wget",
        ".git",
        ".env",
        "http://",
        "&&",
        "|",
        "||",
        "a",
        "b",
        "%",
        " ",
        "icon-21.png",
        "/assets",
        "config.php",
        "cat",
    ]);
    let value = prop::collection::vec(piece, 0..10).prop_map(|p| p.concat());
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    let hits = std::cell::Cell::new(0u32);
    runner
        .run(&value, |v| {
            for g in &gates {
                let union = g.firsts.as_ref().map_or(true, |t| t.holds(v.as_bytes()));
                hits.set(hits.get() + u32::from(union));
                prop_assert_eq!(g.all_closed(v.as_bytes()), !union, "{:?}", v);
            }
            Ok(())
        })
        .expect("the pair scan agrees with the union search");
    assert!(
        hits.get() > 1000,
        "only {} values held a literal",
        hits.get()
    );
}
