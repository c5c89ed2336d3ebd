//! Tests of `collections.rs`.
use super::*;

#[test]
fn urlencoded_decodes_and_caps_count() {
    let mut p = Pool::default();
    let mut s = Vec::new();
    let caps = parse_urlencoded(b"a=1+2&b=%27x&&c", &mut p, &mut s, 0);
    assert_eq!(caps, CapCounts::default());
    let v: Vec<_> = p
        .as_slice()
        .iter()
        .map(|k| (k.name.clone(), k.value.clone()))
        .collect();
    assert_eq!(v[0], (b"a".to_vec(), b"1 2".to_vec()));
    assert_eq!(v[1], (b"b".to_vec(), b"'x".to_vec()));
    assert_eq!(v[2], (b"c".to_vec(), b"".to_vec()));
    p.clear();
    let many = "x=1&".repeat(MAX_ARGS + 3);
    assert_eq!(
        parse_urlencoded(many.as_bytes(), &mut p, &mut s, 0).args_dropped,
        1
    );
    assert_eq!(p.len(), MAX_ARGS);
}

#[test]
fn request_filename_and_basename_are_the_decoded_path() {
    let t = crate::detect::crs::tests::request(
        "GET",
        "/get/subSTR%28%24x%29/a%5Cb%2Ephp?q=%28",
        &[],
        b"",
    );
    let mut r = Request::default();
    r.build_phase1(&t);
    assert_eq!(r.filename, b"/get/subSTR($x)/a\\b.php");
    // The last `/` or `\\`, as libmodsecurity and Coraza cut it.
    assert_eq!(r.basename, b"b.php");
    assert_eq!(r.query, b"q=%28");
}
