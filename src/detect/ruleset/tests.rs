//! The rule set over real parsed transactions: the reused leaf table starts empty for
//! every transaction, and evidence is what the rule names (literal, regex tokens).

use std::path::Path;

use super::*;
use crate::detect::rules::{parse_file, parse_file_with, ParsedRegexes};
use crate::flow::Direction;
use crate::http::session::FlowContext;
use crate::http::{HttpSession, HttpTransaction};
use crate::reassembly::Chunk;
use crate::time::Timestamp;

const RULES: &str = r#"
- id: 1
  name: t.evil-path
  signature: evil in the path
  category: recon
  severity: 2
  match:
    field: path
    contains: [evil]
- id: 2
  name: t.shell
  signature: a shell script
  category: upload
  severity: 3
  match:
    field: path
    regex: '/cgi/[a-z]+\.sh$'
"#;

fn rule_set() -> RuleSet {
    let mut headers = Vec::new();
    let rules = parse_file(RULES, Path::new("t.yaml"), &mut headers).expect("rules parse");
    RuleSet::compile(RuleDefs {
        rules,
        headers,
        ..RuleDefs::default()
    })
    .expect("rules compile")
}

fn txn(path: &str) -> HttpTransaction {
    let ctx = FlowContext {
        flow_id: 1,
        client: "198.51.100.7:40000".parse().expect("addr"),
        server: "203.0.113.10:80".parse().expect("addr"),
        keep_response_bytes: crate::http::session::MAX_RESPONSE_PREFIX_BYTES,
    };
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    let now = Timestamp::from_secs_micros(1_700_000_000, 0);
    let req = format!("GET {path} HTTP/1.1\r\nHost: www.example.gov\r\n\r\n");
    s.on_chunk(
        Direction::ToServer,
        Chunk::Data(req.as_bytes()),
        now,
        &ctx,
        &mut out,
    );
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    s.on_chunk(Direction::ToClient, Chunk::Data(resp), now, &ctx, &mut out);
    s.finish(now, &ctx, &mut out);
    out.into_iter().next().expect("one transaction")
}

/// (rule id, evidence) of every rule that matched `path`.
fn matched(set: &RuleSet, path: &str) -> Vec<(u32, String)> {
    let t = txn(path);
    let values = FieldValues::extract(&t, set.header_names());
    set.evaluate(&values)
        .into_iter()
        .map(|m| {
            let evidence = m
                .hit
                .map(|h| String::from_utf8_lossy(&h.evidence).into_owned());
            (m.rule.id, evidence.unwrap_or_default())
        })
        .collect()
}

#[test]
fn a_hit_does_not_outlive_its_transaction() {
    let set = rule_set();
    // The same thread, so the same leaf table: the second and third transactions
    // match nothing, whatever the ones before them hit.
    assert_eq!(
        matched(&set, "/evil/cgi/x.sh"),
        vec![(1, "evil".into()), (2, "/cgi/….sh".into())]
    );
    assert_eq!(matched(&set, "/index.html"), vec![]);
    assert_eq!(matched(&set, "/cgi/readme.txt"), vec![]);
    assert_eq!(matched(&set, "/cgi/run.sh"), vec![(2, "/cgi/….sh".into())]);
}

#[test]
fn a_regex_shared_by_files_and_fields_is_gated_and_matched_per_field() {
    // The second file tests the first's regex on another field: its parse is kept
    // from the first file, and each field gets its own gate and regex.
    let other = r#"
- id: 3
  name: t.shell-query
  signature: a shell script in the query
  category: upload
  severity: 3
  match: { field: query.values, regex: '/cgi/[a-z]+\.sh$' }
"#;
    let (mut headers, mut regexes) = (Vec::new(), ParsedRegexes::new());
    let mut rules = parse_file_with(RULES, Path::new("a.yaml"), &mut headers, &mut regexes)
        .expect("rules parse");
    rules.extend(
        parse_file_with(other, Path::new("b.yaml"), &mut headers, &mut regexes)
            .expect("rules parse"),
    );
    assert_eq!(regexes.len(), 1);
    let set = RuleSet::compile(RuleDefs {
        rules,
        headers,
        regexes,
    })
    .expect("rules compile");
    assert!(set.fields.iter().filter(|(_, m)| m.gate.is_some()).count() == 2);
    let ids = |path: &str| -> Vec<u32> { matched(&set, path).into_iter().map(|m| m.0).collect() };
    assert_eq!(ids("/cgi/run.sh"), vec![2]);
    assert_eq!(ids("/x?f=/cgi/run.sh"), vec![3]);
    assert_eq!(ids("/cgi/run.sh?f=/cgi/run.sh"), vec![2, 3]);
    assert_eq!(ids("/x?f=/cgi/run.txt"), Vec::<u32>::new());
}

