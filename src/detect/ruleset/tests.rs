//! The rule set over real parsed transactions: the reused leaf table starts empty for
//! every transaction, and evidence is what the rule names (literal, regex tokens).

use std::path::Path;

use super::*;
use crate::detect::rules::parse_file;
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
    RuleSet::compile(RuleDefs { rules, headers }).expect("rules compile")
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
    // RuleSet::compile relies on the loader having compiled every regex on its own
    // within REGEX_SIZE_LIMIT (the set's own limit is the sum over its regexes).
    let rules = RULES.replace(r"'/cgi/[a-z]+\.sh$'", "'[a-z0-9]{2,60000}x'");
    let mut headers = Vec::new();
    let err = parse_file(&rules, Path::new("t.yaml"), &mut headers)
        .expect_err("an oversized regex must be refused");
    assert!(err.to_string().contains("size limit"), "{err}");
}
