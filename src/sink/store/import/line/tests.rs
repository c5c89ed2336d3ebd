//! Reading single EVE lines: what is kept, what is trimmed, what is refused.

use super::*;

/// A line exactly as tamperwatch's event log writes it.
const LOCAL_LINE: &str = r#"{"timestamp":"2026-11-22T10:00:00.123456+0000","flow_id":7,"event_type":"alert","src_ip":"198.51.100.7","src_port":51234,"dest_ip":"203.0.113.10","dest_port":80,"proto":"TCP","alert":{"signature_id":100101,"rule":"upload.script-extension","signature":"Script file uploaded","category":"upload","severity":1},"http":{"hostname":"www.example.gov","url":"/permits/upload","http_method":"POST","status":200,"http_user_agent":"curl/8.5.0","length":0},"upload":{"filename":"shell.php","content_type":"image/jpeg","detected":"php","size":42},"evidence":".php"}"#;

#[test]
fn reads_a_local_line_untouched() {
    let l = parse_line(LOCAL_LINE).expect("valid");
    assert!(!l.trimmed);
    assert_eq!(l.source, Source::Ip("198.51.100.7".parse().expect("ip")));
    assert_eq!(
        l.alert.timestamp.to_eve(),
        "2026-11-22T10:00:00.123456+0000"
    );
    assert_eq!(l.alert.flow_id, 7);
    assert_eq!(l.alert.rule.signature_id, 100_101);
    assert_eq!(l.alert.evidence, ".php");
    assert_eq!(
        serde_json::to_string(&crate::sink::events::EveAlert::of(&l.alert)).expect("json"),
        LOCAL_LINE,
        "a line read and written again is the same line"
    );
}

#[test]
fn drops_payload_fields_and_redacts_what_is_kept() {
    let mut v: Value = serde_json::from_str(LOCAL_LINE).expect("json");
    v["http"]["url"] = "/login?user=admin&password=hunter2".into();
    v["http"]["cookie"] = "session=SECRET-COOKIE".into();
    v["http"]["authorization"] = "Basic SECRET-AUTH".into();
    v["payload"] = "SECRET-BODY".into();
    v["evidence"] = format!("{}\u{1b}[2J{}", "e".repeat(100), "SECRET-TAIL").into();
    let l = parse_line(&v.to_string()).expect("valid");
    assert!(l.trimmed);
    let http = l.alert.http.as_ref().expect("http");
    assert_eq!(http.url, "/login?user=<redacted>&password=<redacted>");
    assert!(l.alert.evidence.len() <= MAX_EVIDENCE_BYTES);
    let stored = format!("{:?}", l);
    for secret in ["SECRET", "hunter2", "\u{1b}"] {
        assert!(!stored.contains(secret), "{secret} kept: {stored}");
    }
}

#[test]
fn caps_over_long_text_fields() {
    let mut v: Value = serde_json::from_str(LOCAL_LINE).expect("json");
    v["http"]["http_user_agent"] = "u".repeat(5000).into();
    v["http"]["url"] = format!("/{}", "p".repeat(5000)).into();
    let l = parse_line(&v.to_string()).expect("valid");
    let http = l.alert.http.expect("http");
    assert_eq!(
        http.http_user_agent.map(|u| u.len()),
        Some(MAX_USER_AGENT_BYTES)
    );
    assert_eq!(http.url.len(), MAX_URL_BYTES);
    assert!(l.trimmed);
}

#[test]
fn keeps_hashed_and_truncated_sources_as_written() {
    let token = "0123456789abcdef0123456789abcdef";
    let line = LOCAL_LINE.replace("198.51.100.7", token);
    let l = parse_line(&line).expect("valid");
    assert_eq!(l.source, Source::Token(token.into()));
    let line = LOCAL_LINE.replace("198.51.100.7", "198.51.100.0");
    assert!(matches!(
        parse_line(&line).expect("valid").source,
        Source::Ip(_)
    ));
}

#[test]
fn takes_timestamps_as_written_in_any_offset() {
    let line = LOCAL_LINE.replace(
        "2026-11-22T10:00:00.123456+0000",
        "2026-11-22T12:00:00.123456+0200",
    );
    let l = parse_line(&line).expect("valid");
    assert_eq!(
        l.alert.timestamp.to_eve(),
        "2026-11-22T10:00:00.123456+0000"
    );
    // A skewed clock is not corrected: a time far in the future stays.
    let line = LOCAL_LINE.replace("2026-11-22", "2031-01-01");
    assert!(parse_line(&line)
        .expect("valid")
        .alert
        .timestamp
        .to_eve()
        .starts_with("2031-01-01"));
}

#[test]
fn reads_the_host_of_an_exported_line() {
    let line = LOCAL_LINE.replacen('{', r#"{"id":3,"host":"web-2","#, 1);
    let l = parse_line(&line).expect("valid");
    assert_eq!(l.host.as_deref(), Some("web-2"));
    assert!(!l.trimmed, "id and host are known fields");
    let bad = LOCAL_LINE.replacen('{', r#"{"host":"../etc","#, 1);
    assert_eq!(parse_line(&bad), Err(LineError::Host("../etc".into())));
}

#[test]
fn refuses_lines_that_are_not_eve_alerts() {
    type Check = fn(&LineError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("hello world", |e| matches!(e, LineError::NotJson(_))),
        ("[1,2]", |e| matches!(e, LineError::NotObject)),
        (r#"{"event_type":"stats"}"#, |e| {
            matches!(e, LineError::NotAlert(_))
        }),
        (r#"{"timestamp":"x"}"#, |e| matches!(e, LineError::Field(_))),
        (&LOCAL_LINE[..LOCAL_LINE.len() - 10], |e| {
            matches!(e, LineError::NotJson(_))
        }),
    ];
    for (line, check) in cases {
        let err = parse_line(line).expect_err(line);
        assert!(check(&err), "{line}: {err:?}");
    }
    let bad_time = LOCAL_LINE.replace("2026-11-22T10:00:00.123456+0000", "yesterday");
    assert_eq!(parse_line(&bad_time), Err(LineError::Timestamp));
    let bad_src = LOCAL_LINE.replace("198.51.100.7", "198.51.100.777");
    let err = parse_line(&bad_src).expect_err("address");
    assert_eq!(err, LineError::Address { field: "src_ip" });
    assert!(
        !err.to_string().contains("198.51"),
        "no address in a message: {err}"
    );
    let escape = LOCAL_LINE.replace(r#""alert","src_ip""#, r#""\u001b[2J","src_ip""#);
    let err = parse_line(&escape).expect_err("event type");
    assert!(matches!(err, LineError::NotAlert(_)), "{err:?}");
    assert!(!err.to_string().contains('\u{1b}'), "{err}");
    let bad_cat = LOCAL_LINE.replace("\"upload\",\"severity\"", "\"SECRET\",\"severity\"");
    let err = parse_line(&bad_cat).expect_err("category");
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

#[test]
fn names_hosts_safely() {
    assert!(valid_host("web-1.example.gov"));
    assert!(valid_host("2001:db8::1"));
    for bad in ["", "a/b", "..", "web 1", "a\nb"] {
        assert!(!valid_host(bad), "{bad:?}");
    }
    assert!(!valid_host(&"a".repeat(MAX_HOST_BYTES + 1)));
}
