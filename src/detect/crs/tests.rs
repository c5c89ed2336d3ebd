//! The bundled CRS loads at every paranoia level, classic attacks in each place a value
//! can hide reach the threshold, and a benign GET does not.

use std::path::PathBuf;

use super::*;
use crate::http::{Header, RequestHead};
use crate::time::Timestamp;

pub(crate) fn bundled() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/crs")
}

pub(crate) fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpTransaction {
    let mut hs = vec![
        Header {
            name: "Host".into(),
            value: "www.example.org".into(),
        },
        Header {
            name: "User-Agent".into(),
            value: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into(),
        },
        Header {
            name: "Accept".into(),
            value: "text/html,application/xhtml+xml".into(),
        },
    ];
    for (n, v) in headers {
        hs.push(Header {
            name: n.to_string(),
            value: v.to_string(),
        });
    }
    if !body.is_empty() {
        hs.push(Header {
            name: "Content-Length".into(),
            value: body.len().to_string(),
        });
    }
    HttpTransaction {
        request: Some(RequestHead {
            method: method.into(),
            uri: uri.into(),
            version: "HTTP/1.1".into(),
            headers: hs,
            headers_dropped: 0,
        }),
        request_body_len: body.len() as u64,
        body_prefix: body.to_vec(),
        ..HttpTransaction::new(
            1,
            "198.51.100.7:40000".parse().expect("addr"),
            "203.0.113.10:80".parse().expect("addr"),
            Timestamp::from_secs_micros(1_700_000_000, 0),
            1,
        )
    }
}

fn engine(pl: u8) -> CrsEngine {
    let mut s = CrsSettings::new(bundled());
    s.paranoia_level = pl;
    s.detection_paranoia_level = pl;
    CrsEngine::load(&s).expect("bundled CRS loads")
}

#[test]
fn bundled_crs_loads_at_every_paranoia_level() {
    for pl in 1..=4 {
        let e = engine(pl);
        assert!(e.rule_count() > 300, "PL{pl}: {} rules", e.rule_count());
    }
    let mut s = CrsSettings::new(bundled());
    s.paranoia_level = 5;
    assert!(CrsEngine::load(&s).is_err());
}

#[test]
fn classic_attacks_in_every_place_are_flagged_and_a_benign_get_is_not() {
    let e = engine(1);
    let mut sc = CrsScratch::default();
    let sqli = "1' UNION SELECT username, password FROM users--";
    let xss = "<script>alert(document.cookie)</script>";
    for payload in [sqli, xss] {
        let enc: String = payload.bytes().map(|b| format!("%{b:02X}")).collect();
        let cases = vec![
            (
                "query",
                request("GET", &format!("/search?q={enc}"), &[], b""),
            ),
            (
                "form",
                request(
                    "POST",
                    "/contact",
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    format!("name=a&msg={enc}").as_bytes(),
                ),
            ),
            (
                "json",
                request(
                    "POST",
                    "/api/items",
                    &[("Content-Type", "application/json")],
                    serde_json::json!({"item": {"name": payload}})
                        .to_string()
                        .as_bytes(),
                ),
            ),
            (
                "cookie",
                request("GET", "/", &[("Cookie", &format!("session={enc}"))], b""),
            ),
            ("header", request("GET", "/", &[("Referer", payload)], b"")),
        ];
        for (place, t) in cases {
            let o = e.evaluate(&t, &mut sc);
            assert!(
                o.flagged(),
                "{payload} in {place}: score {} {:?}",
                o.score,
                o.matched_ids()
            );
        }
    }
    let o = e.evaluate(
        &request("GET", "/news/2024/city-council?page=2", &[], b""),
        &mut sc,
    );
    assert!(
        !o.flagged(),
        "benign GET: {} {:?}",
        o.score,
        o.matched_ids()
    );
    assert_eq!(o.score, 0);
}

#[test]
fn exclusions_silence_rules_and_targets() {
    let t = request(
        "GET",
        "/search?q=1%27%20UNION%20SELECT%20a%2Cb%20FROM%20users--",
        &[],
        b"",
    );
    let mut sc = CrsScratch::default();
    let base = engine(1).evaluate(&t, &mut sc);
    assert!(base.flagged());
    let mut s = CrsSettings::new(bundled());
    s.exclusions = vec![CrsExclusion {
        id: None,
        tag: Some("attack-sqli".into()),
        target: None,
    }];
    let o = CrsEngine::load(&s).expect("loads").evaluate(&t, &mut sc);
    assert!(
        o.matched_ids()
            .iter()
            .all(|id| !(942000..943000).contains(id)),
        "{:?}",
        o.matched_ids()
    );
    let mut s = CrsSettings::new(bundled());
    s.exclusions = vec![CrsExclusion {
        id: None,
        tag: Some("attack-sqli".into()),
        target: Some("ARGS:q".into()),
    }];
    let o = CrsEngine::load(&s).expect("loads").evaluate(&t, &mut sc);
    assert!(
        o.matched_ids()
            .iter()
            .all(|id| !(942000..943000).contains(id)),
        "{:?}",
        o.matched_ids()
    );
}

