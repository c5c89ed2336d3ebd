//! The XML request body processor (`ctl:requestBodyProcessor=XML`): the values
//! CRS's `XML:/*` and `XML://@*` targets read, taken from the bytes close to how an XML
//! parser reads them (predefined entities and character references decoded, attribute
//! values normalized, quoted `>` kept, comments, declarations and instructions ended
//! where a parser ends them) without building a tree or loading anything a document
//! refers to. DTD entities are not expanded.

use super::super::collections::Request;
use super::super::{MAX_ARGS, MAX_VALUE_BYTES};

/// XML, as libmodsecurity's XPath selectors read it: the text runs, without tags, as
/// the one `XML:/*` value (the root's string value), and each attribute value as an
/// `XML://@*` value (CRS's attack rules inspect both). Comments and markup
/// declarations (`<!DOCTYPE`, `<!ENTITY`) are skipped, never expanded; the values of
/// internal entities are further `XML:/*` values.
pub(super) fn xml(r: &mut Request, body: &[u8]) {
    let mut i = 0;
    let mut text: Vec<u8> = Vec::new();
    let mut attrs = Attributes::default();
    let mut entities = Attributes::default();
    // A UTF-8 byte order mark may precede the document.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if !body.trim_ascii_start().starts_with(b"<") {
        r.reqbody_error = true;
        return;
    }
    while i < body.len() {
        match memchr::memchr(b'<', &body[i..]) {
            Some(j) => {
                // Text runs keep their whitespace, as in the root's string value: a
                // payload split across elements (`<a>1 OR </a><b>1=1</b>`) reads as
                // one, with its spaces.
                decode_entities(&body[i..i + j], &mut text);
                let rest = &body[i + j..];
                let close = if rest.starts_with(b"<!--") {
                    // A comment is no text, and a `>` inside it does not end it.
                    memchr::memmem::find(&rest[4..], b"-->").map(|e| e + 4 + 3)
                } else if rest.starts_with(b"<![CDATA[") {
                    let end = memchr::memmem::find(rest, b"]]>");
                    if let Some(e) = end {
                        text.extend_from_slice(&rest[9..e]);
                    }
                    end.map(|e| e + 3)
                } else {
                    tag_end(rest).map(|e| {
                        if rest.starts_with(b"<!DOCTYPE") {
                            entity_values(&rest[..e], &mut entities);
                        } else {
                            attrs.read(&rest[..e]);
                        }
                        e + 1
                    })
                };
                match close {
                    Some(c) => i += j + c,
                    None => {
                        r.reqbody_error = true;
                        break;
                    }
                }
            }
            None => {
                decode_entities(&body[i..], &mut text);
                break;
            }
        }
    }
    // Whitespace around the root element is not its text (trimmed with the root's own
    // leading and trailing whitespace, which no rule needs).
    let text = text.trim_ascii();
    // One value, as a parser gives it; past MAX_VALUE_BYTES in overlapping windows, so
    // that text after padding is still inspected (a match across two windows' joint
    // needs more than the overlap).
    let mut start = 0;
    loop {
        let end = text.len().min(start + MAX_VALUE_BYTES);
        r.xml.add(b"/*", &text[start..end]);
        if end == text.len() {
            break;
        }
        start = end - TEXT_WINDOW_OVERLAP;
    }
    // Internal entities are never expanded, but their values are inspected as text: an
    // application that expands `&p;` reads the payload `<!ENTITY p "...">` holds.
    for span in entities.spans {
        r.caps.values_cut += r.xml.add(b"/*", &entities.bytes[span.0..span.1]);
    }
    for span in attrs.spans {
        r.caps.values_cut += r.xml.add(XML_ATTRIBUTES, &attrs.bytes[span.0..span.1]);
    }
}

/// Where the tag at the start of `rest` ends (its `>`). In an element's tag a quoted
/// attribute value may hold `>` (`<a x="1>0 or 1=1">` is well-formed): the end is the
/// first `>` outside quotes, as an XML parser reads it.
fn tag_end(rest: &[u8]) -> Option<usize> {
    if rest.starts_with(b"<?") {
        // A processing instruction ends at `?>`, not at a `>` inside it.
        return memchr::memmem::find(&rest[2..], b"?>").map(|e| e + 2 + 1);
    }
    if rest.starts_with(b"<!") {
        return declaration_end(rest);
    }
    let mut quote = None;
    rest.iter().position(|&b| match quote {
        Some(q) => {
            if b == q {
                quote = None;
            }
            false
        }
        None if b == b'"' || b == b'\'' => {
            quote = Some(b);
            false
        }
        None => b == b'>',
    })
}

