//! Response heads, read as browsers read them. A head the strict parser (`httparse`)
//! takes is RFC 9112 and is returned as is; any other is read the way Chromium's
//! `HttpUtil::AssembleRawHeaders` and `HttpResponseHeaders::ParseStatusLine` read it,
//! and every departure from RFC 9112 is reported in [`HeadQuirks`] (counted by the
//! session as an anomaly). Requests never come here: they are read as servers read
//! them (see the parent module). The leniencies, each with its source, are listed in
//! docs/http-parity.md:
//! - the status line may start after up to [`STATUS_LINE_SLOP_BYTES`] bytes of junk,
//!   and `http` matches in any case (Chromium `LocateStartOfStatusLine`);
//! - the status line ends at the first CR or LF (Chromium `FindStatusLineEnd`);
//! - NUL bytes are dropped from the status line (Chromium erases every NUL of the
//!   assembled head before parsing it);
//! - the header lines are split on any run of CR and LF, so a bare CR ends a line
//!   (Chromium tokenises on `"\r\n"`);
//! - then [`super::super::browser_lines::regroup`] regroups NUL-laden and folded names.

use std::mem::MaybeUninit;

use super::spare::{self, HeadKind};
use super::{finish_version, lenient_headers, version_text, MAX_HEADERS};
use crate::http::{HttpError, ResponseHead};

/// Bytes of junk skipped before `http` at the start of a response: Chromium's
/// `LocateStartOfStatusLine` slop (Firefox's `LocateHttpStart` looks at 11 bytes;
/// the stricter is followed, and a response with more junk is HTTP/0.9 to Chromium).
pub const STATUS_LINE_SLOP_BYTES: usize = 4;
/// Bytes at the start of a reply that decide whether it has a status line: the slop
/// and `http` (Chromium decides HTTP/0.9 once it has 8 bytes without one).
pub const STATUS_PROBE_BYTES: usize = STATUS_LINE_SLOP_BYTES + 4;

/// How a response head departed from RFC 9112 while being read the browsers' way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeadQuirks {
    /// The status line is not `HTTP/d.d SP ddd [SP reason]` at the very start of the
    /// response (lowercase `http`, junk before it, NUL bytes, no code, odd spacing).
    pub lenient_status_line: bool,
    /// A CR not followed by LF ended a line of the head.
    pub bare_cr: bool,
    /// Header lines were regrouped (NUL bytes in a name, a name continued on folded
    /// lines, whitespace-only lines skipped).
    pub regrouped: bool,
}

impl HeadQuirks {
    /// Whether any leniency was needed.
    pub fn any(&self) -> bool {
        self.lenient_status_line || self.bare_cr || self.regrouped
    }
}

/// Response headers the layers above use; the rest are not copied (fewer allocations,
/// and Set-Cookie is never held at all).
const KEPT_RESPONSE_HEADERS: [&str; 6] = [
    "content-length",
    "transfer-encoding",
    "content-type",
    "content-encoding",
    "location",
    "server",
];

/// The kept names by length: each has a length of its own, so a header name is
/// compared with one kept name at most.
const KEPT_BY_LENGTH: [&str; 18] = {
    let mut table = [""; 18];
    let mut i = 0;
    while i < KEPT_RESPONSE_HEADERS.len() {
        let name = KEPT_RESPONSE_HEADERS[i];
        assert!(table[name.len()].is_empty() && super::name::is_known_name(name));
        table[name.len()] = name;
        i += 1;
    }
    table
};

fn is_kept_response_header(name: &str) -> bool {
    // (A `match` on the length with a comparison per arm measured slower twice: the
    // compiler turned each comparison into a byte loop. A table and one word-wise
    // comparison do not.)
    KEPT_BY_LENGTH
        .get(name.len())
        .is_some_and(|kept| !kept.is_empty() && super::name::is_name(name, kept))
}

/// Parses a complete response head (including the blank line).
pub fn parse_response_head(head: &[u8]) -> Result<ResponseHead, HttpError> {
    read_response_head(head).map(|(resp, _)| resp)
}

/// Parses a complete response head and says which browser leniencies it needed.
pub fn read_response_head(head: &[u8]) -> Result<(ResponseHead, HeadQuirks), HttpError> {
    match strict_response_prefix(head) {
        Some((resp, _)) => Ok((resp, HeadQuirks::default())),
        None => read_lenient(head),
    }
}

