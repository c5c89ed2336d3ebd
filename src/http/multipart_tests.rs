//! Tests of `multipart.rs`.
use super::super::filetype::FileKind;
use super::*;

const BODY: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shell.php.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n<?php system($_GET['c']); ?>\r\n--XyZ--\r\n";

fn parse_in_pieces(piece: usize) -> Vec<UploadPart> {
    let mut p =
        MultipartParser::from_content_type("multipart/form-data; boundary=XyZ").expect("boundary");
    let mut parts = Vec::new();
    for chunk in BODY.chunks(piece) {
        p.feed(chunk, &mut parts);
    }
    p.finish(&mut parts);
    parts
}

#[test]
fn reads_field_names_filenames_types_and_sniffs_content() {
    let parts = parse_in_pieces(BODY.len());
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].field_name.as_deref(), Some("title"));
    assert_eq!(parts[0].size, 5);
    assert_eq!(parts[1].filename.as_deref(), Some("shell.php.jpg"));
    assert_eq!(parts[1].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(parts[1].detected, FileKind::Php);
}

#[test]
fn same_result_when_split_at_every_byte() {
    let whole = parse_in_pieces(BODY.len());
    for piece in [1, 2, 3, 7] {
        assert_eq!(parse_in_pieces(piece), whole, "piece size {piece}");
    }
}

#[test]
fn quoted_boundary_and_missing_boundary() {
    assert!(MultipartParser::from_content_type("multipart/form-data; boundary=\"a b\"").is_some());
    assert!(MultipartParser::from_content_type("multipart/form-data").is_none());
    assert!(MultipartParser::from_content_type("text/plain; boundary=x").is_none());
}

fn parse_whole(content_type: &str, body: &[u8]) -> Vec<UploadPart> {
    let mut parts = Vec::new();
    for mut p in MultipartParser::all_from_content_type(content_type) {
        p.feed(body, &mut parts);
        p.finish(&mut parts);
    }
    parts
}

#[test]
fn bare_lf_line_ends_are_read_like_crlf() {
    let crlf = parse_in_pieces(BODY.len());
    let lf: Vec<u8> = String::from_utf8_lossy(BODY)
        .replace("\r\n", "\n")
        .into_bytes();
    let parts = parse_whole("multipart/form-data; boundary=XyZ", &lf);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].filename, crlf[1].filename);
    assert_eq!(parts[1].detected, FileKind::Php);
    assert_eq!(parts[0].size, 5);
}

#[test]
fn crlf_content_keeps_its_exact_size_when_split_before_the_cr() {
    let whole = parse_in_pieces(BODY.len());
    let cr_at = memchr::memmem::find(BODY, b"hello\r\n").expect("content") + 5;
    let mut p =
        MultipartParser::from_content_type("multipart/form-data; boundary=XyZ").expect("boundary");
    let mut parts = Vec::new();
    p.feed(&BODY[..cr_at], &mut parts);
    p.feed(&BODY[cr_at..], &mut parts);
    p.finish(&mut parts);
    assert_eq!(parts, whole);
}

#[test]
fn rfc5987_filename_star_is_a_filename() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''shell.php\r\n\r\n<?php ?>\r\n--b--\r\n";
    let parts = parse_whole("multipart/form-data; boundary=b", body);
    assert_eq!(parts[0].filename.as_deref(), Some("shell.php"));
}

#[test]
fn two_filenames_are_both_kept_and_flagged_when_extensions_differ() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.pdf\"; filename=\"a.php\"\r\n\r\n%PDF-\r\n--b--\r\n";
    let parts = parse_whole("multipart/form-data; boundary=b", body);
    let names: Vec<_> = parts[0].filenames().collect();
    assert_eq!(names, vec!["a.pdf", "a.php"]);
    assert!(parts[0].ambiguous_filename);
    let same = b"--b\r\nContent-Disposition: form-data; filename=\"a.pdf\"; filename*=UTF-8''a.pdf\r\n\r\nx\r\n--b--\r\n";
    let parts = parse_whole("multipart/form-data; boundary=b", same);
    assert!(parts[0].alt_filenames.is_empty() && !parts[0].ambiguous_filename);
}

#[test]
fn quoted_semicolons_and_single_quotes_in_filenames() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"shell;.php\"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name='g'; filename='permit.pdf'\r\n\r\n%PDF-\r\n--b--\r\n";
    let parts = parse_whole("multipart/form-data; boundary=b", body);
    assert_eq!(parts[0].filename.as_deref(), Some("shell;.php"));
    assert_eq!(parts[1].filename.as_deref(), Some("permit.pdf"));
    assert_eq!(parts[1].field_name.as_deref(), Some("g"));
}

#[test]
fn a_decoy_boundary_parameter_is_a_second_reading_not_the_first() {
    let (readings, ambiguous) =
        boundary_readings("multipart/form-data; xboundary=decoy; boundary=real");
    assert_eq!(readings, vec!["real", "decoy"]);
    assert!(ambiguous);
    let (readings, _) = boundary_readings("multipart/form-data; PHPboundaryPHP=php; boundary=waf");
    assert_eq!(readings, vec!["waf", "php"]);
    let (readings, ambiguous) = boundary_readings("multipart/form-data; BOUNDARY=B");
    assert_eq!(readings, vec!["B"]);
    assert!(!ambiguous);
    let (readings, ambiguous) = boundary_readings("multipart/form-data; boundary=\"a;b\"");
    assert_eq!(readings, vec!["a;b"]);
    assert!(!ambiguous);
    let body = b"--real\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\n\r\n<?php ?>\r\n--real--\r\n";
    let parts = parse_whole("multipart/form-data; xboundary=decoy; boundary=real", body);
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].filename.as_deref(), Some("x.php"));
}

#[test]
fn script_after_256_bytes_of_padding_is_sniffed() {
    let mut body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.jpg\"\r\n\r\n\xFF\xD8\xFF\xE0".to_vec();
    body.extend(std::iter::repeat(b'A').take(3000));
    body.extend_from_slice(b"<?php system($_GET['c']); ?>\r\n--b--\r\n");
    let parts = parse_whole("multipart/form-data; boundary=b", &body);
    assert_eq!(parts[0].detected, FileKind::Php);
}

#[test]
fn thousands_of_parts_are_bounded() {
    let mut body = Vec::new();
    for i in 0..5000 {
        body.extend_from_slice(
            format!("--b\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(b"--b--\r\n");
    let mut p =
        MultipartParser::from_content_type("multipart/form-data; boundary=b").expect("boundary");
    let mut parts = Vec::new();
    p.feed(&body, &mut parts);
    assert_eq!(parts.len(), MAX_PARTS);
    assert_eq!(p.parts_dropped, 5000 - MAX_PARTS as u64);
}
