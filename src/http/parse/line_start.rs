//! Which bytes start a request or status line: how the lenient request parser tells
//! a request line, and how resynchronisation finds the next message after framing was
//! lost, also when the line is split over two segments.

use super::{is_token_char, MAX_METHOD_LEN};

/// Length of the method token `line` starts with (RFC 9110 tchar).
fn method_len(line: &[u8]) -> usize {
    line.iter().take_while(|&&b| is_token_char(b)).count()
}

/// Whether `line` looks like the start of a request line: a method token and a space.
pub fn looks_like_request_start(line: &[u8]) -> bool {
    let method_len = method_len(line);
    method_len > 0 && method_len <= MAX_METHOD_LEN && line.get(method_len) == Some(&b' ')
}

/// Bytes of a candidate line looked at when resynchronising: a request line longer than
/// this is not found (nginx refuses request lines over its 8 KiB large buffer), and no
/// scan is quadratic in the data.
pub const MAX_RESYNC_LINE_BYTES: usize = 16 * 1024;

/// Whether `line` is a full request line with an HTTP version (used to resynchronise).
pub fn is_request_line(line: &[u8]) -> bool {
    if !looks_like_request_start(line) || !line[0].is_ascii_uppercase() {
        return false;
    }
    let line = &line[..line.len().min(MAX_RESYNC_LINE_BYTES)];
    let end = memchr::memchr(b'\n', line).unwrap_or(line.len());
    memchr::memmem::find(&line[..end], b" HTTP/1.").is_some()
}

/// Whether `tail`, bytes that run to the end of the data without a line end, could be
/// the first part of a line [`is_request_line`] accepts (resync carries it to the next
/// chunk rather than lose a request line split over two segments). It accepts exactly
/// the prefixes of such lines, whatever the method (nginx and PHP take unknown
/// methods too), so whether resync finds a request does not depend on where a segment
/// boundary falls.
pub fn could_begin_request_line(tail: &[u8]) -> bool {
    if tail.is_empty()
        || tail.len() > MAX_RESYNC_LINE_BYTES
        || memchr::memchr(b'\n', tail).is_some()
        || !tail[0].is_ascii_uppercase()
    {
        return false;
    }
    let method_len = method_len(tail);
    match tail.get(method_len) {
        None => method_len <= MAX_METHOD_LEN,
        Some(&b) => method_len <= MAX_METHOD_LEN && b == b' ',
    }
}

/// Whether `tail` (as for [`could_begin_request_line`]) could begin a status line.
pub fn could_begin_status_line(tail: &[u8]) -> bool {
    const PREFIX: &[u8] = b"HTTP/1.";
    !tail.is_empty()
        && tail.len() <= MAX_RESYNC_LINE_BYTES
        && memchr::memchr(b'\n', tail).is_none()
        && if tail.len() <= PREFIX.len() {
            PREFIX.starts_with(tail)
        } else {
            tail.starts_with(PREFIX)
        }
}

/// Whether `data` begins with a status line (used to resynchronise).
pub fn is_status_line(data: &[u8]) -> bool {
    data.starts_with(b"HTTP/1.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_lines_that_could_begin_a_message() {
        for tail in [
            &b"G"[..],
            b"GE",
            b"GET",
            b"GET ",
            b"GET /a HT",
            b"PROPFIND /x",
            // Unknown methods: is_request_line takes their whole lines too.
            b"GETX",
            b"HEAE /a",
        ] {
            assert!(could_begin_request_line(tail), "{tail:?}");
        }
        let long_method = [b'A'; MAX_METHOD_LEN + 1];
        for tail in [
            &b""[..],
            b"get /",
            b"GET /\r\n",
            b"GET\t/",
            b"{\"GET",
            &long_method[..],
        ] {
            assert!(!could_begin_request_line(tail), "{tail:?}");
        }
        assert!(could_begin_status_line(b"HT"));
        assert!(could_begin_status_line(b"HTTP/1.1 20"));
        assert!(!could_begin_status_line(b"HTTX"));
    }

    #[test]
    fn recognises_request_lines_for_resync() {
        assert!(is_request_line(b"GET /a HTTP/1.1\r\n"));
        assert!(!is_request_line(b"get /a HTTP/1.1\r\n"));
        assert!(!is_request_line(b"GET /a\r\n"));
    }
}
