//! Tests of `bodyproc.rs`.
use super::*;
use crate::detect::crs::tests::request;
use crate::detect::crs::MAX_VALUE_BYTES;

fn build(ct: &str, body: &[u8]) -> Request {
    let t = request("POST", "/", &[("Content-Type", ct)], body);
    let mut r = Request::default();
    r.build_phase1(&t);
    build_phase2(&mut r, &t, None);
    r
}

fn args(r: &Request) -> Vec<(String, String)> {
    r.args_post
        .as_slice()
        .iter()
        .map(|k| {
            (
                String::from_utf8_lossy(&k.name).into_owned(),
                String::from_utf8_lossy(&k.value).into_owned(),
            )
        })
        .collect()
}

#[test]
fn json_leaves_become_dotted_args() {
    let r = build(
        "application/json",
        br#"{"a":{"b":"x","c":[1,true]},"d":null}"#,
    );
    assert_eq!(r.processor, Processor::Json);
    assert_eq!(
        args(&r),
        vec![
            ("json.a.b".into(), "x".into()),
            ("json.a.c.0".into(), "1".into()),
            ("json.a.c.1".into(), "true".into()),
            ("json.d".into(), "".into()),
        ]
    );
    assert!(!r.reqbody_error);
    assert!(build("application/json", b"{broken").reqbody_error);
}

#[test]
fn multipart_fields_files_and_part_headers() {
    let body = b"--B\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nhello\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n--B--\r\n";
    let r = build("multipart/form-data; boundary=B", body);
    assert_eq!(args(&r), vec![("t".into(), "hello".into())]);
    assert_eq!(r.files.as_slice()[0].name, b"f");
    assert_eq!(r.files.as_slice()[0].value, b"a.php");
    assert_eq!(r.files_combined, 5);
    assert_eq!(r.part_headers.len(), 3);
    // Each part's header lines under the part's name (`MULTIPART_PART_HEADERS:f`).
    let names: Vec<&[u8]> = r
        .part_headers
        .as_slice()
        .iter()
        .map(|kv| &kv.name[..])
        .collect();
    assert_eq!(names, vec![&b"t"[..], b"f", b"f"]);
    // A long name is cut in each line's copy.
    let long = "n".repeat(1000);
    let body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"{long}\"\r\nX: 1\r\n\r\nv\r\n--B--\r\n"
    );
    let r = build("multipart/form-data; boundary=B", body.as_bytes());
    assert_eq!(r.part_headers.len(), 2);
    assert!(r
        .part_headers
        .as_slice()
        .iter()
        .all(|kv| kv.name == long.as_bytes()[..64]));
}

#[test]
fn xml_text_without_entity_expansion() {
    let r = build(
        "application/xml",
        b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a k=\"v\">hi &e;<![CDATA[<b>]]></a>",
    );
    assert_eq!(r.processor, Processor::Xml);
    let v = &r.xml.as_slice()[0].value;
    assert!(
        memchr::memmem::find(v, b"hi &e;").is_some(),
        "{}",
        String::from_utf8_lossy(v)
    );
    assert!(memchr::memmem::find(v, b"<b>").is_some());
    assert!(memchr::memmem::find(v, b"root:").is_none());
}

/// The values of `r`'s XML pool under `name`.
fn xml_values(r: &Request, name: &[u8]) -> Vec<String> {
    r.xml
        .as_slice()
        .iter()
        .filter(|kv| kv.name == name)
        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
        .collect()
}

#[test]
fn xml_attributes_are_their_own_values_not_the_text() {
    let r = build(
        "text/xml",
        b"<q id='1 OR 1=1' x=\"1>0 or 1=1\"><?pi a=\"no\"?>t<b c=\"\"/>u</q>",
    );
    assert_eq!(xml_values(&r, b"/*"), vec!["tu".to_string()]);
    assert_eq!(
        xml_values(&r, b"//@*"),
        vec!["1 OR 1=1".to_string(), "1>0 or 1=1".into(), String::new()]
    );
}

#[test]
fn xml_text_keeps_its_spaces_and_skips_comments() {
    let r = build(
        "application/xml",
        b"<?xml version=\"1.0\"?>\n<r>\n <a>1 OR </a><!-- x > y --><b>1=1</b>\n</r>\n",
    );
    assert_eq!(xml_values(&r, b"/*"), vec!["1 OR 1=1".to_string()]);
    assert!(!r.reqbody_error);
}

