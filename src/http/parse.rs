//! Pure HTTP/1.x head parsing: bytes in, a head out; no state, no I/O.
//!
//! `httparse` parses well-formed heads; heads it rejects are retried with a lenient
//! reader that accepts what servers accept in the wild (HTTP/0.9 request lines,
//! missing versions, header lines without a colon), because an attacker's request
//! that the server would take must not slip past the monitor by being malformed.
//! Requests are read here, as servers read them; responses are read as browsers read
//! them, in [`response`] (the two sides' leniencies differ on purpose).

use std::mem::MaybeUninit;

use super::method::Method;
use super::{Header, HttpError, RequestHead};
use spare::HeadKind;

pub mod line_start;
pub mod name;
pub mod response;
pub mod spare;

pub use line_start::{
    could_begin_request_line, could_begin_status_line, is_request_line, is_status_line,
    looks_like_request_start, MAX_RESYNC_LINE_BYTES,
};

pub use response::{
    may_start_status_line_leniently, parse_response_head, read_response_head,
    strict_response_prefix, HeadQuirks, STATUS_LINE_SLOP_BYTES, STATUS_PROBE_BYTES,
};

/// A head longer than this is not HTTP we will parse (nginx's default large buffer is 8 KiB).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers kept per message for rules; every header line up to [`MAX_HEAD_BYTES`] is
/// still parsed, framing headers past this are kept anyway, and the rest are counted in
/// [`RequestHead::headers_dropped`] (a request over the cap is itself an anomaly).
pub const MAX_HEADERS: usize = 128;
/// Framing headers (Content-Length, Transfer-Encoding, Content-Type, Host) kept beyond
/// [`MAX_HEADERS`]; a head repeating them thousands of times keeps only this many.
pub const MAX_FRAMING_HEADERS: usize = 16;

/// Headers that decide how a message is framed or routed: never lost to the cap.
const FRAMING_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "content-type",
    "host",
];

/// Whether a header decides framing or routing (kept whatever its position).
pub fn is_framing_header(name: &str) -> bool {
    FRAMING_HEADERS.iter().any(|k| k.eq_ignore_ascii_case(name))
}
/// Longest method token accepted (WebDAV's longest is 16: VERSION-CONTROL, BASELINE-CONTROL).
pub(crate) const MAX_METHOD_LEN: usize = 32;

/// A request line without a valid version is taken as HTTP/0.9 only when its method is
/// in the method table ([`Method`]). HTTP/0.9 only ever had GET; a versionless line with
/// an unknown token is taken as garbage, not a request (as Zeek does since 5.1), so cruft
/// after a request does not invent transactions.
fn is_known_method(method: &str) -> bool {
    Method::parse(method).is_some()
}

/// Finds the end of a head: the byte after the blank line (CRLF CRLF or bare LF LF).
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(pos) = memchr::memchr(b'\n', &buf[from..]) {
        let nl = from + pos;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => from = nl + 1,
        }
    }
    None
}

/// Whether `b` may appear in a method token (RFC 9110 §5.6.2 tchar).
pub fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a complete request head (including the blank line).
pub fn parse_request_head(head: &[u8]) -> Result<RequestHead, HttpError> {
    match strict_request_prefix(head) {
        Some((req, _)) => Ok(req),
        None => parse_request_head_lenient(head),
    }
}

/// The request head at the start of `buf` when httparse reads it strictly, with its
/// length through the blank line; `None` when httparse does not complete (a head cut
/// short or one it rejects: the caller finds the blank line and reads the head
/// leniently). On a strict head the parser finds the blank line where
/// [`find_head_end`] would (the first empty line), so the driver's fast path skips
/// that separate search.
pub fn strict_request_prefix(buf: &[u8]) -> Option<(RequestHead, usize)> {
    // Left uninitialised for httparse to fill: an initialised array of MAX_HEADERS
    // was 4 KiB written for every head.
    let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let Ok(httparse::Status::Complete(len)) = req.parse_with_uninit_headers(buf, &mut headers)
    else {
        return None;
    };
    let (Some(method), Some(uri), Some(minor)) = (req.method, req.path, req.version) else {
        return None;
    };
    let head = &buf[..len];
    let [method, uri, mut version] = spare::strings_from([method, uri, version_text(minor)]);
    finish_version(&mut version, minor);
    Some((
        RequestHead {
            method,
            uri,
            version,
            headers: spare::headers_from(
                HeadKind::Request,
                match (req.headers.first(), req.headers.last()) {
                    (Some(first), Some(last)) => spare::values_text(head, first.value, last.value),
                    _ => None,
                },
                req.headers.iter().map(|h| (h.name, h.value)),
            ),
            headers_dropped: 0,
        },
        len,
    ))
}

