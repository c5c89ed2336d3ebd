//! How a message's body is framed (RFC 9112 §6.3) and which multipart readings a
//! request body gets.

use crate::http::body::BodyDecoder;
use crate::http::multipart::{MultipartParser, MAX_BOUNDARY_READINGS};
use crate::http::parse::name::is_name;
use crate::http::parse::HeadQuirks;
use crate::http::{HttpError, RequestHead, ResponseHead};

/// One multipart parser per boundary reading of every Content-Type header (a second
/// Content-Type is a reading too), at most [`MAX_BOUNDARY_READINGS`] in all.
pub(super) fn multipart_readings(req: &RequestHead) -> Vec<MultipartParser> {
    let mut parsers: Vec<MultipartParser> = Vec::new();
    for h in req
        .headers
        .iter()
        .filter(|h| is_name(&h.name, "content-type"))
    {
        for p in MultipartParser::all_from_content_type(&h.value) {
            if parsers.len() < MAX_BOUNDARY_READINGS
                && !parsers.iter().any(|q| q.boundary() == p.boundary())
            {
                parsers.push(p);
            }
        }
    }
    parsers
}

/// The request headers the session reads, each the first of its name (as
/// `RequestHead::header` finds it), found in one pass over the headers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct RequestFramingHeaders<'h> {
    pub(super) transfer_encoding: Option<&'h str>,
    pub(super) content_length: Option<&'h str>,
    pub(super) expect: Option<&'h str>,
}

impl<'h> RequestFramingHeaders<'h> {
    /// One pass: a name is compared only with the wanted name of its length.
    pub(super) fn of(req: &'h RequestHead) -> Self {
        let mut found = RequestFramingHeaders::default();
        for h in &req.headers {
            let (slot, lower) = match h.name.len() {
                17 => (&mut found.transfer_encoding, "transfer-encoding"),
                14 => (&mut found.content_length, "content-length"),
                6 => (&mut found.expect, "expect"),
                _ => continue,
            };
            if slot.is_none() && is_name(&h.name, lower) {
                *slot = Some(h.value.as_str());
            }
        }
        found
    }
}

/// How a request body is framed (RFC 9112 §6.3): chunked wins over Content-Length;
/// a request with neither has no body.
pub(super) fn request_body_framing(
    found: &RequestFramingHeaders<'_>,
) -> Result<Option<BodyDecoder>, HttpError> {
    if is_chunked(found.transfer_encoding) {
        return Ok(Some(BodyDecoder::chunked()));
    }
    match content_length(found.content_length)? {
        Some(0) | None => Ok(None),
        Some(n) => Ok(Some(BodyDecoder::Length { remaining: n })),
    }
}

/// Responses read the browsers' way where RFC 9112 reads them otherwise, one count
/// per response and kind (a response may count under several kinds). Each kind is an
/// ambiguity an evasion can hide in; docs/http-parity.md gives the source of each.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResponseAnomalies {
    /// A status line that is not `HTTP/d.d SP ddd [SP reason]` at the start of the
    /// response (lowercase `http`, junk or NUL bytes, missing code, odd spacing).
    pub lenient_status_line: u64,
    /// A bare CR (not followed by LF) ended a line of the response head.
    pub bare_cr_line_end: u64,
    /// Header lines regrouped: NUL bytes in a name, a name continued on folded lines,
    /// whitespace-only lines.
    pub regrouped_header_lines: u64,
    /// A Transfer-Encoding read as chunked though it is not exactly `chunked` as the
    /// last coding (junk around it, NUL bytes, several headers).
    pub te_obfuscated: u64,
    /// A Transfer-Encoding on an HTTP/1.0 (or older) response, ignored.
    pub te_below_http11: u64,
    /// A Content-Length with junk around its number, read by the number.
    pub odd_content_length: u64,
    /// A response without a status line, read as an HTTP/0.9 body until close.
    pub http09_response: u64,
}