/// A CRS dir holding one rule file with `text`.
fn broken(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
    let f = dir.path().join("rules/REQUEST-950-TEST.conf");
    std::fs::write(&f, text).expect("write");
    let s = CrsSettings::new(dir.path());
    let e = CrsEngine::load(&s).expect_err("must fail");
    e.to_string()
        .replace(&dir.path().display().to_string(), "D")
}

#[test]
fn broken_files_name_file_and_line() {
    let ok = "SecRule ARGS \"@rx a\" \"id:1,phase:2,pass\"\n";
    assert_eq!(
        broken(&format!("{ok}SecFrobnicate On\n")),
        "D/rules/REQUEST-950-TEST.conf:2: unknown directive SecFrobnicate"
    );
    assert!(
        broken(&format!("{ok}\nSecRule ARGS \"@nope x\" \"id:2\"\n"))
            .ends_with(":3: unknown operator @nope")
    );
    assert!(broken("SecRule ARGS \"@rx a\" \\\n  \"id:2,t:nope\"\n")
        .ends_with(":1: unknown transformation nope"));
    assert!(broken("SecRule ARGS \"@rx (a\" \"id:2\"\n").contains(":1: bad regex"));
    // A bad regex in a rule above the paranoia level is still reported.
    assert!(
        broken("SecRule ARGS \"@rx (a\" \"id:2,tag:'paranoia-level/4'\"\n")
            .contains(":1: bad regex")
    );
    assert!(
        broken("SecRule ARGS \"@rx a\" \"id:2,chain\"\n").contains("inside a chain")
            || broken("SecRule ARGS \"@rx a\" \"id:2,chain\"\n").contains("ends inside a chain")
    );
}

#[test]
fn chain_setvar_skipafter_and_ctl() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
    let rules = r#"
SecRule ARGS:a "@rx ^(x+)$" "id:10,phase:1,pass,capture,chain"
    SecRule TX:1 "@streq xx" "setvar:'tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}'"
SecRule ARGS:skip "@eq 1" "id:11,phase:1,pass,nolog,skipAfter:END"
SecRule ARGS "@contains bad" "id:12,phase:1,pass,setvar:'tx.inbound_anomaly_score_pl1=+3'"
SecMarker END
SecRule ARGS:off "@eq 1" "id:13,phase:1,pass,nolog,ctl:ruleRemoveById=14"
SecRule ARGS "@contains evil" "id:14,phase:2,pass,setvar:'tx.inbound_anomaly_score_pl1=+7'"
SecAction "id:15,phase:2,pass,nolog,setvar:'tx.blocking_inbound_anomaly_score=%{tx.inbound_anomaly_score_pl1}'"
"#;
    std::fs::write(dir.path().join("rules/REQUEST-950-T.conf"), rules).expect("write");
    std::fs::write(
        dir.path().join("crs-setup.conf"),
        "SecAction \"id:900001,phase:1,pass,nolog,setvar:tx.critical_anomaly_score=5\"\n",
    )
    .expect("write");
    let e = CrsEngine::load(&CrsSettings::new(dir.path())).expect("loads");
    let mut sc = CrsScratch::default();
    let run =
        |q: &str, sc: &mut CrsScratch| e.evaluate(&request("GET", &format!("/?{q}"), &[], b""), sc);
    let o = run("a=xx", &mut sc);
    assert_eq!((o.score, o.matched_ids()), (5, vec![10]));
    assert_eq!(run("a=xxx", &mut sc).score, 0);
    assert_eq!(run("b=bad", &mut sc).score, 3);
    assert_eq!(run("b=bad&skip=1", &mut sc).score, 0);
    assert_eq!(run("b=evil", &mut sc).score, 7);
    assert_eq!(run("b=evil&off=1", &mut sc).score, 0);
    assert_eq!(run("a=xx&b=bad+evil", &mut sc).score, 15);
}

/// An engine loaded from `rules` (one rules file) and an empty `crs-setup.conf`; the
/// directory lives as long as the returned guard.
pub(crate) fn engine_from(rules: &str) -> (tempfile::TempDir, CrsEngine) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
    std::fs::write(dir.path().join("rules/REQUEST-950-T.conf"), rules).expect("write");
    std::fs::write(dir.path().join("crs-setup.conf"), "").expect("write");
    let e = CrsEngine::load(&CrsSettings::new(dir.path())).expect("loads");
    (dir, e)
}

