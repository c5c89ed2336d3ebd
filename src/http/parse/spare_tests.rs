//! Spare heads: reuse leaves nothing of the last head, every head in flight finds a
//! spare, and what is kept stays within its caps.

use super::*;
use crate::http::parse::{parse_request_head, parse_response_head};

const LONG_HEAD: &[u8] = b"POST /a/b?c=1 HTTP/1.1\r\nHost: www.example.gov\r\nUser-Agent: curl/8\r\nAccept: */*\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n";

#[test]
fn a_reused_head_holds_only_the_new_message() {
    let first = parse_request_head(LONG_HEAD).expect("head");
    let buffer = first.headers.as_ptr();
    drop(first);
    assert_eq!(kept(HeadKind::Request).0, 1, "the list was not given back");
    let second =
        parse_request_head(b"GET /x HTTP/1.0\r\nX-A: \xffv\r\nHost: h\r\n\r\n").expect("head");
    // The same list, refilled: nothing of the first head is left in it.
    assert_eq!(second.headers.as_ptr(), buffer);
    assert_eq!(
        (
            second.method.as_str(),
            second.uri.as_str(),
            second.version.as_str()
        ),
        ("GET", "/x", "1.0")
    );
    let headers: Vec<(&str, &str)> = second
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(headers, vec![("X-A", "\u{fffd}v"), ("Host", "h")]);
}

#[test]
fn values_of_a_valid_head_are_its_own_text() {
    let head = "GET / HTTP/1.1\r\nX-Name: Zoë Ünal\r\nHost: h\r\n\r\n";
    let req = parse_request_head(head.as_bytes()).expect("head");
    assert_eq!(req.header("x-name"), Some("Zoë Ünal"));
    // A slice is text of the head only where it lies in the head.
    let text = "abc";
    assert_eq!(text_of(text, &text.as_bytes()[1..]), Some("bc"));
    let elsewhere = *b"bc";
    assert_eq!(text_of(text, &elsewhere), None);
    // Inside the head but not on character boundaries.
    let accented = "é";
    assert_eq!(text_of(accented, &accented.as_bytes()[1..]), None);
}

/// The values' span: from the first value through the last, only within the head,
/// `None` when it is not UTF-8 (values outside a span still come out right).
#[test]
fn the_values_span_runs_from_the_first_value_through_the_last() {
    let head = b"HTTP/1.1 200 OK\r\nServer: a\r\nX-Bin: \xff\r\nLocation: /b\r\n\r\n";
    let at = |v: &[u8]| {
        memchr::memmem::find(head, v)
            .map(|i| &head[i..i + v.len()])
            .expect("in the head")
    };
    let (server, bin, location) = (at(b"a\r"), at(b"\xff"), at(b"/b"));
    let (server, location) = (&server[..1], location);
    assert_eq!(values_text(head, server, server), Some("a"));
    assert_eq!(values_text(head, location, location), Some("/b"));
    assert_eq!(
        values_text(head, server, location),
        None,
        "the span holds 0xff"
    );
    assert_eq!(values_text(head, bin, bin), None);
    // Out of order, or not from the head.
    assert_eq!(values_text(head, location, server), None);
    let elsewhere = *b"a";
    assert_eq!(values_text(head, &elsewhere, &elsewhere), None);
    // The kept values around a non-UTF-8 header that is not kept are still text.
    let resp = parse_response_head(head).expect("head");
    assert_eq!(resp.header("server"), Some("a"));
    assert_eq!(resp.header("location"), Some("/b"));
    let req = parse_request_head(b"GET / HTTP/1.1\r\nA: \xff\r\nB: b\r\n\r\n").expect("head");
    assert_eq!(req.header("a"), Some("\u{fffd}"));
    assert_eq!(req.header("b"), Some("b"));
}

