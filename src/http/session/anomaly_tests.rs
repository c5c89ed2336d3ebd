//! Response anomalies: each leniency applied to a response is read as browsers read
//! it and counted under its own kind in [`ResponseAnomalies`]. And the bad
//! response input (decompression bombs, endless chunk extensions, codings nested past
//! the limit, truncated gzip): bounded, counted, never a panic.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;
use crate::http::body::MAX_CHUNK_LINE_BYTES;
use crate::http::content::{MAX_CONTENT_LAYERS, MAX_DECODED_BYTES, MAX_DECODE_RATIO};
use crate::http::HttpError;

fn ctx() -> FlowContext {
    FlowContext {
        flow_id: 1,
        client: "198.51.100.7:51234".parse().expect("addr"),
        server: "203.0.113.10:80".parse().expect("addr"),
        keep_response_bytes: crate::http::session::MAX_RESPONSE_PREFIX_BYTES,
    }
}

/// `requests` GETs, answered by `response` (fed in 2-byte pieces), then the flow ends.
fn exchange(requests: usize, response: &[u8]) -> (Vec<HttpTransaction>, HttpStats) {
    exchange_in(requests, response, 2)
}

/// As [`exchange`], the response fed in `piece`-byte pieces.
fn exchange_in(
    requests: usize,
    response: &[u8],
    piece: usize,
) -> (Vec<HttpTransaction>, HttpStats) {
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    for _ in 0..requests {
        let get = b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n";
        s.on_chunk(
            Direction::ToServer,
            Chunk::Data(get),
            Timestamp(1),
            &ctx(),
            &mut out,
        );
    }
    for piece in response.chunks(piece) {
        s.on_chunk(
            Direction::ToClient,
            Chunk::Data(piece),
            Timestamp(2),
            &ctx(),
            &mut out,
        );
    }
    s.finish(Timestamp(3), &ctx(), &mut out);
    (out, s.stats)
}

fn answer(response: &[u8]) -> (HttpTransaction, ResponseAnomalies) {
    let (mut out, stats) = exchange(1, response);
    assert_eq!(out.len(), 1, "one transaction");
    (out.remove(0), stats.response_anomalies)
}

