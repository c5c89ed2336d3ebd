//! When setvars run (per matching value for a link whose setvar names are macros,
//! once per rule match otherwise) and what their macros read.
use super::tests::{engine_from, request};
use super::*;

#[test]
fn setvars_with_macro_names_run_per_matching_value() {
    // 30-31: 921170/921180's shape (a count per parameter name).
    // 32: a static-name score on a rule matching two values adds once.
    // 33-34: 922150's shape (a numbered TX variable per matching value).
    let rules = r#"
SecRule ARGS_NAMES "@rx ." "id:30,phase:1,pass,nolog,setvar:'tx.count_%{MATCHED_VAR_NAME}=+1'"
SecRule TX:/^count_/ "@gt 1" "id:31,phase:1,pass,setvar:'tx.inbound_anomaly_score_pl1=+10'"
SecRule ARGS "@rx bad" "id:32,phase:1,pass,setvar:'tx.inbound_anomaly_score_pl1=+1'"
SecAction "id:33,phase:1,pass,nolog,setvar:'tx.n=0'"
SecRule ARGS:/^t/ "@rx ^(.*)$" "id:34,phase:1,pass,nolog,capture,setvar:'tx.kind_%{tx.n}=%{tx.1}',setvar:'tx.n=+1'"
SecRule TX:/^kind_/ "@streq utf-7" "id:35,phase:1,pass,setvar:'tx.inbound_anomaly_score_pl1=+100'"
SecRule ARGS "@rx worse" "id:36,phase:1,pass,setvar:'tx.%{rule.id}_seen=+1',setvar:'tx.inbound_anomaly_score_pl1=+1000'"
"#;
    let (_dir, e) = engine_from(rules);
    let mut sc = CrsScratch::default();
    let run =
        |q: &str, sc: &mut CrsScratch| e.evaluate(&request("GET", &format!("/?{q}"), &[], b""), sc);
    assert_eq!(run("a=1&a=2", &mut sc).matched_ids(), vec![31]);
    assert_eq!(run("a=1&b=2", &mut sc).score, 0);
    let o = run("x=bad&y=bad", &mut sc);
    assert_eq!((o.score, o.matched_ids()), (1, vec![32]));
    // The second value gets its own variable: the first run wrote kind_0 only.
    let o = run("t1=utf-8&t2=utf-7", &mut sc);
    assert_eq!((o.score, o.matched_ids()), (100, vec![35]));
    assert_eq!(run("t1=utf-8&t2=utf-8", &mut sc).score, 0);
    // A name fixed per rule (`%{rule.id}`): the score still adds once.
    assert_eq!(run("x=worse&y=worse", &mut sc).score, 1000);
}

#[test]
fn a_macro_reads_a_collection_member() {
    // 920650's shape: the method compared with `%{ARGS._method}`.
    let rules = r#"
SecRule REQUEST_METHOD "!@streq %{ARGS._method}" "id:40,phase:2,pass,t:lowercase,setvar:'tx.inbound_anomaly_score_pl1=+5'"
"#;
    let (_dir, e) = engine_from(rules);
    let mut sc = CrsScratch::default();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let mut run = |body: &[u8]| {
        e.evaluate(&request("POST", "/", &form, body), &mut sc)
            .score
    };
    assert_eq!(run(b"_method=post"), 0);
    assert_eq!(run(b"_METHOD=post"), 0, "names compare without case");
    assert_eq!(run(b"_method=delete"), 5);
    assert_eq!(run(b"other=post"), 5, "no member: empty");
}
