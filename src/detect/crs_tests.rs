//! The CRS verdict inside the Detector: one alert with the score and contributing rules,
//! no CRS alert for a write the policy judges, no double alert beside a native rule of
//! the same category, and evidence capped to the matched token.

use std::path::Path;
use std::sync::Arc;

use super::crs::tests::request;
use super::*;
use crate::sink::events::EveAlert;
use alert::Category;

const POLICY: &str = r#"
policy:
  authorized:
    - sources: [198.51.100.0/24]
      methods: [POST, PUT, PATCH, DELETE]
      paths: [/admin/]
"#;

fn detector(policy: &str) -> Detector {
    let config = Config::parse(policy, Path::new("test.yaml")).expect("policy");
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    Detector::load(&rules_dir, &config, Arc::new(ThresholdTable::default())).expect("rules")
}

#[test]
fn a_crs_verdict_is_one_event_with_score_and_rules() {
    let d = detector("");
    let payload = "<img src=x onerror=alert(1)>";
    let t = request("GET", "/", &[("Referer", payload)], b"");
    let mut out = Vec::new();
    d.evaluate(&t, &mut out);
    let crs: Vec<&Alert> = out.iter().filter(|a| a.crs.is_some()).collect();
    assert_eq!(crs.len(), 1, "{out:?}");
    let a = crs[0];
    let info = a.crs.as_ref().expect("crs details");
    assert!(info.score >= 5);
    assert!(info.rules.contains(&a.rule.signature_id));
    assert!(
        (941_000..942_000).contains(&a.rule.signature_id),
        "{}",
        a.rule.signature_id
    );
    assert_eq!(a.rule.category, Category::Injection);
    assert!(a.evidence.len() <= alert::MAX_EVIDENCE_BYTES);
    let json = serde_json::to_value(EveAlert::of(a)).expect("json");
    assert_eq!(json["crs"]["score"], info.score);
    assert_eq!(json["alert"]["signature_id"], a.rule.signature_id);
    let mut quiet = Vec::new();
    d.evaluate(&request("GET", "/about/contact.html", &[], b""), &mut quiet);
    assert!(quiet.is_empty(), "{quiet:?}");
}

#[test]
fn evidence_is_the_capped_token_never_the_whole_value() {
    let d = detector("");
    let secret = "x".repeat(300);
    let body = format!("comment={secret}%27%20UNION%20SELECT%20password%20FROM%20users--{secret}");
    let t = request(
        "POST",
        "/blog/comment",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    );
    let engine = d.crs().expect("crs on");
    let a = crs_glue::verdict(engine, &t, crs_glue::Context::default()).expect("CRS verdict");
    assert!(a.evidence.len() <= alert::MAX_EVIDENCE_BYTES);
    assert!(!a.evidence.contains(&secret[..80]));
    // The native injection rule flags it too: one injection alert, not two.
    let mut out = Vec::new();
    d.evaluate(&t, &mut out);
    let injection = out
        .iter()
        .filter(|a| a.rule.category == Category::Injection)
        .count();
    assert_eq!(injection, 1, "{out:?}");
}

#[test]
fn method_enforcement_defers_to_the_policy() {
    let d = detector(POLICY);
    // An authorized editor's PUT under its granted path: no CRS method verdict. (The
    // body is JSON: text/plain is outside CRS's allowed content types, and 920420
    // rightly fires on it.)
    let mut out = Vec::new();
    let put = request(
        "PUT",
        "/admin/page.html",
        &[("Content-Type", "application/json")],
        br#"{"title":"hello"}"#,
    );
    d.evaluate(&put, &mut out);
    assert!(out.iter().all(|a| a.crs.is_none()), "{out:?}");
    // A method the policy does not judge (TRACE) still scores in CRS (911100).
    let e = d.crs().expect("crs on");
    let o = e.evaluate(
        &request("TRACE", "/", &[], b""),
        &mut crs::CrsScratch::default(),
    );
    assert!(o.matched_ids().contains(&911100), "{:?}", o.matched_ids());
}

#[test]
fn crs_can_be_disabled() {
    let d = detector("crs:\n  enabled: false\n");
    assert!(d.crs().is_none());
    let mut out = Vec::new();
    d.evaluate(
        &request("GET", "/", &[("Referer", "<script>alert(1)</script>")], b""),
        &mut out,
    );
    assert!(out.iter().all(|a| a.crs.is_none()));
}
