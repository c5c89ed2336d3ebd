//! multipart/form-data (RFC 7578) as a stream: part names, filenames, declared types,
//! sizes and the first bytes of each file, never the content itself.
//!
//! Bytes arrive in arbitrary pieces; a delimiter may be split across two of them, so a
//! tail shorter than the delimiter is carried over. The carry is bounded by the part
//! header cap, and parts past [`MAX_PARTS`] are counted, not recorded. Lines may end in
//! CRLF or a bare LF (PHP accepts both). Where servers read a boundary or a filename
//! differently, every reading is kept: [`boundary_readings`] gives one parser per
//! boundary, and a part's filename keeps each reading.

use super::filetype::{sniff, SNIFF_BYTES};
use super::params::{decode_ext_value, split_params};
use super::parse::find_head_end;
use super::UploadPart;

/// Parts recorded per request; further parts are counted in `parts_dropped`.
pub const MAX_PARTS: usize = 64;
/// A part's header block longer than this ends multipart parsing for the request.
pub const MAX_PART_HEADER_BYTES: usize = 8 * 1024;
/// Boundary readings parsed per request (parameter parse, PHP's substring search, a
/// repeated `boundary=`): bounded so a Content-Type cannot multiply the work.
pub const MAX_BOUNDARY_READINGS: usize = 3;
/// Filename readings kept per part.
pub const MAX_FILENAME_READINGS: usize = 4;
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
    /// `\n--boundary`: the delimiter as it appears between parts (a CR before it is
    /// the line end's, not content).
    delimiter: Vec<u8>,
    state: State,
    carry: Vec<u8>,
    current: Option<UploadPart>,
    /// Parts beyond [`MAX_PARTS`].
    pub parts_dropped: u64,
    /// Content-Disposition parameters beyond [`super::params::MAX_PARAMS`].
    pub params_dropped: u64,
}

/// The boundaries servers could read from a multipart Content-Type, the RFC reading
/// (the first `boundary` parameter) first, and whether they disagree. PHP finds the
/// substring `boundary` anywhere and takes what follows the next `=`, so
/// `xboundary=decoy; boundary=real` has two readings; a repeated `boundary=` parameter
/// is another.
pub fn boundary_readings(content_type: &str) -> (Vec<String>, bool) {
    let mut readings: Vec<String> = Vec::new();
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        return (readings, false);
    }
    let (params, _) = split_params(content_type);
    let mut add = |b: &str| {
        let b = b.trim();
        if !b.is_empty()
            && b.len() <= MAX_BOUNDARY_LEN
            && readings.len() < MAX_BOUNDARY_READINGS
            && !readings.iter().any(|r| r == b)
        {
            readings.push(b.to_owned());
        }
    };
    let params: Vec<&str> = params
        .iter()
        .filter(|p| p.name == "boundary")
        .map(|p| p.value.as_str())
        .collect();
    if let Some(first) = params.first() {
        add(first);
    }
    // PHP's rfc1867 reader: the first "boundary" anywhere (exact case first), then the
    // next '=' (so `PHPboundaryPHP=x` and `xboundary=x` are boundaries to it).
    let at = content_type
        .find("boundary")
        .or_else(|| content_type.to_ascii_lowercase().find("boundary"));
    let raw = at.and_then(|at| {
        let rest = &content_type[at..];
        rest.find('=').map(|eq| &rest[eq + 1..])
    });
    if let Some(raw) = raw {
        let substring = match raw.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or_default(),
            None => raw.split([';', ',']).next().unwrap_or_default(),
        };
        add(substring);
    }
    for p in params.iter().skip(1) {
        add(p);
    }
    let ambiguous = readings.len() > 1;
    (readings, ambiguous)
}

impl MultipartParser {
    /// A parser for the boundary from a Content-Type header, if it has a valid one.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        Self::all_from_content_type(content_type).into_iter().next()
    }

    /// One parser per boundary reading (see [`boundary_readings`]).
    pub fn all_from_content_type(content_type: &str) -> Vec<Self> {
        boundary_readings(content_type)
            .0
            .iter()
            .map(|b| Self::with_boundary(b))
            .collect()
    }

    /// The boundary this parser reads.
    pub fn boundary(&self) -> &[u8] {
        self.delimiter.get(3..).unwrap_or_default()
    }

    fn with_boundary(boundary: &str) -> Self {
        let mut delimiter = b"\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        // The first delimiter may open the body without a line end before it.
        let carry = b"\n".to_vec();
        MultipartParser {
            delimiter,
            state: State::Preamble,
            carry,
            current: None,
            parts_dropped: 0,
            params_dropped: 0,
        }
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
                            let content = &buf[i..i + pos];
                            let content = content.strip_suffix(b"\r").unwrap_or(content);
                            self.record_content(content);
                            self.finish_part(parts);
                            i += pos + self.delimiter.len();
                            self.state = State::AfterDelimiter;
                        }
                        None => {
                            // Keep a tail that could be a CR and a split delimiter.
                            let keep = self.delimiter.len().min(buf.len() - i);
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
                    match find_head_end(rest) {
                        Some(end) => {
                            let (part, dropped) = parse_part_headers(&rest[..end]);
                            self.params_dropped += u64::from(dropped);
                            self.current = Some(part);
                            i += end;
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

/// Reads Content-Disposition and Content-Type from a part's header block (lines end in
/// CRLF or LF). Returns the part and the parameters dropped over the cap.
fn parse_part_headers(block: &[u8]) -> (UploadPart, u32) {
    let text = String::from_utf8_lossy(block);
    let mut part = UploadPart::default();
    let mut dropped = 0;
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") && part.field_name.is_none() {
            dropped += read_disposition(value, &mut part);
        } else if name.eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.trim().to_owned());
        }
    }
    (part, dropped)
}

/// Fills the field name and every filename reading from a Content-Disposition value.
fn read_disposition(value: &str, part: &mut UploadPart) -> u32 {
    let (params, dropped) = split_params(value);
    let mut plain: Vec<String> = Vec::new();
    let mut extended: Vec<String> = Vec::new();
    for p in params {
        match p.name.as_str() {
            "name" if part.field_name.is_none() => part.field_name = Some(p.value),
            "filename" => plain.push(p.value),
            "filename*" => extended.push(decode_ext_value(&p.value)),
            _ => {}
        }
    }
    let mut readings = plain.into_iter().chain(extended);
    part.filename = readings.next();
    for r in readings {
        if part.alt_filenames.len() + 1 >= MAX_FILENAME_READINGS {
            break;
        }
        if part.filename.as_deref() != Some(r.as_str()) && !part.alt_filenames.contains(&r) {
            part.alt_filenames.push(r);
        }
    }
    let ext = |n: &str| {
        n.rsplit('/')
            .next()
            .and_then(|b| b.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase())
    };
    let first = part.filename.as_deref().and_then(ext);
    part.ambiguous_filename = part.alt_filenames.iter().any(|a| ext(a) != first);
    dropped
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
        let mut p = MultipartParser::from_content_type("multipart/form-data; boundary=XyZ")
            .expect("boundary");
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
        let (readings, _) =
            boundary_readings("multipart/form-data; PHPboundaryPHP=php; boundary=waf");
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