/// Sums finished sessions' anomaly counts.
impl std::ops::AddAssign for ResponseAnomalies {
    // Every field named: a kind added to the struct and not summed does not compile.
    fn add_assign(&mut self, o: ResponseAnomalies) {
        let ResponseAnomalies {
            lenient_status_line,
            bare_cr_line_end,
            regrouped_header_lines,
            te_obfuscated,
            te_below_http11,
            odd_content_length,
            http09_response,
        } = o;
        self.lenient_status_line += lenient_status_line;
        self.bare_cr_line_end += bare_cr_line_end;
        self.regrouped_header_lines += regrouped_header_lines;
        self.te_obfuscated += te_obfuscated;
        self.te_below_http11 += te_below_http11;
        self.odd_content_length += odd_content_length;
        self.http09_response += http09_response;
    }
}

impl ResponseAnomalies {
    /// Counts the leniencies a response head needed.
    pub fn count_head(&mut self, q: &HeadQuirks) {
        self.lenient_status_line += u64::from(q.lenient_status_line);
        self.bare_cr_line_end += u64::from(q.bare_cr);
        self.regrouped_header_lines += u64::from(q.regrouped);
    }

    /// Counts the leniencies a response's framing needed.
    fn count_framing(&mut self, f: &FramingQuirks) {
        self.te_obfuscated += u64::from(f.te_obfuscated);
        self.te_below_http11 += u64::from(f.te_below_http11);
        self.odd_content_length += u64::from(f.odd_content_length);
    }
}

/// How a response's framing departed from RFC 9112.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct FramingQuirks {
    te_obfuscated: bool,
    te_below_http11: bool,
    odd_content_length: bool,
}

impl FramingQuirks {
    /// Whether any leniency was needed.
    pub(super) fn any(&self) -> bool {
        self.te_obfuscated || self.te_below_http11 || self.odd_content_length
    }

    /// Adds these to the session's counters.
    pub(super) fn count_into(&self, a: &mut ResponseAnomalies) {
        a.count_framing(self);
    }
}

/// How a response body is framed; `None` means "until close". The second value says
/// where the head was read the browsers' way though RFC 9112 reads it otherwise:
/// - Transfer-Encoding is ignored below HTTP/1.1 (Chromium's
///   `HttpResponseHeaders::IsChunkEncoded` requires 1.1; RFC 9112 §6.1 would honour it,
///   and Firefox's `nsHttpTransaction::HandleContentStart` de-chunks from 1.0);
/// - any Transfer-Encoding header whose value contains `chunked` anywhere (case and
///   NUL bytes ignored: `xchunked`, `chunked,`, `chunked;`, `chu\0nked`) frames the
///   body as chunked, as libhtp reads responses (`bstr_index_of_c_nocasenorzero`) and
///   as the HTTP Evader cases show browsers doing.
pub(super) fn response_body_framing(
    resp: &ResponseHead,
) -> Result<(Option<BodyDecoder>, FramingQuirks), HttpError> {
    // One pass: the first Transfer-Encoding (the strict reading), whether any holds
    // `chunked` (the lenient one), how many there are, and the first Content-Length.
    let mut strict_te = None;
    let mut te_count = 0usize;
    let mut lenient = false;
    let mut cl = None;
    for h in &resp.headers {
        if is_name(&h.name, "transfer-encoding") {
            te_count += 1;
            strict_te.get_or_insert(h.value.as_str());
            lenient = lenient || contains_chunked(&h.value);
        } else if cl.is_none() && is_name(&h.name, "content-length") {
            cl = Some(h.value.as_str());
        }
    }
    let strict = is_chunked(strict_te);
    let mut quirks = FramingQuirks::default();
    if lenient && version_at_least_11(&resp.version) {
        quirks.te_obfuscated = !strict || te_count > 1;
        return Ok((Some(BodyDecoder::chunked()), quirks));
    }
    quirks.te_below_http11 = lenient;
    let length = match content_length(cl) {
        Ok(n) => n,
        // A value with junk around its one number (`68,`, `68A`, `68.0`, `,68`): that
        // number is the length, as the HTTP Evader cases 256-264 show browsers reading
        // it (RFC 9112 §6.3 would make the message invalid). Counted.
        Err(e) => {
            quirks.odd_content_length = true;
            Some(leading_digits(cl.unwrap_or("")).ok_or(e)?)
        }
    };
    Ok((length.map(|n| BodyDecoder::Length { remaining: n }), quirks))
}