/// `1.minor` for the minor versions httparse reads (0 and 1); empty for any other,
/// which [`finish_version`] then writes.
fn version_text(minor: u8) -> &'static str {
    match minor {
        0 => "1.0",
        1 => "1.1",
        _ => "",
    }
}

/// Writes `1.minor` into `version` when [`version_text`] had no text for it.
fn finish_version(version: &mut String, minor: u8) {
    if version.is_empty() {
        use std::fmt::Write;
        let _ = write!(version, "1.{minor}");
    }
}

/// Splits a head into lines, dropping CR before LF.
fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// The lenient reader: what a permissive server would accept.
fn parse_request_head_lenient(head: &[u8]) -> Result<RequestHead, HttpError> {
    let mut it = lines(head);
    let first = it.next().unwrap_or_default();
    if !looks_like_request_start(first) {
        return Err(HttpError::BadRequestLine);
    }
    let text = String::from_utf8_lossy(first);
    let mut parts = text.split_ascii_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = parts.collect();
    let (uri, version) = match rest.as_slice() {
        [] => (String::new(), "0.9".to_owned()),
        [version] if version.starts_with("HTTP/") => (
            String::new(),
            version.trim_start_matches("HTTP/").to_owned(),
        ),
        [uri] => ((*uri).to_owned(), "0.9".to_owned()),
        [uri @ .., last] if last.starts_with("HTTP/") => {
            (uri.join(" "), last.trim_start_matches("HTTP/").to_owned())
        }
        all => (all.join(" "), "0.9".to_owned()),
    };
    if version == "0.9" && (uri.is_empty() || !is_known_method(&method)) {
        return Err(HttpError::BadRequestLine);
    }
    let (headers, headers_dropped) = lenient_headers(it, |_| true);
    Ok(RequestHead {
        method,
        uri,
        version,
        headers,
        headers_dropped,
    })
}

