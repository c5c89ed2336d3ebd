//! Reused outcome buffers and ctl targets parsed at load: a transaction judged with the
//! last one's recycled match list and evidence buffers gets exactly what a fresh
//! scratch gives, so no evidence, match or target removal carries over.

use super::model::{Ctl, SelectorSpec, Var};
use super::tests::{bundled, request};
use super::*;

fn engine() -> CrsEngine {
    CrsEngine::load(&CrsSettings::new(bundled())).expect("bundled CRS loads")
}

#[test]
fn recycled_buffers_give_what_a_fresh_scratch_gives() {
    let e = engine();
    // Attacks with long evidence, a benign GET (941010's target removal, no score),
    // and attacks with shorter evidence after the long ones.
    let sequence = [
        request(
            "GET",
            "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
            &[],
            b"",
        ),
        request("GET", "/about/contact.html", &[], b""),
        request(
            "GET",
            "/item?id=1%27%20UNION%20SELECT%20password%20FROM%20users--",
            &[],
            b"",
        ),
        request("GET", "/files?name=../../../../etc/passwd", &[], b""),
        request("GET", "/", &[], b""),
        request(
            "POST",
            "/comment",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"text=<svg/onload=alert(1)>",
        ),
        request("GET", "/x?a=1", &[], b""),
    ];
    let mut reused = CrsScratch::default();
    let mut with_matches = 0;
    for round in 0..3 {
        for (i, txn) in sequence.iter().enumerate() {
            let fresh = e.evaluate(txn, &mut CrsScratch::default());
            let again = e.evaluate(txn, &mut reused);
            assert_eq!(again, fresh, "round {round}, transaction {i}");
            with_matches += usize::from(again.matched.iter().any(|m| m.logged));
            reused.recycle(again);
        }
    }
    // The sequence exercises the buffers: attacks matched and left spares behind.
    assert!(
        with_matches >= 3 * 4,
        "{with_matches} transactions with logged matches"
    );
    // What the next transaction starts from: the last list, emptied, its room kept.
    let spare = reused.take_matched();
    assert!(
        spare.is_empty() && spare.capacity() > 0,
        "{}",
        spare.capacity()
    );
}

#[test]
fn target_removals_are_parsed_once_at_load() {
    let ctl = Ctl::parse("ruleRemoveTargetByTag=xss-perf-disable;REQUEST_FILENAME").expect("ctl");
    let Ctl::RuleRemoveTargetByTag(tag, targets) = ctl else {
        panic!("not a tag removal: {ctl:?}");
    };
    assert_eq!(&*tag, "xss-perf-disable");
    assert_eq!(targets.text, "REQUEST_FILENAME");
    assert_eq!(targets.specs.len(), 1);
    assert_eq!(targets.specs[0].var, Var::RequestFilename);
    assert_eq!(targets.specs[0].selector, None);

    let ctl = Ctl::parse("ruleRemoveTargetById=942100;ARGS:Password").expect("ctl");
    let Ctl::RuleRemoveTargetById(942100, targets) = ctl else {
        panic!("not an id removal: {ctl:?}");
    };
    assert_eq!(targets.specs[0].var, Var::Args);
    assert_eq!(
        targets.specs[0].selector,
        Some(SelectorSpec::Name("password".into()))
    );
    // A target that does not parse removes nothing, as before.
    let ctl = Ctl::parse("ruleRemoveTargetById=942100;NO_SUCH_VARIABLE").expect("ctl");
    let Ctl::RuleRemoveTargetById(_, targets) = ctl else {
        panic!("not an id removal: {ctl:?}");
    };
    assert!(targets.specs.is_empty());
}