/// The first run of ASCII digits in `v`, if it fits 64 bits.
fn leading_digits(v: &str) -> Option<u64> {
    if v.trim_start().starts_with('-') {
        return None;
    }
    let start = v.find(|c: char| c.is_ascii_digit())?;
    let digits = &v[start..];
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    // A decimal fraction (`68.0`, `68.9`) is not a second number.
    let after = digits[len..].strip_prefix('.').map_or(&digits[len..], |f| {
        f.trim_start_matches(|c: char| c.is_ascii_digit())
    });
    if after.contains(|c: char| c.is_ascii_digit()) {
        // Two numbers (`34 68`): browsers disagree (cases 248-250 against 254-255);
        // read as Chromium does, invalid, so the body runs until close.
        return None;
    }
    digits[..len].parse().ok()
}

/// Whether `value` holds `chunked` anywhere, ignoring case and NUL bytes.
fn contains_chunked(value: &str) -> bool {
    let squeezed: Vec<u8> = value
        .bytes()
        .filter(|&b| b != 0)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    squeezed.windows(7).any(|w| w == b"chunked")
}

/// "1.1" and above; the minor version is its first digit, as Chromium reads it
/// (`HTTP/1.01` is 1.0).
fn version_at_least_11(version: &str) -> bool {
    let mut parts = version.splitn(2, '.');
    let major = parts
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let minor = parts
        .next()
        .and_then(|m| m.bytes().next())
        .filter(u8::is_ascii_digit)
        .map_or(0, |d| d - b'0');
    major > 1 || (major == 1 && minor >= 1)
}

fn is_chunked(te: Option<&str>) -> bool {
    te.is_some_and(|v| {
        v.rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    })
}

pub(super) fn content_length(v: Option<&str>) -> Result<Option<u64>, HttpError> {
    let Some(v) = v else { return Ok(None) };
    // Nearly every value is plain digits: read them without splitting and trimming.
    // (Nineteen digits cannot overflow a u64; longer values take the general path.)
    if (1..=19).contains(&v.len()) {
        // One pass: digits summed until a byte is not one.
        let mut n = 0u64;
        let mut plain = true;
        for b in v.bytes() {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                plain = false;
                break;
            }
            n = n * 10 + u64::from(digit);
        }
        if plain {
            return Ok(Some(n));
        }
    }
    // Repeated identical values ("5, 5") are allowed by RFC 9110 §8.6.
    let mut parsed: Option<u64> = None;
    for piece in v.split(',') {
        let n = piece
            .trim()
            .parse::<u64>()
            .map_err(|_| HttpError::BadContentLength)?;
        if parsed.is_some_and(|p| p != n) {
            return Err(HttpError::BadContentLength);
        }
        parsed = Some(n);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one pass finds what `RequestHead::header` finds for each name: the first of
    /// that name in any case, whatever comes around it.
    #[test]
    fn request_framing_headers_are_the_first_of_each_name() {
        let req = crate::http::parse::parse_request_head(
            b"POST / HTTP/1.1\r\nX-Expect: no\r\nEXPECT: 100-continue\r\nexpect: other\r\n\
              Content-Lengthx: 1\r\ncontent-length: 5\r\nContent-Length: 6\r\n\
              Transfer-Encodinx: chunked\r\nTransfer-encoding: gzip, chunked\r\n\r\n",
        )
        .expect("a request head");
        let found = RequestFramingHeaders::of(&req);
        for (name, got) in [
            ("expect", found.expect),
            ("content-length", found.content_length),
            ("transfer-encoding", found.transfer_encoding),
        ] {
            assert_eq!(got, req.header(name), "{name}");
        }
        assert_eq!(found.expect, Some("100-continue"));
        assert_eq!(found.content_length, Some("5"));
        assert!(matches!(
            request_body_framing(&found),
            Ok(Some(BodyDecoder::Chunked(_)))
        ));
        let none = RequestFramingHeaders::default();
        assert!(matches!(request_body_framing(&none), Ok(None)));
    }
}