#[test]
fn a_chain_link_sees_the_starter_matched_vars_and_setvars() {
    // 20: the link reads MATCHED_VARS of the starter (944120's shape).
    // 21: the link reads a TX variable the starter's setvar fills per match (931130's).
    // 22: the starter's setvar stays set when the chain fails (ModSecurity v3, Coraza).
    let rules = r#"
SecRule ARGS "@rx evil" "id:20,phase:1,pass,chain"
    SecRule MATCHED_VARS "@rx clone" "setvar:'tx.inbound_anomaly_score_pl1=+1'"
SecRule ARGS "@rx ^f=(\w+)$" "id:21,phase:1,pass,capture,setvar:'tx.seen_%{MATCHED_VAR_NAME}=%{tx.1}',chain"
    SecRule TX:/^seen_/ "@streq ok" "setvar:'tx.inbound_anomaly_score_pl1=+10'"
SecRule ARGS:c "@rx ." "id:22,phase:1,pass,setvar:'tx.left=1',chain"
    SecRule ARGS:c "@rx never"
SecRule TX:left "@eq 1" "id:23,phase:1,pass,setvar:'tx.inbound_anomaly_score_pl1=+100'"
SecAction "id:24,phase:2,pass,nolog,setvar:'tx.blocking_inbound_anomaly_score=%{tx.inbound_anomaly_score_pl1}'"
"#;
    let (_dir, e) = engine_from(rules);
    let mut sc = CrsScratch::default();
    let run =
        |q: &str, sc: &mut CrsScratch| e.evaluate(&request("GET", &format!("/?{q}"), &[], b""), sc);
    let o = run("x=evil.clone", &mut sc);
    assert_eq!((o.score, o.matched_ids()), (1, vec![20]));
    assert_eq!(run("x=evil", &mut sc).score, 0);
    let o = run("a=f%3Dno&b=f%3Dok", &mut sc);
    assert_eq!((o.score, o.matched_ids()), (10, vec![21]));
    assert_eq!(run("a=f%3Dno", &mut sc).score, 0);
    let o = run("c=1", &mut sc);
    assert_eq!((o.score, o.matched_ids()), (100, vec![23]));
}

#[test]
fn bundled_chains_reading_starter_results_fire() {
    let e = engine(2);
    let mut sc = CrsScratch::default();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let cases = [
        (
            944120,
            request(
                "POST",
                "/post",
                &form,
                b"test=ProcessBuilder.evil.clonetransformer",
            ),
        ),
        (
            920420,
            request(
                "POST",
                "/",
                &[("Content-Type", "my-new-content-type")],
                b"test",
            ),
        ),
        (920440, request("GET", "/get/foo.bak", &[], b"")),
        (931130, request("GET", "/get?x=file://foo.bar", &[], b"")),
    ];
    for (id, t) in cases {
        let o = e.evaluate(&t, &mut sc);
        assert!(o.matched_ids().contains(&id), "{id}: {:?}", o.matched_ids());
    }
}

#[test]
fn every_cap_is_counted_by_kind() {
    let e = engine(1);
    let mut s = CrsScratch::default();
    let long = "a".repeat(MAX_VALUE_BYTES + 10);
    let t = request("GET", "/", &[("X-Long", long.as_str())], b"");
    e.evaluate(&t, &mut s);
    let many = "x=1&".repeat(MAX_ARGS + 5);
    let t = request(
        "POST",
        "/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        many.as_bytes(),
    );
    e.evaluate(&t, &mut s);
    let mut t = request("POST", "/", &[("Content-Type", "text/plain")], b"abc");
    t.request_body_len = 1 << 20;
    e.evaluate(&t, &mut s);
    let st = e.stats();
    assert_eq!(st.evaluated, 3);
    assert_eq!(st.values_cut, 1);
    assert_eq!(st.args_dropped, 1);
    assert_eq!(st.bodies_cut, 1);
    assert_eq!(st.caps_hit, 3);
    assert_eq!(
        st.matches_dropped + st.memo_resets + st.transform_cache_full,
        0
    );
}

#[test]
fn literal_gates_skip_rules_but_not_matches() {
    // The same verdicts with gates as the attack and benign tests expect, and gates in
    // use: most links with an operator over request data carry one.
    let e = engine(1);
    let (links, gated, lits) = e.gate_counts();
    assert!(gated * 4 > links, "{gated} of {links} links gated");
    assert!(lits > gated);
    let mut s = CrsScratch::default();
    // A JSON key and a cookie name and a header: gated sources other than ARGS values.
    for (t, id) in [
        (
            request(
                "GET",
                "/",
                &[("Cookie", "<script>alert(1)</script>=1")],
                b"",
            ),
            941_100,
        ),
        (
            request(
                "POST",
                "/api",
                &[("Content-Type", "application/json")],
                br#"{"q":"1 UNION SELECT password FROM users"}"#,
            ),
            942_100,
        ),
        (request("GET", "/a/../../etc/passwd", &[], b""), 930_100),
    ] {
        let out = e.evaluate(&t, &mut s);
        assert!(
            out.matched_ids().contains(&id),
            "{id}: {:?}",
            out.matched_ids()
        );
    }
}
