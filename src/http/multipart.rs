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
#[path = "multipart_tests.rs"]
mod tests;
