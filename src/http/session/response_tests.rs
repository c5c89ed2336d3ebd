//! Responses read the browsers' way: lenient framing, decoded bodies, counters.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;
use crate::http::content::DecodeStats;

fn ctx() -> FlowContext {
    FlowContext {
        flow_id: 1,
        client: "198.51.100.7:51234".parse().expect("addr"),
        server: "203.0.113.10:80".parse().expect("addr"),
        keep_response_bytes: crate::http::session::MAX_RESPONSE_PREFIX_BYTES,
    }
}

/// One GET answered by `response` (fed in 3-byte pieces), then the flow ends.
fn answer(response: &[u8]) -> (HttpTransaction, HttpStats) {
    answer_keeping(response, MAX_RESPONSE_PREFIX_BYTES)
}

/// The one transaction of a GET answered by `response`, keeping `keep` body bytes.
fn answer_keeping(response: &[u8], keep: usize) -> (HttpTransaction, HttpStats) {
    let mut s = HttpSession::default();
    s.keep_response_bytes(keep);
    let mut out = Vec::new();
    let get = b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n";
    s.on_chunk(
        Direction::ToServer,
        Chunk::Data(get),
        Timestamp(1),
        &ctx(),
        &mut out,
    );
    for piece in response.chunks(3) {
        s.on_chunk(
            Direction::ToClient,
            Chunk::Data(piece),
            Timestamp(2),
            &ctx(),
            &mut out,
        );
    }
    s.finish(Timestamp(3), &ctx(), &mut out);
    assert_eq!(out.len(), 1, "one transaction");
    (out.remove(0), s.stats)
}

const CHUNKED_BODY: &[u8] = b"5\r\nhello\r\n0\r\n\r\n";

fn with_head(head: &str, body: &[u8]) -> Vec<u8> {
    let mut v = head.as_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn obfuscated_transfer_encoding_is_chunked_and_counted() {
    for te in [
        "xchunked",
        "chunked,",
        "chunked;",
        "chu\0nked",
        "x chunked",
        "Chunked x",
    ] {
        let r = with_head(
            &format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}\r\n\r\n"),
            CHUNKED_BODY,
        );
        let (t, stats) = answer(&r);
        assert_eq!(t.response_body_prefix, b"hello", "{te:?}");
        assert_eq!(stats.lenient_responses, 1, "{te:?}");
    }
    let (t, stats) = answer(&with_head(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        CHUNKED_BODY,
    ));
    assert_eq!((t.response_body_len, stats.lenient_responses), (5, 0));
}

#[test]
fn transfer_encoding_below_http_1_1_is_ignored_as_chromium_does() {
    let r = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello";
    let (t, stats) = answer(r);
    assert_eq!(t.response_body_prefix, b"hello");
    assert_eq!(stats.lenient_responses, 1);
}

#[test]
fn odd_status_lines_are_read() {
    for line in [
        "http/1.1 200 ok",
        "HTTP/1.1  200 ok",
        " HTTP/1.1 200 ok",
        "HTTP/1.1\x00200\x00ok",
        "HTTP/1.1 200\0 ok",
    ] {
        let r = format!("{line}\r\nContent-Length: 5\r\n\r\nhello");
        let (t, _) = answer(r.as_bytes());
        assert_eq!(
            (t.status(), t.response_body_len),
            (Some(200), 5),
            "{line:?}"
        );
    }
}

#[test]
fn junk_around_one_content_length_number_is_read_and_two_numbers_are_not() {
    for cl in ["5,", "5A", "5.0", ",5"] {
        let r = format!("HTTP/1.1 200 OK\r\nContent-Length: {cl}\r\n\r\nhelloXXXX");
        let (t, stats) = answer(r.as_bytes());
        assert_eq!(t.response_body_len, 5, "{cl:?}");
        assert_eq!(stats.lenient_responses, 1);
    }
    let (t, _) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2 5\r\n\r\nhelloXXXX");
    assert_eq!(t.response_body_len, 9, "until close");
}

#[test]
fn chunk_sizes_with_junk_and_blank_lines_decode_as_browsers_do() {
    let body = b"\r\n 5x\r\nhello\r\n\r\n\t6\0\r\n world\r\n0\r\n\r\n";
    let r = with_head(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        body,
    );
    let (t, _) = answer(&r);
    assert_eq!(t.response_body_prefix, b"hello world");
}

/// A gzip response whose body decodes to 10,000 `a`s.
fn gzip_of_10k() -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(&[b'a'; 10_000]).expect("encode");
    let gz = e.finish().expect("encode");
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    );
    with_head(&head, &gz)
}

#[test]
fn gzip_body_is_logged_at_its_decoded_size_with_its_prefix() {
    let (t, stats) = answer(&gzip_of_10k());
    assert_eq!(t.response_body_len, 10_000);
    assert_eq!(t.response_body_prefix.len(), 10_000);
    assert_eq!(stats.decode, DecodeStats::default());
}

#[test]
fn response_prefix_is_bounded() {
    let body = vec![b'z'; MAX_RESPONSE_PREFIX_BYTES + 500];
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    let (t, _) = answer(&with_head(&head, &body));
    assert_eq!(t.response_body_len, body.len() as u64);
    assert_eq!(t.response_body_prefix.len(), MAX_RESPONSE_PREFIX_BYTES);
}

#[test]
fn truncated_gzip_at_flow_end_is_counted() {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    let data: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
    e.write_all(&data).expect("encode");
    let gz = e.finish().expect("encode");
    let half = &gz[..gz.len() / 2];
    let (t, stats) = answer(&with_head(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n",
        half,
    ));
    assert!(t.response_body_len > 0 && t.response_body_len < data.len() as u64);
    assert_eq!(stats.decode.truncated, 1);
}

#[test]
fn missing_status_code_is_200_and_a_bare_cr_ends_the_status_line() {
    for r in [
        &b"HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..],
        b"HTTP/1.1foobar\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 ok\rContent-Length: 5\r\n\r\nhelloXX",
    ] {
        let (t, _) = answer(r);
        assert_eq!((t.status(), t.response_body_len), (Some(200), 5), "{r:?}");
        assert_eq!(t.response.as_ref().map(|h| h.version.as_str()), Some("1.1"));
    }
}

#[test]
fn a_session_keeps_only_the_response_bytes_asked_for_and_still_counts_all() {
    let gzip = gzip_of_10k();
    for (keep, kept) in [(0, 0), (5, 5), (usize::MAX, 10_000)] {
        let (t, _) = answer_keeping(&gzip, keep);
        assert_eq!(t.response_body_len, 10_000, "keep {keep}");
        assert_eq!(t.response_body_prefix.len(), kept, "keep {keep}");
    }
    let chunked = with_head(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        CHUNKED_BODY,
    );
    let (t, _) = answer_keeping(&chunked, 3);
    assert_eq!(
        (t.response_body_len, t.response_body_prefix.as_slice()),
        (5, &b"hel"[..])
    );
}