/// The response head at the start of `buf` when httparse reads it strictly (it needs
/// no leniency), with its length through the blank line; `None` otherwise (as
/// [`super::strict_request_prefix`]).
pub fn strict_response_prefix(buf: &[u8]) -> Option<(ResponseHead, usize)> {
    // Uninitialised for httparse to fill (see `strict_request_prefix`).
    let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let Ok(httparse::Status::Complete(len)) = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut headers)
    else {
        return None;
    };
    let (Some(code), Some(minor)) = (resp.code, resp.version) else {
        return None;
    };
    let [reason, mut version] =
        spare::strings_from([resp.reason.unwrap_or(""), version_text(minor)]);
    finish_version(&mut version, minor);
    Some((
        ResponseHead {
            status: code,
            reason,
            version,
            headers: spare::headers_from(
                HeadKind::Response,
                // The whole head at once: checking only the few kept values, one by
                // one, measured slower (84 instructions a value against 200 a head).
                std::str::from_utf8(&buf[..len]).ok(),
                resp.headers
                    .iter()
                    .filter(|h| is_kept_response_header(h.name))
                    .map(|h| (h.name, h.value)),
            ),
        },
        len,
    ))
}

/// Where `http` (any case) starts within the first [`STATUS_LINE_SLOP_BYTES`] + 1
/// positions of `data`.
fn locate_status_line(data: &[u8]) -> Option<usize> {
    (0..=STATUS_LINE_SLOP_BYTES).find(|&i| {
        data.get(i..i + 4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"http"))
    })
}

/// Whether `data` (the first bytes of a response, maybe only a few) starts, or may
/// still turn out to start, a status line as [`read_response_head`] finds one.
/// Anything else is an HTTP/0.9 reply to browsers (or garbage).
pub fn may_start_status_line_leniently(data: &[u8]) -> bool {
    (0..=STATUS_LINE_SLOP_BYTES.min(data.len())).any(|i| {
        let rest = &data[i..];
        let n = rest.len().min(4);
        rest[..n].eq_ignore_ascii_case(&b"http"[..n])
    })
}

/// Whether `line` is an RFC 9112 §4 status line (`HTTP/d.d SP ddd [SP reason]`).
fn is_strict_status_line(line: &[u8]) -> bool {
    let digit = |i: usize| line.get(i).is_some_and(u8::is_ascii_digit);
    line.starts_with(b"HTTP/")
        && digit(5)
        && line.get(6) == Some(&b'.')
        && digit(7)
        && line.get(8) == Some(&b' ')
        && (9..12).all(digit)
        && (line.len() == 12 || line.get(12) == Some(&b' '))
        && !line.contains(&0)
}

fn read_lenient(head: &[u8]) -> Result<(ResponseHead, HeadQuirks), HttpError> {
    let start = locate_status_line(head).ok_or(HttpError::BadStatusLine)?;
    let head = &head[start..];
    let line_end = memchr::memchr2(b'\r', b'\n', head).unwrap_or(head.len());
    let raw_line = &head[..line_end];
    let rest = &head[line_end..];
    let mut quirks = HeadQuirks {
        lenient_status_line: start > 0 || !is_strict_status_line(raw_line),
        bare_cr: head
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\r' && head.get(i + 1) != Some(&b'\n')),
        regrouped: false,
    };
    let line: Vec<u8> = raw_line.iter().copied().filter(|&b| b != 0).collect();
    let text = String::from_utf8_lossy(&line);
    let (version, status, reason) = split_status_line(&text).ok_or(HttpError::BadStatusLine)?;
    let lines = rest
        .split(|&b| b == b'\r' || b == b'\n')
        .filter(|l| !l.is_empty());
    let (regrouped, changed) = crate::http::browser_lines::regroup(lines);
    quirks.regrouped = changed;
    let (headers, _) =
        lenient_headers(regrouped.iter().map(Vec::as_slice), is_kept_response_header);
    Ok((
        ResponseHead {
            status,
            reason,
            version,
            headers,
        },
        quirks,
    ))
}

