//! multipart/form-data (RFC 7578) as a stream: part names, filenames, declared types,
//! sizes and the first bytes of each file, never the content itself.
//!
//! Bytes arrive in arbitrary pieces; a delimiter may be split across two of them, so a
//! tail shorter than the delimiter is carried over. The carry is bounded by the part
//! header cap, and parts past [`MAX_PARTS`] are counted, not recorded.

use super::filetype::{sniff, SNIFF_BYTES};
use super::UploadPart;

/// Parts recorded per request; further parts are counted in `parts_dropped`.
pub const MAX_PARTS: usize = 64;
/// A part's header block longer than this ends multipart parsing for the request.
pub const MAX_PART_HEADER_BYTES: usize = 8 * 1024;
/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY_LEN: usize = 70;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: `--` ends, otherwise headers follow.
    AfterDelimiter,
    /// In a part's header block.
    Headers,
    /// In a part's content.
    Content,
    /// Closed by the final delimiter, or given up.
    Done,
}

/// A streaming multipart/form-data reader for one request body.
#[derive(Debug)]
pub struct MultipartParser {
    /// `\r\n--boundary`: the delimiter as it appears between parts.
    delimiter: Vec<u8>,
    state: State,
    carry: Vec<u8>,
    current: Option<UploadPart>,
    /// Parts beyond [`MAX_PARTS`].
    pub parts_dropped: u64,
}

impl MultipartParser {
    /// A parser for the boundary from a Content-Type header, if it has a valid one.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let lower = content_type.to_ascii_lowercase();
        if !lower.trim_start().starts_with("multipart/") {
            return None;
        }
        let at = lower.find("boundary=")?;
        let raw = &content_type[at + "boundary=".len()..];
        let boundary = if let Some(quoted) = raw.strip_prefix('"') {
            quoted.split('"').next().unwrap_or_default()
        } else {
            raw.split(';').next().unwrap_or_default().trim()
        };
        if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
            return None;
        }
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        // The first delimiter may open the body without a CRLF before it.
        let carry = b"\r\n".to_vec();
        Some(MultipartParser {
            delimiter,
            state: State::Preamble,
            carry,
            current: None,
            parts_dropped: 0,
        })
    }

    /// Feeds body content; finished parts are appended to `parts`.
    pub fn feed(&mut self, data: &[u8], parts: &mut Vec<UploadPart>) {
        if self.state == State::Done {
            return;
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let mut i = 0;
        loop {
            match self.state {
                State::Done => break,
                State::Preamble | State::Content => {
                    match memchr::memmem::find(&buf[i..], &self.delimiter) {
                        Some(pos) => {
                            self.record_content(&buf[i..i + pos]);
                            self.finish_part(parts);
                            i += pos + self.delimiter.len();
                            self.state = State::AfterDelimiter;
                        }
                        None => {
                            // Keep a tail that could be the start of a split delimiter.
                            let keep = (self.delimiter.len() - 1).min(buf.len() - i);
                            let cut = buf.len() - keep;
                            self.record_content(&buf[i..cut]);
                            i = cut;
                            break;
                        }
                    }
                }
                State::AfterDelimiter => {
                    if buf.len() - i < 2 {
                        break;
                    }
                    if &buf[i..i + 2] == b"--" {
                        self.state = State::Done;
                        break;
                    }
                    self.state = State::Headers;
                }
                State::Headers => {
                    let rest = &buf[i..];
                    match memchr::memmem::find(rest, b"\r\n\r\n") {
                        Some(end) => {
                            self.current = Some(parse_part_headers(&rest[..end]));
                            i += end + 4;
                            self.state = State::Content;
                        }
                        None if rest.len() > MAX_PART_HEADER_BYTES => {
                            self.state = State::Done;
                            break;
                        }
                        None => break,
                    }
                }
            }
        }
        buf.drain(..i);
        self.carry = buf;
    }

    /// The body ended: a part still open is recorded as it stands.
    pub fn finish(&mut self, parts: &mut Vec<UploadPart>) {
        if self.state == State::Content {
            let rest = std::mem::take(&mut self.carry);
            self.record_content(&rest);
            self.finish_part(parts);
        }
        self.state = State::Done;
    }

    fn record_content(&mut self, bytes: &[u8]) {
        if self.state != State::Content {
            return;
        }
        if let Some(part) = self.current.as_mut() {
            part.size += bytes.len() as u64;
            let room = SNIFF_BYTES.saturating_sub(part.prefix.len());
            part.prefix
                .extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }

    fn finish_part(&mut self, parts: &mut Vec<UploadPart>) {
        let Some(mut part) = self.current.take() else {
            return;
        };
        if parts.len() >= MAX_PARTS {
            self.parts_dropped += 1;
            return;
        }
        part.detected = sniff(&part.prefix);
        parts.push(part);
    }
}

/// Reads Content-Disposition and Content-Type from a part's header block.
fn parse_part_headers(block: &[u8]) -> UploadPart {
    let text = String::from_utf8_lossy(block);
    let mut part = UploadPart::default();
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            part.field_name = disposition_param(value, "name");
            part.filename = disposition_param(value, "filename");
        } else if name.eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.trim().to_owned());
        }
    }
    part
}

/// A `param="value"` (or unquoted) from a Content-Disposition value.
fn disposition_param(value: &str, param: &str) -> Option<String> {
    for piece in value.split(';') {
        let Some((k, v)) = piece.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(param) {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(v);
            return Some(v.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::filetype::FileKind;
    use super::*;

    const BODY: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shell.php.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n<?php system($_GET['c']); ?>\r\n--XyZ--\r\n";

    fn parse_in_pieces(piece: usize) -> Vec<UploadPart> {
        let mut p = MultipartParser::from_content_type("multipart/form-data; boundary=XyZ")
            .expect("boundary");
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
        assert!(
            MultipartParser::from_content_type("multipart/form-data; boundary=\"a b\"").is_some()
        );
        assert!(MultipartParser::from_content_type("multipart/form-data").is_none());
        assert!(MultipartParser::from_content_type("text/plain; boundary=x").is_none());
    }

    #[test]
    fn thousands_of_parts_are_bounded() {
        let mut body = Vec::new();
        for i in 0..5000 {
            body.extend_from_slice(
                format!("--b\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(b"--b--\r\n");
        let mut p = MultipartParser::from_content_type("multipart/form-data; boundary=b")
            .expect("boundary");
        let mut parts = Vec::new();
        p.feed(&body, &mut parts);
        assert_eq!(parts.len(), MAX_PARTS);
        assert_eq!(p.parts_dropped, 5000 - MAX_PARTS as u64);
    }
}
