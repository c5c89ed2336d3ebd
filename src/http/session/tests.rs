use super::*;
use crate::http::FileKind;
use crate::http::HttpError;
use framing::content_length;

fn ctx() -> FlowContext {
    FlowContext {
        flow_id: 1,
        client: "198.51.100.7:51234".parse().expect("addr"),
        server: "203.0.113.10:80".parse().expect("addr"),
        keep_response_bytes: crate::http::session::MAX_RESPONSE_PREFIX_BYTES,
    }
}

/// Plays a conversation of (direction, bytes) through a session and finishes it.
fn play(steps: &[(Direction, &[u8])]) -> (Vec<HttpTransaction>, HttpStats) {
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    for (i, (dir, bytes)) in steps.iter().enumerate() {
        s.on_chunk(
            *dir,
            Chunk::Data(bytes),
            Timestamp(i as i64),
            &ctx(),
            &mut out,
        );
    }
    s.finish(Timestamp(99), &ctx(), &mut out);
    (out, s.stats)
}

use Direction::{ToClient as S2C, ToServer as C2S};

#[test]
fn pairs_keep_alive_requests_with_responses() {
    let (txns, _) = play(&[
        (C2S, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
        (C2S, b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"),
        (S2C, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(txns.len(), 2);
    assert_eq!(
        (txns[0].uri(), txns[0].status(), txns[0].response_body_len),
        (Some("/a"), Some(200), 3)
    );
    assert_eq!(
        (txns[1].uri(), txns[1].status(), txns[1].trans_depth),
        (Some("/b"), Some(404), 2)
    );
}

#[test]
fn pairs_pipelined_requests_in_order() {
    let (txns, _) = play(&[
        (C2S, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 201 OK\r\nContent-Length: 2\r\n\r\nBBHTTP/1.1 202 OK\r\n"),
        (S2C, b"Content-Length: 0\r\n\r\n"),
    ]);
    let got: Vec<_> = txns
        .iter()
        .map(|t| {
            (
                t.uri().unwrap_or("-"),
                t.status().unwrap_or(0),
                t.response_body_len,
            )
        })
        .collect();
    assert_eq!(got, vec![("/1", 200, 1), ("/2", 201, 2), ("/3", 202, 0)]);
}

#[test]
fn parses_heads_split_across_segments() {
    let (txns, _) = play(&[
        (C2S, b"POST /api/x HT"),
        (C2S, b"TP/1.1\r\nContent-Le"),
        (C2S, b"ngth: 4\r\n\r"),
        (C2S, b"\nbody"),
        (S2C, b"HTTP/1.1 204 No Content\r\n\r\n"),
    ]);
    assert_eq!(txns.len(), 1);
    assert_eq!(txns[0].method(), Some("POST"));
    assert_eq!(txns[0].request_body_len, 4);
    assert_eq!(txns[0].body_prefix, b"body");
}

#[test]
fn counts_chunked_response_bodies() {
    let (txns, _) = play(&[
        (C2S, b"GET / HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
    ]);
    assert_eq!(txns[0].response_body_len, 11);
    assert!(!txns[0].flags.incomplete);
}

#[test]
fn handles_100_continue() {
    let (txns, _) = play(&[
        (
            C2S,
            b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        ),
        (S2C, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (C2S, b"abc"),
        (S2C, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(txns.len(), 1);
    assert_eq!(
        (
            txns[0].info_code,
            txns[0].status(),
            txns[0].request_body_len
        ),
        (Some(100), Some(201), 3)
    );
}

#[test]
fn refused_100_continue_body_does_not_swallow_the_next_request() {
    let (txns, _) = play(&[
        (
            C2S,
            b"PUT /shell.php HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 405 Not Allowed\r\nContent-Length: 0\r\n\r\n",
        ),
        (C2S, b"GET /next HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(txns.len(), 2);
    assert!(txns[0].flags.answered_before_body);
    assert_eq!(txns[0].method(), Some("PUT"));
    assert_eq!(txns[1].uri(), Some("/next"));
}

#[test]
fn stops_parsing_after_connect_is_accepted() {
    let (txns, stats) = play(&[
        (C2S, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 Connection established\r\n\r\n"),
        (C2S, b"\x16\x03\x01 binary tls GET / HTTP/1.1\r\n\r\n"),
        (S2C, b"\x16\x03\x03 more"),
    ]);
    assert_eq!(txns.len(), 1);
    assert!(txns[0].flags.tunnel);
    assert_eq!(stats.tunnels, 1);
}

#[test]
fn stops_parsing_after_upgrade() {
    let (txns, _) = play(&[
        (
            C2S,
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
        ),
        (C2S, b"\x81\x85garbage"),
    ]);
    assert_eq!(txns.len(), 1);
    assert_eq!(txns[0].status(), Some(101));
}

#[test]
fn http09_request_and_response_until_close() {
    let (txns, _) = play(&[(C2S, b"GET /old\r\n"), (S2C, b"<html>old</html>")]);
    assert_eq!(txns.len(), 1);
    assert_eq!(
        txns[0].request.as_ref().map(|r| r.version.as_str()),
        Some("0.9")
    );
    assert_eq!(txns[0].response_body_len, 16);
    assert_eq!(txns[0].status(), None);
}

#[test]
fn resynchronises_after_a_gap_in_a_head() {
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    let c = ctx();
    s.on_chunk(
        C2S,
        Chunk::Data(b"GET /a HTTP/1.1\r\nHo"),
        Timestamp(0),
        &c,
        &mut out,
    );
    s.on_chunk(C2S, Chunk::Gap(100), Timestamp(1), &c, &mut out);
    s.on_chunk(
        C2S,
        Chunk::Data(b"tail of lost\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        Timestamp(2),
        &c,
        &mut out,
    );
    s.finish(Timestamp(3), &c, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].uri(), Some("/b"));
    assert_eq!(s.stats.resyncs, 1);
}

/// Feeds (direction, chunk) steps; `None` bytes stand for a gap of that many bytes.
fn play_with_gaps(steps: &[(Direction, Result<&[u8], u64>)]) -> (Vec<HttpTransaction>, HttpStats) {
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    let c = ctx();
    for (i, (dir, step)) in steps.iter().enumerate() {
        let chunk = match step {
            Ok(bytes) => Chunk::Data(bytes),
            Err(n) => Chunk::Gap(*n),
        };
        s.on_chunk(*dir, chunk, Timestamp(i as i64), &c, &mut out);
    }
    s.finish(Timestamp(99), &c, &mut out);
    (out, s.stats)
}

#[test]
fn finds_a_request_that_begins_the_segment_after_a_lost_one() {
    let (out, stats) = play_with_gaps(&[
        (C2S, Ok(b"POST /a HTTP/1.1\r\nHost: x\r\nX-Big: aaaa")),
        (C2S, Err(1000)),
        (C2S, Ok(b"bbbb\r\nContent-Length: 0\r\n\r\n")),
        (S2C, Ok(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")),
        (
            C2S,
            Ok(b"GET /b?id=1%27+OR+1%3D1 HTTP/1.1\r\nHost: x\r\n\r\n"),
        ),
        (S2C, Ok(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")),
        (C2S, Ok(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")),
        (
            S2C,
            Ok(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        ),
    ]);
    let uris: Vec<_> = out.iter().map(|t| t.uri().unwrap_or("-")).collect();
    assert_eq!(uris, vec!["-", "/b?id=1%27+OR+1%3D1", "/c"]);
    assert_eq!(out[2].status(), Some(404));
    assert_eq!(stats.resyncs, 1);
    assert!(stats.resync_scan_bytes >= b"bbbb\r\nContent-Length: 0\r\n\r\n".len() as u64);
}

#[test]
fn a_chunk_that_continues_a_line_does_not_start_one() {
    // Desynchronised by garbage that ends mid-line: the next chunk continues that line,
    // so a request line there is not a message start; the one after a newline is.
    let (out, stats) = play_with_gaps(&[
        (C2S, Ok(b"\x16\x03\x01junk\r\n\r\nmore junk ")),
        (
            C2S,
            Ok(b"GET /not HTTP/1.1\r\n\r\nGET /yes HTTP/1.1\r\n\r\n"),
        ),
    ]);
    let uris: Vec<_> = out.iter().map(|t| t.uri().unwrap_or("-")).collect();
    assert_eq!(uris, vec!["/yes"]);
    assert_eq!(stats.resyncs, 1);
}

#[test]
fn a_request_line_split_over_two_segments_after_a_gap_is_found() {
    let (out, stats) = play_with_gaps(&[
        (C2S, Ok(b"GET /a HTTP/1.1\r\nHo")),
        (C2S, Err(100)),
        (C2S, Ok(b"lost tail\r\n\r\nGET /api/search?id=1%27%20OR")),
        (C2S, Ok(b"%201=1 HTTP/1.1\r\nHost: x\r\n\r\n")),
    ]);
    let uris: Vec<_> = out.iter().map(|t| t.uri().unwrap_or("-")).collect();
    assert_eq!(uris, vec!["/api/search?id=1%27%20OR%201=1"]);
    assert_eq!(stats.resyncs, 1);
}

#[test]
fn a_carried_prefix_that_is_not_a_request_is_dropped() {
    let (out, stats) = play_with_gaps(&[
        (C2S, Ok(b"POST /a HTTP/1.1\r\nHo")),
        (C2S, Err(100)),
        (C2S, Ok(b"junk\r\nP")),
        (C2S, Ok(b"ayload\r\nDELETE /x HTTP/1.1\r\n\r\n")),
    ]);
    let got: Vec<_> = out.iter().map(|t| (t.method(), t.uri())).collect();
    assert_eq!(got, vec![(Some("DELETE"), Some("/x"))]);
    assert_eq!(stats.resyncs, 1);
    assert_eq!(stats.errors.iter().sum::<u64>(), 0);
}

#[test]
fn resync_after_a_gap_in_chunked_framing_finds_the_next_request() {
    let (out, _) = play_with_gaps(&[
        (
            C2S,
            Ok(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
        ),
        (C2S, Err(200)),
        (C2S, Ok(b"DELETE /api/news/3 HTTP/1.1\r\nHost: x\r\n\r\n")),
    ]);
    let got: Vec<_> = out.iter().map(|t| (t.method(), t.uri())).collect();
    assert_eq!(
        got,
        vec![
            (Some("POST"), Some("/a")),
            (Some("DELETE"), Some("/api/news/3"))
        ]
    );
}

#[test]
fn over_cap_header_lines_are_counted() {
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..300 {
        head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let (out, stats) = play(&[(C2S, &head)]);
    assert_eq!(out.len(), 1);
    assert_eq!(
        stats.headers_dropped,
        300 - crate::http::parse::MAX_HEADERS as u64
    );
}

#[test]
fn records_multipart_uploads_with_sniffed_type() {
    let body = b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"cat.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n<?php echo 1; ?>\r\n--B--\r\n";
    let head = format!(
        "POST /permits/upload HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (txns, _) = play(&[
        (C2S, head.as_bytes()),
        (C2S, &body[..30]),
        (C2S, &body[30..]),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(txns[0].uploads.len(), 1);
    assert_eq!(txns[0].uploads[0].filename.as_deref(), Some("cat.jpg"));
    assert_eq!(txns[0].uploads[0].detected, FileKind::Php);
}

#[test]
fn unanswered_pipelining_flood_is_bounded() {
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    for i in 0..1000 {
        s.on_chunk(
            C2S,
            Chunk::Data(b"GET / HTTP/1.1\r\n\r\n"),
            Timestamp(i),
            &ctx(),
            &mut out,
        );
        assert!(s.open.len() <= MAX_OPEN_TRANSACTIONS);
    }
    assert_eq!(s.stats.forced_out, (1000 - MAX_OPEN_TRANSACTIONS) as u64);
}

#[test]
fn response_without_request_is_still_reported() {
    let (txns, _) = play(&[(
        S2C,
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno",
    )]);
    assert_eq!(txns.len(), 1);
    assert_eq!(txns[0].method(), None);
    assert_eq!(txns[0].status(), Some(400));
}

#[test]
fn rejects_conflicting_content_lengths() {
    assert_eq!(content_length(Some("5, 5")), Ok(Some(5)));
    assert_eq!(
        content_length(Some("5, 6")),
        Err(HttpError::BadContentLength)
    );
    assert_eq!(content_length(Some("-1")), Err(HttpError::BadContentLength));
}

/// The plain-digits shortcut reads what the general path reads: every length up to
/// past a u64's range (an overflow is an error, not a wrapped number).
#[test]
fn plain_digit_content_lengths_read_as_the_general_path_does() {
    let general = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| HttpError::BadContentLength)
    };
    for len in 1..=22 {
        for first in ['0', '1', '9'] {
            let v: String = std::iter::once(first)
                .chain(std::iter::repeat('9').take(len - 1))
                .collect();
            assert_eq!(content_length(Some(&v)), general(&v).map(Some), "{v}");
        }
    }
    assert_eq!(
        content_length(Some("18446744073709551615")),
        Ok(Some(u64::MAX))
    );
    assert_eq!(
        content_length(Some("18446744073709551616")),
        Err(HttpError::BadContentLength)
    );
    assert_eq!(content_length(Some("+5")), Ok(Some(5)));
    assert_eq!(content_length(Some(" 5 ")), Ok(Some(5)));
}

#[test]
fn gap_past_a_body_end_completes_the_body_and_resynchronises() {
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    let c = ctx();
    s.on_chunk(
        C2S,
        Chunk::Data(b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
        Timestamp(0),
        &c,
        &mut out,
    );
    // 7 body bytes and 20 bytes of whatever followed were never captured.
    s.on_chunk(C2S, Chunk::Gap(27), Timestamp(1), &c, &mut out);
    s.on_chunk(
        C2S,
        Chunk::Data(b"of a lost request\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        Timestamp(2),
        &c,
        &mut out,
    );
    s.finish(Timestamp(3), &c, &mut out);
    let uris: Vec<_> = out.iter().map(|t| t.uri().unwrap_or("-")).collect();
    assert_eq!(uris, vec!["/a", "/b"]);
    assert!(out[0].flags.request_gap);
    assert_eq!(out[0].request_body_len, 3);
}

/// After a request line that does not parse (no space after the method), the next
/// request is found wherever a segment boundary falls, even with a method the table
/// does not know (nginx and PHP take it): a property test found the split case lost
/// every later request on the connection.
#[test]
fn resync_finds_an_unknown_method_at_every_split() {
    let broken = b"GETE/api?q=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    let next = b"HEAE /api/search?q=1%29%20AND%202340%3D8593 HTTP/1.1\r\nHost: a\r\n\r\n";
    let c = ctx();
    for cut in 1..next.len() {
        let mut s = HttpSession::default();
        let mut out = Vec::new();
        s.on_chunk(C2S, Chunk::Data(broken), Timestamp(0), &c, &mut out);
        s.on_chunk(C2S, Chunk::Data(&next[..cut]), Timestamp(1), &c, &mut out);
        s.on_chunk(C2S, Chunk::Data(&next[cut..]), Timestamp(2), &c, &mut out);
        s.finish(Timestamp(3), &c, &mut out);
        assert_eq!(out.len(), 1, "split at {cut}");
        assert_eq!(out[0].uri(), Some("/api/search?q=1%29%20AND%202340%3D8593"));
        assert_eq!(s.stats.resyncs, 1, "split at {cut}");
    }
}

#[test]
fn an_open_request_holds_one_queue_slot_and_pipelining_still_grows_the_queue() {
    // A slow body: the request stays open. Its queue holds one slot, not the four a
    // queue allocates first (1.6 KiB a connection under a slow-body flood).
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    let head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab";
    s.on_chunk(C2S, Chunk::Data(head), Timestamp(0), &ctx(), &mut out);
    assert!(out.is_empty());
    assert_eq!((s.open.len(), s.open.capacity()), (1, 1));
    assert!(
        s.heap_bytes() < 2 * std::mem::size_of::<transaction::OpenTransaction>() + 1024,
        "{} bytes",
        s.heap_bytes()
    );
    // Pipelined requests still queue up.
    let mut p = HttpSession::default();
    p.on_chunk(
        C2S,
        Chunk::Data(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
        Timestamp(0),
        &ctx(),
        &mut out,
    );
    assert_eq!(p.open.len(), 3);
}

#[test]
fn a_conflicting_overlap_marks_the_request_being_read_or_the_next() {
    let mut s = HttpSession::default();
    let mut out = Vec::new();
    let c = ctx();
    // Inside an open body: that request.
    s.on_chunk(
        C2S,
        Chunk::Data(b"POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"),
        Timestamp(0),
        &c,
        &mut out,
    );
    s.on_chunk(C2S, Chunk::Conflict, Timestamp(0), &c, &mut out);
    s.on_chunk(C2S, Chunk::Data(b"cd"), Timestamp(0), &c, &mut out);
    // Between requests: the next one, not the finished one.
    s.on_chunk(
        C2S,
        Chunk::Data(b"GET /b HTTP/1.1\r\n\r\n"),
        Timestamp(0),
        &c,
        &mut out,
    );
    s.on_chunk(C2S, Chunk::Conflict, Timestamp(0), &c, &mut out);
    s.on_chunk(
        C2S,
        Chunk::Data(b"GET /c HTTP/1.1\r\n\r\n"),
        Timestamp(0),
        &c,
        &mut out,
    );
    s.on_chunk(
        C2S,
        Chunk::Data(b"GET /d HTTP/1.1\r\n\r\n"),
        Timestamp(0),
        &c,
        &mut out,
    );
    // A response's conflict marks no request.
    s.on_chunk(S2C, Chunk::Conflict, Timestamp(0), &c, &mut out);
    s.finish(Timestamp(1), &c, &mut out);
    let marked: Vec<_> = out
        .iter()
        .map(|t| {
            (
                t.uri().unwrap_or_default().to_owned(),
                t.flags.request_overlap_conflict,
            )
        })
        .collect();
    assert_eq!(
        marked,
        [
            ("/a".to_owned(), true),
            ("/b".to_owned(), false),
            ("/c".to_owned(), true),
            ("/d".to_owned(), false)
        ]
    );
}