/// Reads every header line (the head is already bounded by [`MAX_HEAD_BYTES`]). Keeps
/// those `wanted` up to [`MAX_HEADERS`], framing headers beyond that up to
/// [`MAX_FRAMING_HEADERS`] more, and returns how many lines were dropped by the caps.
fn lenient_headers<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    wanted: impl Fn(&str) -> bool,
) -> (Vec<Header>, u32) {
    let mut headers: Vec<Header> = Vec::new();
    let mut framing_over_cap = 0usize;
    let mut dropped = 0u32;
    // Whether the last header line was kept (a folded continuation follows its fate).
    let mut last_kept = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        // Obsolete line folding (RFC 9112 §5.2): a continuation of the previous value.
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = headers.last_mut().filter(|_| last_kept) {
                if last.value.len() < MAX_HEAD_BYTES {
                    last.value.push(' ');
                    last.value.push_str(String::from_utf8_lossy(line).trim());
                }
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
        last_kept = false;
        if !wanted(&name) {
            continue;
        }
        if headers.len() >= MAX_HEADERS + framing_over_cap {
            if !is_framing_header(&name) || framing_over_cap >= MAX_FRAMING_HEADERS {
                dropped = dropped.saturating_add(1);
                continue;
            }
            framing_over_cap += 1;
        }
        last_kept = true;
        headers.push(Header {
            name,
            value: String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_owned(),
        });
    }
    (headers, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_HEAD: &[u8] =
        b"GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.gov\r\nUser-Agent: curl/8.5.0\r\n\r\n";

    #[test]
    fn finds_head_end_with_crlf_and_bare_lf() {
        assert_eq!(find_head_end(GET_HEAD), Some(GET_HEAD.len()));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\n\nBODY"), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }

    /// The driver's fast path takes the head's end from httparse: it must be the blank
    /// line `find_head_end` finds, and the head the one parsed from that cut, whatever
    /// follows (a body, the next request) and however the lines end.
    #[test]
    fn a_strict_prefix_ends_where_the_blank_line_is() {
        let heads: [&[u8]; 5] = [
            GET_HEAD,
            b"GET / HTTP/1.0\n\n",
            b"POST /f HTTP/1.1\r\nHost: a\nContent-Length: 3\n\r\n",
            b"GET /a HTTP/1.1\r\nX: \xc3\xa9\xff\r\n\r\n",
            b"HEAD /b?c=d HTTP/1.1\r\nA:\r\nB: \t x \r\n\r\n",
        ];
        for head in heads {
            for tail in [
                &b""[..],
                b"abc\r\n\r\n",
                b"GET /next HTTP/1.1\r\n\r\n",
                b"\n\n",
            ] {
                let buf = [head, tail].concat();
                let (req, len) = strict_request_prefix(&buf).expect("a strict head");
                assert_eq!(Some(len), find_head_end(&buf), "{buf:?}");
                assert_eq!(Ok(req), parse_request_head(&buf[..len]), "{buf:?}");
            }
        }
        // Cut short or malformed: left to the general path.
        assert!(strict_request_prefix(b"GET / HTTP/1.1\r\nHost: a\r\n").is_none());
        assert!(strict_request_prefix(b"GET /old\r\n\r\n").is_none());
        let (resp, len) =
            strict_response_prefix(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nHTTP/1.1 204 \r\n\r\n")
                .expect("a strict response head");
        assert_eq!((resp.status, len), (200, 30));
        assert!(strict_response_prefix(b"HTTP/1.1 200 OK\r\nServer: x\r\n").is_none());
    }

    #[test]
    fn parses_a_well_formed_request() {
        let r = parse_request_head(GET_HEAD).expect("valid head");
        assert_eq!(r.method, "GET");
        assert_eq!(r.uri, "/index.html?q=1");
        assert_eq!(r.version, "1.1");
        assert_eq!(r.header("host"), Some("www.example.gov"));
    }

    #[test]
    fn parses_http09_request_line_without_version() {
        let r = parse_request_head(b"GET /old\r\n\r\n").expect("0.9 request");
        assert_eq!(
            (r.method.as_str(), r.uri.as_str(), r.version.as_str()),
            ("GET", "/old", "0.9")
        );
    }

    #[test]
    fn refuses_versionless_lines_with_unknown_methods_or_no_target() {
        assert!(parse_request_head(b"T / HTTP\r\n\r\n").is_err());
        assert!(parse_request_head(b"GET \r\n\r\n").is_err());
        let r = parse_request_head(b"CCM_POST / HTTP/1.1\r\n\r\n").expect("versioned request");
        assert_eq!(r.method, "CCM_POST");
    }

    #[test]
    fn keeps_requests_with_invalid_header_bytes() {
        let head =
            b"POST /upload HTTP/1.1\r\nHost: a\r\nX Bad Header: 1\r\nContent-Length: 3\r\n\r\n";
        let r = parse_request_head(head).expect("lenient parse");
        assert_eq!(r.header("content-length"), Some("3"));
    }

    #[test]
    fn rejects_binary_garbage() {
        assert!(parse_request_head(b"\x16\x03\x01\x02\x00\r\n\r\n").is_err());
        assert!(parse_response_head(b"\x00\x01garbage\r\n\r\n").is_err());
    }

    #[test]
    fn parses_response_with_empty_reason() {
        let r =
            parse_response_head(b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n").expect("response");
        assert_eq!(r.status, 404);
        assert_eq!(r.reason, "");
    }

    fn padded_upload_head(padding: usize) -> Vec<u8> {
        let mut head = b"POST /permits/upload HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..padding {
            head.extend_from_slice(format!("X-Pad-{i}: {i}\r\n").as_bytes());
        }
        head.extend_from_slice(
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 42\r\n\r\n",
        );
        head
    }

    #[test]
    fn framing_headers_after_the_header_cap_are_kept_and_the_rest_counted() {
        let r = parse_request_head(&padded_upload_head(200)).expect("long head");
        assert_eq!(r.header("content-length"), Some("42"));
        assert!(r
            .header("content-type")
            .is_some_and(|c| c.contains("boundary=b")));
        assert_eq!(r.headers.len(), MAX_HEADERS + 2);
        assert_eq!(r.headers_dropped, 201 - MAX_HEADERS as u32);
    }

    #[test]
    fn heads_under_the_cap_drop_nothing() {
        let r = parse_request_head(&padded_upload_head(100)).expect("head");
        assert_eq!(r.headers_dropped, 0);
        assert_eq!(r.headers.len(), 103);
    }

    #[test]
    fn repeated_framing_headers_past_the_cap_are_bounded() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..1000 {
            head.extend_from_slice(b"Host: a\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let r = parse_request_head(&head).expect("head");
        assert_eq!(r.headers.len(), MAX_HEADERS + MAX_FRAMING_HEADERS);
        assert_eq!(
            r.headers_dropped as usize,
            1000 - MAX_HEADERS - MAX_FRAMING_HEADERS
        );
    }

    #[test]
    fn response_framing_after_many_headers_is_kept() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..300 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"Content-Length: 7\r\n\r\n");
        let r = parse_response_head(&head).expect("response");
        assert_eq!(r.header("content-length"), Some("7"));
    }
}