#[test]
fn xml_declarations_and_instructions_end_where_a_parser_ends_them() {
    // Each hides `' OR 1=1--` from a reader that ends them at the first `>`.
    for body in [
        &b"<r><?x > <!-- ?>' OR 1=1--<!-- --></r>"[..],
        b"<!DOCTYPE r SYSTEM \"a> <!--\"><r>' OR 1=1--<!-- --></r>",
        b"<!DOCTYPE r [<!ENTITY e \"> <!--\"><!-- ]> ' -->]><r>' OR 1=1--<!-- --></r>",
        b"\xEF\xBB\xBF<r>' OR 1=1--</r>",
    ] {
        let r = build("application/xml", body);
        assert_eq!(
            xml_values(&r, b"/*").first().map(String::as_str),
            Some("' OR 1=1--"),
            "{}",
            String::from_utf8_lossy(body)
        );
        assert!(!r.reqbody_error, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn internal_entity_values_are_inspected_never_expanded() {
    let r = build(
        "application/xml",
        b"<!DOCTYPE r [<!ENTITY p \"' OR 1=1&#45;-\"><!ENTITY % q \"pe\"><!ENTITY s SYSTEM \"file:///etc/passwd\">]><r>&p;&s;</r>",
    );
    assert_eq!(
        xml_values(&r, b"/*"),
        vec!["&p;&s;".to_string(), "' OR 1=1--".into()]
    );
    assert!(xml_values(&r, b"//@*").is_empty());
}

#[test]
fn long_xml_text_is_inspected_in_overlapping_windows() {
    let pad = "a ".repeat(MAX_VALUE_BYTES);
    let body = format!("<r>{pad}' OR 1=1--</r>");
    let r = build("application/xml", body.as_bytes());
    let texts = xml_values(&r, b"/*");
    assert!(texts.len() > 1);
    assert!(texts.iter().all(|t| t.len() <= MAX_VALUE_BYTES));
    assert!(texts.last().expect("windows").ends_with("' OR 1=1--"));
}

#[test]
fn xml_attributes_past_the_cap_join_the_last_value() {
    let mut body = b"<a".to_vec();
    for i in 0..MAX_ARGS + 2 {
        body.extend_from_slice(format!(" k{i}=\"v{i}\"").as_bytes());
    }
    body.extend_from_slice(b" z=\"' or 1=1--\"/>");
    let r = build("application/xml", &body);
    let attrs = xml_values(&r, b"//@*");
    assert_eq!(attrs.len(), MAX_ARGS);
    let last = attrs.last().expect("values");
    assert!(last.ends_with(" ' or 1=1--"), "{last}");
    assert!(last.starts_with(&format!("v{} ", MAX_ARGS - 1)), "{last}");
}

#[test]
fn urlencoded_body_and_truncation_is_counted() {
    let r = build("application/x-www-form-urlencoded", b"a=1&b=%3Cx%3E");
    assert_eq!(
        args(&r),
        vec![("a".into(), "1".into()), ("b".into(), "<x>".into())]
    );
    let mut t = request("POST", "/", &[("Content-Type", "text/plain")], b"abc");
    t.request_body_len = 1 << 20;
    let mut r = Request::default();
    r.build_phase1(&t);
    build_phase2(&mut r, &t, None);
    assert_eq!(r.caps.body_cut, 1);
    assert_eq!(r.caps.total(), 1);
}

proptest::proptest! {
    /// Any body, under any processor's Content-Type, is read without a panic, and the
    /// XML values stay within the caps (one `/*` value, at most `MAX_ARGS` attributes).
    #[test]
    fn any_body_is_read_without_panic(
        body in proptest::collection::vec(
            proptest::sample::select(b"<>/!?-[]&#;x3c'\"= \nCDATA".to_vec()),
            0..200,
        ),
        ct in proptest::sample::select(vec![
            "application/xml",
            "application/json",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
        ]),
    ) {
        let r = build(ct, &body);
        proptest::prop_assert!(xml_values(&r, b"/*").len() <= 1);
        proptest::prop_assert!(xml_values(&r, b"//@*").len() <= MAX_ARGS);
    }
}
