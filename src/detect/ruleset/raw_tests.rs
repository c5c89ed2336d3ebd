//! Header names and values left out before extraction change no verdict: the bundled
//! rules over requests with headers of every case, with and without the filter, match
//! the same rules with the same evidence; and a browser's ordinary headers are left out.

use std::path::Path;

use crate::detect::fields::Field;
use crate::detect::fields::{FieldValues, ValueFilter};
use crate::detect::ruleset::{Hit, RuleSet};
use crate::http::HttpTransaction;

fn bundled() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let defs = crate::detect::rules::load(&dir).expect("bundled rules load");
    RuleSet::compile(defs).expect("bundled rules compile")
}

fn txn(method: &str, uri: &str, headers: &[(&str, &str)]) -> HttpTransaction {
    HttpTransaction::with_request(method, uri, headers)
}

/// (rule id, evidence, upload) of every rule that matched, with or without the filter.
fn matched(set: &RuleSet, t: &HttpTransaction, filtered: bool) -> Vec<(u32, Option<Hit>)> {
    let values = if filtered {
        FieldValues::extract_filtered(t, set.header_names(), set.fields_read(), set)
    } else {
        FieldValues::extract_for(t, set.header_names(), set.fields_read())
    };
    set.evaluate(&values)
        .into_iter()
        .map(|m| (m.rule.id, m.hit))
        .collect()
}

#[test]
fn filtered_headers_match_the_same_rules() {
    let set = bundled();
    assert!(set.raw_names.is_some(), "header names are filtered");
    assert!(set.raw_values.is_some(), "header values are filtered");
    let browser: &[(&str, &str)] = &[
        ("Host", "www.bench.test"),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0",
        ),
        ("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
        ("Cookie", "session=709d1a9d1de1560a"),
    ];
    let attacks: &[&[(&str, &str)]] = &[
        browser,
        &[("User-Agent", "() { :; }; /bin/bash -c id")],
        &[
            ("X-Api-Version", "${jndi:ldap://x/a}"),
            ("X-A", "${${LOWER:J}ndi:x}"),
        ],
        &[("Referer", "$(WHOAMI)"), ("X-B", "`CAT /etc/passwd`")],
        &[
            ("AUTHORIZATION", "Basic eA=="),
            ("Transfer-Encoding", "chunked"),
        ],
        &[("TRANSFER-ENCODING", " Chunked"), ("Content-Length", "5")],
        &[
            ("X-HTTP-Method-Override", "DELETE"),
            ("x-method-override", "PUT"),
        ],
        &[("User-Agent", "sqlmap/1.7"), ("Host", "EVIL")],
        &[("", ""), ("A", "{"), ("B", "$"), ("C", "${")],
    ];
    for headers in attacks {
        for (method, uri) in [("GET", "/"), ("POST", "/admin/x?_method=PUT")] {
            let t = txn(method, uri, headers);
            assert_eq!(
                matched(&set, &t, true),
                matched(&set, &t, false),
                "{method} {uri} {headers:?}"
            );
        }
    }
    // The attack headers do match something (the comparison is not vacuous).
    assert!(!matched(&set, &txn("GET", "/", attacks[1]), true).is_empty());
    assert!(!matched(&set, &txn("GET", "/", attacks[2]), true).is_empty());
}

#[test]
fn ordinary_browser_headers_are_left_out() {
    let set = bundled();
    for (name, value) in [
        ("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.5"),
        (
            "User-Agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
        ),
    ] {
        assert!(!set.may_hit(Field::HeaderNames, name.as_bytes()), "{name}");
        assert!(
            !set.may_hit(Field::HeaderValues, value.as_bytes()),
            "{value}"
        );
    }
    assert!(set.may_hit(Field::HeaderNames, b"Authorization"));
    assert!(set.may_hit(Field::HeaderNames, b"TRANSFER-ENCODING"));
    assert!(set.may_hit(Field::HeaderValues, b"${jndi:ldap://x}"));
    assert!(set.may_hit(Field::HeaderValues, b"() {"));
    // Fields without a raw filter keep every value.
    assert!(set.may_hit(Field::QueryValues, b"anything"));
}