#[test]
fn the_hit_storage_is_kept_for_the_next_transaction() {
    let set = rule_set();
    let _ = matched(&set, "/evil");
    let scratch = SCRATCH.take();
    assert!(
        scratch.slots.capacity() >= set.leaf_count && scratch.list.capacity() >= 1,
        "hit storage not given back: {scratch:?}"
    );
}

#[test]
fn a_regex_over_the_size_limit_is_refused_when_its_rule_is_read() {
    // The rule set compiles a regex only when a value first gets through its gate,
    // relying on the loader having refused every regex over the size limit.
    let rules = RULES.replace(r"'/cgi/[a-z]+\.sh$'", "'[a-z0-9]{2,60000}x'");
    let mut headers = Vec::new();
    let err = parse_file(&rules, Path::new("t.yaml"), &mut headers)
        .expect_err("an oversized regex must be refused");
    assert!(err.to_string().contains("size limit"), "{err}");
}

/// The bundled rules, compiled; `reference` as [`RuleSet::reference`].
fn bundled(reference: bool) -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut set = RuleSet::compile(crate::detect::rules::load(&dir).expect("bundled rules"))
        .expect("bundled rules compile");
    set.reference = reference;
    set
}

/// A rule's id and its hit's evidence and upload part.
type Outcome = (u32, Option<(Vec<u8>, Option<usize>)>);

/// (rule id, evidence, upload) of every match, in rule order.
fn outcome(set: &RuleSet, values: &FieldValues) -> Vec<Outcome> {
    set.evaluate(values)
        .into_iter()
        .map(|m| (m.rule.id, m.hit.map(|h| (h.evidence, h.upload))))
        .collect()
}

/// Gated regexes, the contains prefilter, skipping tests that hit already and
/// answering untouched rules at compile time give what evaluating everything gives,
/// on values built from attack fragments and ordinary text.
#[test]
fn fast_paths_give_the_reference_verdicts() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let fast = bundled(false);
    let slow = bundled(true);
    let piece = prop::sample::select(vec![
        "union",
        " ",
        "select",
        " from ",
        "--",
        "#",
        "/*",
        "null",
        "'",
        "\"",
        "`",
        ")",
        "(",
        " or ",
        "and",
        "1=1",
        "like",
        "x",
        "../",
        "..",
        "/",
        "etc/passwd",
        "${",
        "jndi:",
        "${lower:",
        "}",
        "{",
        "{{",
        "7*7",
        "<script",
        "javascript:",
        "onerror=",
        "sleep(",
        ";",
        "|",
        "&&",
        "$(",
        "cat",
        "id",
        "http://",
        "smb://",
        ".env",
        ".git/",
        "\n",
        "drop table",
        "insert into",
        "information_schema",
        "mozilla/5.0",
        "chunked",
        "win.ini",
        "proc/self/environ",
        "%",
        "a",
        "=",
        "<img src=",
        "waitfor delay",
        // Keys of exact-match tables (methods, header names, labels, extensions).
        "put",
        "delete",
        "propfind",
        "trace",
        "x-http-method-override",
        "transfer-encoding",
        "double_encoding",
        "nul_byte",
        "unauthorized_change",
        "php",
        "phtml",
        "401",
        "404",
        "cmd",
        "/.env",
    ]);
    let text = prop::collection::vec(piece, 0..8).prop_map(|p| p.concat());
    let fields = [
        Field::QueryValues,
        Field::BodyValues,
        Field::Body,
        Field::PathDecoded,
        Field::PathNormalized,
        Field::HeaderValues,
        Field::UserAgent,
        Field::Header(0),
        Field::Method,
        Field::EffectiveMethod,
        Field::HeaderNames,
        Field::QueryNames,
        Field::Anomaly,
        Field::Policy,
        Field::Status,
        Field::UploadExtension,
    ];
    let value = (prop::sample::select(fields.to_vec()), text);
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    // Cases where a regex rule (ids 1003xx injection, 1004xx traversal) matched: the
    // comparison must have covered matches, not only silence.
    let regex_matches = std::cell::Cell::new(0u32);
    // Cases where an exact-match test hit (the shape filter let a key through).
    let exact_hits = std::cell::Cell::new(0u32);
    runner
        .run(&prop::collection::vec(value, 0..6), |values| {
            let mut v = crate::detect::fields::PooledValues::take(
                Field::fixed_slots(),
                fast.header_names().len(),
            );
            for (field, text) in &values {
                v.push_label(*field, text);
            }
            let got = outcome(&fast, &v);
            if got.iter().any(|(id, _)| (100_300..100_500).contains(id)) {
                regex_matches.set(regex_matches.get() + 1);
            }
            let mut scratch = Scratch::default();
            fast.hits(&v, &mut scratch);
            if scratch
                .list
                .iter()
                .any(|h| matches!(h.token, hits::Token::Value { .. }))
            {
                exact_hits.set(exact_hits.get() + 1);
            }
            prop_assert_eq!(got, outcome(&slow, &v), "values {:?}", values);
            Ok(())
        })
        .expect("fast paths agree with the reference");
    assert!(
        regex_matches.get() >= 200,
        "only {} cases matched a regex rule",
        regex_matches.get()
    );
    assert!(
        exact_hits.get() >= 100,
        "only {} cases hit an exact-match test",
        exact_hits.get()
    );
}