#[test]
fn responses_reuse_their_own_lists() {
    let head =
        b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Length: 5\r\nSet-Cookie: s=1\r\n\r\n";
    drop(parse_response_head(head).expect("response"));
    let before = kept(HeadKind::Request).0;
    let r = parse_response_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").expect("response");
    assert_eq!(
        kept(HeadKind::Request).0,
        before,
        "a request list was taken"
    );
    assert_eq!(
        (r.status, r.reason.as_str(), r.version.as_str()),
        (200, "OK", "1.0")
    );
    assert_eq!(r.headers.len(), 1);
    assert_eq!(r.header("content-length"), Some("0"));
}

#[test]
fn what_is_kept_is_capped() {
    let heads: Vec<_> = (0..MAX_SPARE_LISTS + 3)
        .map(|_| parse_request_head(LONG_HEAD).expect("head"))
        .collect();
    drop(heads);
    let (lists, strings) = kept(HeadKind::Request);
    assert_eq!(lists, MAX_SPARE_LISTS);
    assert_eq!(strings, MAX_SPARE_STRINGS);
    // An oversized header is not kept in a spare list.
    let big = "v".repeat(MAX_SPARE_HEADER_BYTES);
    let head = format!("GET / HTTP/1.1\r\nX-Big: {big}\r\nHost: h\r\n\r\n");
    reset();
    drop(parse_request_head(head.as_bytes()).expect("head"));
    let (spare, bytes) = with_spares(|s| s.lists[HeadKind::Request as usize].pop())
        .flatten()
        .expect("a spare list");
    assert_eq!(spare.len(), 1);
    assert_eq!(
        bytes,
        list_bytes(&spare),
        "counted after the oversized one left"
    );
    assert!(spare
        .iter()
        .all(|h| h.name.capacity() + h.value.capacity() <= MAX_SPARE_HEADER_BYTES));
}

#[test]
fn every_head_in_flight_finds_a_spare_next_time() {
    reset();
    // A few dozen connections, each with its request waiting for the response.
    let in_flight: Vec<_> = (0..40)
        .map(|_| parse_request_head(LONG_HEAD).expect("head"))
        .collect();
    drop(in_flight);
    assert_eq!(kept(HeadKind::Request), (40, 120));
    let again: Vec<_> = (0..40)
        .map(|_| parse_request_head(LONG_HEAD).expect("head"))
        .collect();
    assert_eq!(kept(HeadKind::Request), (0, 0), "every one reused a spare");
    drop(again);
    let (counted, recounted) = held_bytes();
    assert_eq!(counted, recounted);
}

#[test]
fn the_spares_hold_at_most_their_byte_cap() {
    reset();
    // Lists of 32 headers of 400 bytes: 64 of them would be 800 KiB.
    let value = "v".repeat(400);
    let mut head = String::from("GET / HTTP/1.1\r\n");
    for i in 0..MAX_SPARE_HEADERS {
        head.push_str(&format!("X-{i}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let heads: Vec<_> = (0..MAX_SPARE_LISTS)
        .map(|_| parse_request_head(head.as_bytes()).expect("head"))
        .collect();
    drop(heads);
    let (counted, recounted) = held_bytes();
    assert_eq!(counted, recounted);
    assert!(counted <= MAX_SPARE_BYTES, "{counted}");
    let (lists, _) = kept(HeadKind::Request);
    assert!(lists > 0 && lists < MAX_SPARE_LISTS, "{lists}");
    // Taking and giving back keeps the count true.
    drop(parse_request_head(head.as_bytes()).expect("head"));
    let (counted, recounted) = held_bytes();
    assert_eq!(counted, recounted);
    reset();
}

#[test]
fn a_shorter_head_leaves_loose_headers_for_a_longer_one() {
    drop(parse_request_head(LONG_HEAD).expect("head"));
    let short = parse_request_head(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").expect("head");
    assert_eq!(short.headers.len(), 1);
    assert_eq!(loose(), 4, "the four unused headers are kept loose");
    drop(short);
    let long = parse_request_head(LONG_HEAD).expect("head");
    assert_eq!(loose(), 0, "the longer head took them back");
    let names: Vec<&str> = long.headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Host",
            "User-Agent",
            "Accept",
            "Content-Type",
            "Content-Length"
        ]
    );
    assert_eq!(long.header("content-length"), Some("3"));
}