#[test]
fn a_bare_cr_ends_a_head_line_as_chromium_reads_it() {
    let (t, a) = answer(
        b"HTTP/1.1 200 ok\r\nX: y\rTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(t.response_body_prefix, b"hello");
    assert_eq!(a.bare_cr_line_end, 1);
    assert_eq!(a.lenient_status_line, 0);
    // `Transfer-Encoding: \rchunked` is an empty value for both browsers: raw body.
    let (t, a) = answer(b"HTTP/1.1 200 ok\r\nTransfer-Encoding: \rchunked\r\n\r\nhello");
    assert_eq!((t.response_body_len, a.te_obfuscated), (5, 0));
    // Every line ended by a bare CR, the head by CRLF LF (HTTP Evader case 402).
    let (t, a) =
        answer(b"HTTP/1.1 200 ok\rTransfer-Encoding: chunked\r\n\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(
        (t.response_body_prefix.as_slice(), a.bare_cr_line_end),
        (&b"hello"[..], 1)
    );
}

#[test]
fn odd_status_lines_are_counted() {
    let (t, a) =
        answer(b"HTTP/1\0.1 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(t.response_body_prefix, b"hello", "NUL dropped: HTTP/1.1");
    assert_eq!(a.lenient_status_line, 1);
    let (t, a) = answer(b" \rHTTP/1.1 200 ok\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!((t.response_body_len, a.lenient_status_line), (5, 1));
    let (_, a) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(a, ResponseAnomalies::default(), "a well-formed reply");
}

#[test]
fn framing_leniencies_are_counted_by_kind() {
    let (_, a) =
        answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!((a.te_obfuscated, a.te_below_http11), (1, 0));
    let (_, a) = answer(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nhello");
    assert_eq!((a.te_obfuscated, a.te_below_http11), (0, 1));
    let (t, a) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5A\r\n\r\nhelloXX");
    assert_eq!((t.response_body_len, a.odd_content_length), (5, 1));
}

#[test]
fn a_first_reply_without_status_line_is_an_http09_body() {
    let (t, a) = answer(b"X5O!P%@AP[4 no status line here");
    assert_eq!(t.response_body_prefix, b"X5O!P%@AP[4 no status line here");
    assert!(t.flags.headless_response);
    assert_eq!(a.http09_response, 1);
}

#[test]
fn junk_lines_before_a_status_line_are_skipped_not_read_as_http09() {
    let (t, a) = answer(b" \r\n\t\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!((t.status(), t.response_body_len), (Some(200), 5));
    assert_eq!(a.http09_response, 0);
}

#[test]
fn junk_after_a_first_reply_is_not_http09() {
    let (out, stats) = exchange(
        2,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiGARBAGE bytes",
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].response_body_len, 2);
    assert!(out[1].response.is_none() && !out[1].flags.headless_response);
    assert_eq!(stats.response_anomalies.http09_response, 0);
    assert_eq!(stats.errors[HttpError::BadStatusLine.index()], 1);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("encode");
    e.finish().expect("encode")
}

fn with_head(head: &str, body: &[u8]) -> Vec<u8> {
    let mut v = head.as_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn a_decompression_bomb_is_capped_and_counted() {
    let bomb = gzip(&vec![0u8; 32 * 1024 * 1024]);
    let r = with_head(
        &format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            bomb.len()
        ),
        &bomb,
    );
    let (mut out, stats) = exchange(1, &r);
    let t = out.remove(0);
    assert!(
        t.response_body_len <= MAX_DECODED_BYTES,
        "{}",
        t.response_body_len
    );
    assert!(t.response_body_prefix.len() <= MAX_RESPONSE_PREFIX_BYTES);
    assert_eq!(stats.decode.bomb_capped, 1);
    assert!(!t.flags.incomplete, "the framing still ends the response");
}

#[test]
fn an_endless_chunk_extension_ends_the_body_and_is_counted() {
    let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=".to_vec();
    r.extend(std::iter::repeat(b'a').take(100 * MAX_CHUNK_LINE_BYTES));
    r.extend_from_slice(b"\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    let (out, stats) = exchange(2, &r);
    assert_eq!(stats.errors[HttpError::BadChunkSize.index()], 1);
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0].response_body_len, 0,
        "no byte of the extension is body"
    );
    assert_eq!(
        out[1].response_body_prefix, b"hi",
        "the next reply is found again"
    );
}

#[test]
fn codings_nested_past_the_limit_are_counted_and_left_encoded() {
    let mut body = b"hello".to_vec();
    for _ in 0..=MAX_CONTENT_LAYERS {
        body = gzip(&body);
    }
    let codings = ["gzip"; MAX_CONTENT_LAYERS + 1];
    let r = with_head(
        &format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: {}\r\nContent-Length: {}\r\n\r\n",
            codings.join(", "),
            body.len()
        ),
        &body,
    );
    let (mut out, stats) = exchange(1, &r);
    let t = out.remove(0);
    assert_eq!(stats.decode.layers_over_limit, 1);
    assert_eq!(
        t.response_body_prefix,
        gzip(b"hello"),
        "the innermost layer is left"
    );
}

#[test]
fn gzip_cut_by_its_content_length_is_counted_as_truncated() {
    let data: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let gz = gzip(&data);
    let half = &gz[..gz.len() / 2];
    let r = with_head(
        &format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            half.len()
        ),
        half,
    );
    let (mut out, stats) = exchange(1, &r);
    let t = out.remove(0);
    assert!(t.response_body_len > 0 && t.response_body_len < data.len() as u64);
    assert_eq!(stats.decode.truncated, 1);
    assert!(!t.flags.incomplete);
}

#[test]
fn every_leniency_reads_the_same_however_the_reply_is_split() {
    let replies: [&[u8]; 6] = [
        b"HTTP/1.1 200 ok\rTransfer-Encoding: chunked\r\n\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1\0.1 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b" \rhttp/1.1 200 ok\r\nContent-Length: 5\r\n\r\nhello",
        b"hello, no status line at all",
        b"SIP/2.0 200 ok\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ];
    for reply in replies {
        let (whole, whole_stats) = exchange_in(1, reply, reply.len());
        assert_eq!(whole.len(), 1);
        assert!(
            whole[0].response_body_prefix.starts_with(b"hello"),
            "{reply:?}"
        );
        for piece in 1..=9 {
            let (split, stats) = exchange_in(1, reply, piece);
            assert_eq!(
                split[0].response_body_prefix, whole[0].response_body_prefix,
                "{reply:?} in {piece}-byte pieces"
            );
            assert_eq!(stats.response_anomalies, whole_stats.response_anomalies);
        }
    }
}

#[test]
fn a_keep_alive_run_of_small_bombs_cannot_add_up() {
    use crate::http::content::{FLOW_RATIO_GRACE_BYTES, RATIO_GRACE_BYTES};
    // Each bomb is within its own response's grace (1 MiB decoded from about 1 KiB);
    // together they would inflate far past the flow's grace.
    let bomb = gzip(&vec![0u8; RATIO_GRACE_BYTES as usize]);
    let one = with_head(
        &format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            bomb.len()
        ),
        &bomb,
    );
    // Each takes its grace less its ratio share from the flow's grace.
    let excess = RATIO_GRACE_BYTES - bomb.len() as u64 * MAX_DECODE_RATIO;
    let replies = (FLOW_RATIO_GRACE_BYTES / excess) as usize + 6;
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    for _ in 0..replies {
        let get = b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n";
        s.on_chunk(
            Direction::ToServer,
            Chunk::Data(get),
            Timestamp(1),
            &ctx(),
            &mut out,
        );
        s.on_chunk(
            Direction::ToClient,
            Chunk::Data(&one),
            Timestamp(2),
            &ctx(),
            &mut out,
        );
    }
    s.finish(Timestamp(3), &ctx(), &mut out);
    let stats = s.stats;
    assert_eq!(out.len(), replies);
    assert_eq!(
        out[0].response_body_len, RATIO_GRACE_BYTES,
        "the first is whole"
    );
    let last = out[replies - 1].response_body_len;
    assert!(
        last <= bomb.len() as u64 * MAX_DECODE_RATIO,
        "only the ratio is left"
    );
    let total: u64 = out.iter().map(|t| t.response_body_len).sum();
    let encoded = (bomb.len() * replies) as u64;
    assert!(total <= FLOW_RATIO_GRACE_BYTES + encoded * MAX_DECODE_RATIO);
    assert!(stats.decode.bomb_capped >= 1);
}