/// Where a `<!DOCTYPE ...>` (or other declaration) ends: its `>` outside quotes and
/// outside the internal subset's `[...]`, where comments and processing instructions
/// are skipped whole. Ending at the first `>` instead would let
/// `<!DOCTYPE r SYSTEM "a> <!--">` open a comment a parser never sees, hiding the text
/// after it.
fn declaration_end(rest: &[u8]) -> Option<usize> {
    let mut i = 2;
    let mut depth = 0usize;
    while i < rest.len() {
        let tail = &rest[i..];
        match rest[i] {
            b'"' | b'\'' => i += 1 + memchr::memchr(rest[i], &tail[1..])? + 1,
            b'<' if depth > 0 && tail.starts_with(b"<!--") => {
                i += 4 + memchr::memmem::find(&tail[4..], b"-->")? + 3;
            }
            b'<' if depth > 0 && tail.starts_with(b"<?") => {
                i += 2 + memchr::memmem::find(&tail[2..], b"?>")? + 2;
            }
            b'[' => {
                depth += 1;
                i += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'>' if depth == 0 => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The literal values of the general entities a DOCTYPE's internal subset declares
/// (`<!ENTITY name "value">`), references in them decoded; parameter entities (`%`)
/// and external ones (`SYSTEM`, `PUBLIC`) have none.
fn entity_values(doctype: &[u8], out: &mut Attributes) {
    let mut rest = doctype;
    while let Some(at) = memchr::memmem::find(rest, b"<!ENTITY") {
        let decl = rest[at + 8..].trim_ascii_start();
        rest = &rest[at + 8..];
        if decl.first() == Some(&b'%') {
            continue;
        }
        // The name, then the value if it is quoted.
        let after_name = decl
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .map_or(&b""[..], |n| decl[n..].trim_ascii_start());
        let Some(&quote @ (b'"' | b'\'')) = after_name.first() else {
            continue;
        };
        if let Some(end) = memchr::memchr(quote, &after_name[1..]) {
            out.push_with(&after_name[1..1 + end], decode_entities);
        }
    }
}

/// Bytes two consecutive windows of a long `XML:/*` text share.
const TEXT_WINDOW_OVERLAP: usize = 1024;

/// The selector name attribute values are kept under (`XML://@*`).
const XML_ATTRIBUTES: &[u8] = b"//@*";

/// Values read from a body's markup (attribute values, internal entities' values), in
/// document order. Past [`MAX_ARGS`] values the rest join the last one,
/// space-separated, so that a payload after many decoys is still inspected (and
/// counted as cut if that value outgrows [`MAX_VALUE_BYTES`]).
#[derive(Default)]
struct Attributes {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Attributes {
    fn read(&mut self, tag: &[u8]) {
        if tag.starts_with(b"<!") || tag.starts_with(b"<?") {
            return;
        }
        let mut rest = tag;
        while let Some(q) = rest.iter().position(|&b| b == b'"' || b == b'\'') {
            let quote = rest[q];
            let after = &rest[q + 1..];
            let Some(e) = memchr::memchr(quote, after) else {
                break;
            };
            self.push(&after[..e]);
            rest = &after[e + 1..];
        }
    }

    fn push(&mut self, value: &[u8]) {
        self.push_with(value, attribute_value);
    }

    /// [`Attributes::push`], reading the raw value with `read`.
    fn push_with(&mut self, value: &[u8], read: fn(&[u8], &mut Vec<u8>)) {
        let full = self.spans.len() >= MAX_ARGS;
        match self.spans.last_mut() {
            Some(last) if full => {
                self.bytes.push(b' ');
                read(value, &mut self.bytes);
                last.1 = self.bytes.len();
            }
            _ => {
                let start = self.bytes.len();
                read(value, &mut self.bytes);
                self.spans.push((start, self.bytes.len()));
            }
        }
    }
}

/// An attribute value as a parser hands it on: literal tabs and line ends become spaces
/// (XML 1.0, 3.3.3), references are decoded (a `&#10;` stays a line end).
fn attribute_value(raw: &[u8], out: &mut Vec<u8>) {
    decode(raw, out, true);
}

/// Appends `raw` with XML's references decoded: the five predefined entities and
/// character references (`&#60;`, `&#x3c;`, as UTF-8). Any other `&name;` (a DTD's
/// entity) is kept as written, never expanded, and so is a malformed reference.
fn decode_entities(raw: &[u8], out: &mut Vec<u8>) {
    decode(raw, out, false);
}

/// [`decode_entities`]; `spaces`: literal tabs and line ends become spaces.
fn decode(raw: &[u8], out: &mut Vec<u8>, spaces: bool) {
    let literal = |bytes: &[u8], out: &mut Vec<u8>| {
        if spaces {
            out.extend(bytes.iter().map(|&b| match b {
                b'\t' | b'\n' | b'\r' => b' ',
                _ => b,
            }));
        } else {
            out.extend_from_slice(bytes);
        }
    };
    let mut rest = raw;
    while let Some(amp) = memchr::memchr(b'&', rest) {
        literal(&rest[..amp], out);
        rest = &rest[amp..];
        match reference(rest) {
            Some((len, ch)) => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
                rest = &rest[len..];
            }
            None => {
                out.push(b'&');
                rest = &rest[1..];
            }
        }
    }
    literal(rest, out);
}

/// The reference at the start of `s` (which starts with `&`): its length and character.
fn reference(s: &[u8]) -> Option<(usize, char)> {
    if let Some(num) = s.strip_prefix(b"&#") {
        return char_reference(num).map(|(len, c)| (len + 2, c));
    }
    let semi = s.iter().take(6).position(|&b| b == b';')?;
    let ch = match &s[1..semi] {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"quot" => '"',
        b"apos" => '\'',
        _ => return None,
    };
    Some((semi + 1, ch))
}

/// A character reference after its `&#`: `x` and hex digits or decimal digits, any
/// number of leading zeros (parsers accept `&#00000039;`), then `;`. Its length and
/// character, if it is a valid scalar value.
fn char_reference(s: &[u8]) -> Option<(usize, char)> {
    let (radix, digits_at) = match s.first() {
        Some(b'x' | b'X') => (16, 1),
        _ => (10, 0),
    };
    let digits = &s[digits_at..];
    let zeros = digits.iter().take_while(|&&b| b == b'0').count();
    let mut code: u32 = 0;
    let mut len = zeros;
    for &b in &digits[zeros..] {
        let Some(d) = char::from(b).to_digit(radix) else {
            break;
        };
        // Past U+10FFFF no digit can make it valid again.
        code = code.checked_mul(radix)?.checked_add(d)?;
        if code > 0x10FFFF {
            return None;
        }
        len += 1;
    }
    if len == 0 || digits.get(len) != Some(&b';') {
        return None;
    }
    Some((digits_at + len + 1, char::from_u32(code)?))
}

#[cfg(test)]
mod tests {
    use super::{attribute_value, decode_entities};

    fn decoded(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        decode_entities(raw, &mut out);
        out
    }

    #[test]
    fn predefined_and_character_references_decode() {
        assert_eq!(
            decoded(b"EXECUTE IMMEDIATE &quot;"),
            b"EXECUTE IMMEDIATE \""
        );
        assert_eq!(decoded(b"&lt;script&gt;&amp;&apos;"), b"<script>&'");
        assert_eq!(
            decoded(b"&#60;&#x3C;&#X3c;&#8217;"),
            "<<<\u{2019}".as_bytes()
        );
        let zeros = format!("&#{}39;&#x{}27;", "0".repeat(100), "0".repeat(40));
        assert_eq!(decoded(zeros.as_bytes()), b"''");
    }

    #[test]
    fn other_references_stay_as_written() {
        for raw in [
            &b"&e;"[..],
            b"a & b",
            b"&#;",
            b"&#x;",
            b"&#+60;",
            b"&#x+3c;",
            b"&#xD800;",
            b"&#99999999999;",
            b"&lt",
            b"&",
        ] {
            assert_eq!(decoded(raw), raw, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn attribute_whitespace_becomes_spaces_but_references_do_not() {
        let mut out = Vec::new();
        attribute_value(b"a\tb\nc&#10;d", &mut out);
        assert_eq!(out, b"a b c\nd");
    }
}