/// The exact-match tables' shape filter never rules out a key: every key of every
/// bundled table passes, and a value it rules out is in no table.
#[test]
fn exact_shape_never_rules_out_a_key() {
    let set = bundled(false);
    let mut keys = 0;
    for (field, m) in &set.fields {
        for k in m.exact.keys() {
            assert!(m.exact_shape.may_hold(k), "{field:?} {k:?}");
            keys += 1;
        }
        let probes: [&[u8]; 8] = [
            b"",
            b"get",
            b"post",
            b"x",
            b"host",
            b"chunked",
            b"php",
            b"a-much-longer-value-than-any-key-of-a-table-would-ever-be-in-rules",
        ];
        for p in probes {
            if !m.exact_shape.may_hold(p) {
                assert!(!m.exact.contains_key(p), "{field:?} {p:?}");
            }
        }
    }
    assert!(keys > 50, "only {keys} exact keys");
    let empty = ExactShape::of([Vec::new()].iter());
    assert!(empty.may_hold(b""));
    assert!(!empty.may_hold(b"a"));
    let long = ExactShape::of([vec![b'a'; 100]].iter());
    assert!(long.may_hold(&[b'a'; 70]));
    assert!(!long.may_hold(&[b'b'; 70]));
    // Same length and first byte as a key, another last byte: ruled out.
    let paths = ExactShape::of([b"/signin".to_vec(), b"/login".to_vec()].iter());
    assert!(paths.may_hold(b"/signin"));
    assert!(!paths.may_hold(b"/search"));
    assert!(paths.may_hold_lowercased(b"/SIGNIN"));
    assert!(!paths.may_hold_lowercased(b"/SEARCH"));
}

/// Values remembered as misses ([`super::memo`]) keep their verdicts: the same values
/// judged again with the memo warm match what the reference matches, a value
/// remembered on one field still hits on another, and the memo does hold the
/// browser's user agent after the first round.
#[test]
fn remembered_misses_keep_the_verdicts() {
    let fast = bundled(false);
    let slow = bundled(true);
    let browser = "mozilla/5.0 (x11; linux x86_64; rv:121.0) gecko/20100101 firefox/121.0";
    let cases: [&[(Field, &str)]; 3] = [
        &[
            (Field::UserAgent, browser),
            (Field::PathDecoded, "/assets/icon-1.png"),
        ],
        &[
            (Field::UserAgent, "../../etc/passwd"),
            (Field::PathDecoded, "/../../etc/passwd"),
        ],
        &[
            (Field::PathDecoded, browser),
            (Field::UserAgent, "sqlmap/1.7"),
            (Field::QueryValues, "/assets/icon-1.png"),
        ],
    ];
    let mut matched = 0;
    for _round in 0..3 {
        for case in cases {
            let mut v = crate::detect::fields::PooledValues::take(
                Field::fixed_slots(),
                fast.header_names().len(),
            );
            for (field, text) in case {
                v.push_label(*field, text);
            }
            let got = outcome(&fast, &v);
            matched += got.len();
            assert_eq!(got, outcome(&slow, &v), "{case:?}");
        }
    }
    assert!(matched >= 6, "only {matched} matches");
    let scratch = SCRATCH.take();
    let memo = scratch.memo.expect("the memo was lent back");
    let fi = fast
        .fields
        .iter()
        .position(|(f, _)| *f == Field::UserAgent)
        .expect("a user agent test");
    let key = super::memo::MissMemo::key(fi, browser.as_bytes()).expect("short enough");
    assert!(memo.holds(key, fi, browser.as_bytes()));
}