/// Version, code and reason of a status line (NUL bytes already dropped), split on
/// runs of whitespace (Chromium's `ParseStatus` skips any number of spaces; the code
/// is the leading digits).
fn split_status_line(text: &str) -> Option<(String, u16, String)> {
    let sep = |c: char| c.is_ascii_whitespace();
    let mut parts = text.trim_start_matches(sep).splitn(2, sep);
    let token = parts.next()?.get(5..)?;
    let version_len = token
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let version = token[..version_len].to_owned();
    let rest = parts.next().unwrap_or_default().trim_start_matches(sep);
    let code_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    // No code at all (`HTTP/1.1`, `HTTP/1.1foobar`): Chromium assumes 200.
    let status = if code_len == 0 {
        200
    } else {
        rest.get(..code_len)?.parse::<u16>().ok()?
    };
    let reason = rest.get(code_len..)?.trim_matches(sep).to_owned();
    Some((version, status, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kept_response_header_is_kept_in_any_case_and_no_other() {
        for name in KEPT_RESPONSE_HEADERS {
            assert!(is_kept_response_header(name), "{name}");
            assert!(
                is_kept_response_header(&name.to_ascii_uppercase()),
                "{name}"
            );
            let mut other = name.to_owned();
            other.pop();
            other.push('x');
            assert!(!is_kept_response_header(&other), "{other}");
        }
        for name in ["set-cookie", "date", "etag", "last-modified", "x", ""] {
            assert!(!is_kept_response_header(name), "{name}");
        }
    }

    /// Values that are not UTF-8, in kept headers and in others around them, come out
    /// as the lossy decoding of each value alone.
    #[test]
    fn kept_values_that_are_not_utf8_are_decoded_alone() {
        let (r, _) = read(
            b"HTTP/1.1 200 OK\r\nX: \xfe\r\nServer: a\xe9\r\nDate: \xfd\r\n\
              Content-Length: 3\r\nETag: \xfc\r\n\r\n",
        );
        assert_eq!(r.header("server"), Some("a\u{fffd}"));
        assert_eq!(r.header("content-length"), Some("3"));
        assert_eq!(r.headers.len(), 2);
    }

    fn read(head: &[u8]) -> (ResponseHead, HeadQuirks) {
        read_response_head(head).expect("a response head browsers read")
    }

    #[test]
    fn well_formed_heads_need_no_leniency() {
        let (r, q) = read(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((r.status, r.reason.as_str()), (404, "Not Found"));
        assert!(!q.any());
    }

    #[test]
    fn only_the_headers_the_layers_above_use_are_kept() {
        // Each kept name in another case, and names of the same lengths that are not.
        let (r, _) = read(
            b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 1\r\nX-Content-Length: 2\r\n\
              Transfer-Encoding: chunked\r\nSet-Cookie: s=secret\r\ncontent-type: a/b\r\n\
              X-Frame-Options: DENY\r\nContent-Encoding: gzip\r\nAccess-Control-1: x\r\n\
              Location: /x\r\nServer: nginx\r\nExpect: y\r\nDate: today\r\n\r\n",
        );
        let names: Vec<&str> = r.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CONTENT-LENGTH",
                "Transfer-Encoding",
                "content-type",
                "Content-Encoding",
                "Location",
                "Server"
            ]
        );
    }

    #[test]
    fn junk_before_the_status_line_is_skipped_up_to_the_slop() {
        let (r, q) = read(b" \rHTTP/1.1 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!((r.status, r.version.as_str()), (200, "1.1"));
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(
            q.lenient_status_line && !q.bare_cr,
            "the CR is junk before the line"
        );
        assert!(read_response_head(b"12345HTTP/1.1 200 ok\r\n\r\n").is_err());
        assert!(may_start_status_line_leniently(b" \rHT"));
        assert!(may_start_status_line_leniently(b"\0"));
        assert!(!may_start_status_line_leniently(b"X5O!P%@AP"));
    }

    #[test]
    fn nul_bytes_are_dropped_from_the_status_line() {
        let (r, q) = read(b"HTTP/1\0.1 200 ok\r\nX: y\r\n\r\n");
        assert_eq!((r.version.as_str(), r.status), ("1.1", 200));
        assert!(q.lenient_status_line && !q.bare_cr);
        let (r, _) = read(b"http/1.0 0204 ok\r\n\r\n");
        assert_eq!((r.version.as_str(), r.status), ("1.0", 204));
    }

    #[test]
    fn a_bare_cr_ends_a_header_line() {
        let (r, q) = read(b"HTTP/1.1 200 ok\r\nA: b\rTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(q.bare_cr && !q.lenient_status_line);
        // `Transfer-Encoding: \rchunked`: an empty value, then a line without a colon.
        let (r, _) = read(b"HTTP/1.1 200 ok\r\nTransfer-Encoding: \rchunked\r\n\r\n");
        assert_eq!(r.header("transfer-encoding"), Some(""));
        // `Transfer-Encoding\r: chunked`: a name without a colon, then no name.
        let (r, _) = read(b"HTTP/1.1 200 ok\r\nTransfer-Encoding\r: chunked\r\n\r\n");
        assert_eq!(r.header("transfer-encoding"), None);
        // Every line ended by a bare CR, the head by CRLF LF.
        let (r, q) = read(b"HTTP/1.1 200 ok\rContent-Length: 4\rX: y\r\n\n");
        assert_eq!((r.status, r.header("content-length")), (200, Some("4")));
        assert!(q.bare_cr);
    }
}
