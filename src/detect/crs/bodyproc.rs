//! Request body processors: URL-encoded forms, multipart, JSON (leaves become ARGS named
//! `json.a.b`, arrays `json.a.0`, as Coraza and libmodsecurity name them) and XML (text
//! content into `XML:/*`; entities are never expanded: no DTD is read).
//!
//! The processor is chosen by `ctl:requestBodyProcessor` or, failing that, by the
//! Content-Type as ModSecurity's recommended configuration does. A body that does not
//! parse sets REQBODY_ERROR, as in ModSecurity.

use super::collections::{parse_urlencoded, Processor, Request};
use super::{MAX_ARGS, MAX_BODY_BYTES};
use crate::http::HttpTransaction;

mod xml;

/// JSON nesting deeper than this is a body error.
const MAX_JSON_DEPTH: usize = 64;

/// The processor for a Content-Type.
pub fn processor_for(content_type: Option<&[u8]>) -> Processor {
    let Some(ct) = content_type else {
        return Processor::None;
    };
    let ct = ct.to_ascii_lowercase();
    let ct = ct.trim_ascii_start();
    if ct.starts_with(b"application/x-www-form-urlencoded") {
        Processor::UrlEncoded
    } else if ct.starts_with(b"multipart/form-data") {
        Processor::Multipart
    } else if ct.starts_with(b"application/json")
        || (ct.starts_with(b"application/") && memchr::memmem::find(ct, b"+json").is_some())
    {
        Processor::Json
    } else if ct.starts_with(b"application/xml")
        || ct.starts_with(b"text/xml")
        || ct.starts_with(b"application/soap+xml")
    {
        Processor::Xml
    } else {
        Processor::None
    }
}

/// Fills the phase-2 variables: REQUEST_BODY and what `processor` finds in it.
pub fn build_phase2(r: &mut Request, txn: &HttpTransaction, processor: Option<Processor>) {
    let body = &txn.body_prefix;
    let n = body.len().min(MAX_BODY_BYTES);
    r.caps.body_cut +=
        u64::from(body.len() > MAX_BODY_BYTES || txn.request_body_len > body.len() as u64);
    r.body.clear();
    r.body.extend_from_slice(&body[..n]);
    let ct = r.header("content-type").map(<[u8]>::to_vec);
    r.processor = processor.unwrap_or_else(|| processor_for(ct.as_deref()));
    let body = std::mem::take(&mut r.body);
    match r.processor {
        Processor::UrlEncoded => {
            let already = r.args_get.len();
            let mut s = std::mem::take(&mut r.scratch);
            let c = parse_urlencoded(&body, &mut r.args_post, &mut s, already);
            r.caps.add(c);
            r.scratch = s;
        }
        Processor::Json => json(r, &body),
        Processor::Xml => xml::xml(r, &body),
        Processor::Multipart => multipart(r, &body, ct.as_deref().unwrap_or(b"")),
        Processor::None => {}
    }
    r.body = body;
    for u in &txn.uploads {
        if r.processor == Processor::Multipart && !r.files.is_empty() {
            break;
        }
        let field = u.field_name.as_deref().unwrap_or("").as_bytes();
        r.caps.values_cut += r
            .files
            .add(field, u.filename.as_deref().unwrap_or("").as_bytes());
        r.files_sizes.add(field, u.size.to_string().as_bytes());
    }
    r.files_combined = txn
        .uploads
        .iter()
        .map(|u| u.size)
        .sum::<u64>()
        .max(r.files_combined);
}

fn json(r: &mut Request, body: &[u8]) {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            r.reqbody_error = true;
            return;
        }
    };
    let mut name = b"json".to_vec();
    if !walk_json(r, &v, &mut name, 0) {
        r.reqbody_error = true;
    }
}

fn walk_json(r: &mut Request, v: &serde_json::Value, name: &mut Vec<u8>, depth: usize) -> bool {
    use serde_json::Value;
    if depth > MAX_JSON_DEPTH {
        return false;
    }
    let push = |r: &mut Request, name: &[u8], val: &[u8]| {
        if r.arg_count() >= MAX_ARGS {
            r.caps.args_dropped += 1;
        } else {
            r.caps.values_cut += r.args_post.add(name, val);
        }
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let len = name.len();
                name.push(b'.');
                name.extend_from_slice(k.as_bytes());
                let ok = walk_json(r, x, name, depth + 1);
                name.truncate(len);
                if !ok {
                    return false;
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = name.len();
                name.push(b'.');
                name.extend_from_slice(i.to_string().as_bytes());
                let ok = walk_json(r, x, name, depth + 1);
                name.truncate(len);
                if !ok {
                    return false;
                }
            }
        }
        Value::String(s) => push(r, name, s.as_bytes()),
        Value::Number(n) => push(r, name, n.to_string().as_bytes()),
        Value::Bool(b) => push(r, name, if *b { b"true" } else { b"false" }),
        Value::Null => push(r, name, b""),
    }
    true
}

/// Bytes of a part's name kept with each of its MULTIPART_PART_HEADERS lines.
const MAX_PART_NAME_BYTES: usize = 64;

/// Multipart: fields into ARGS_POST, files into FILES, every part header line into
/// MULTIPART_PART_HEADERS.
fn multipart(r: &mut Request, body: &[u8], ct: &[u8]) {
    let Some(b) = boundary(ct) else {
        r.reqbody_error = true;
        r.multipart_strict_error = true;
        return;
    };
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(&b);
    let mut pos = match memchr::memmem::find(body, &delim) {
        Some(p) => p + delim.len(),
        None => {
            r.reqbody_error = true;
            r.multipart_strict_error = true;
            return;
        }
    };
    loop {
        if body[pos..].starts_with(b"--") {
            return;
        }
        let rest = &body[pos..];
        let rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .unwrap_or(rest);
        let Some(head_end) = memchr::memmem::find(rest, b"\r\n\r\n")
            .map(|e| (e, 4))
            .or_else(|| memchr::memmem::find(rest, b"\n\n").map(|e| (e, 2)))
        else {
            return;
        };
        let head = &rest[..head_end.0];
        let content_start = head_end.0 + head_end.1;
        let (content, next) = match memchr::memmem::find(&rest[content_start..], &delim) {
            Some(e) => (
                &rest[content_start..content_start + e],
                Some(content_start + e),
            ),
            None => (&rest[content_start..], None),
        };
        let content = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        let mut name: &[u8] = b"";
        let mut filename: Option<&[u8]> = None;
        let lines = || {
            head.split(|&c| c == b'\n')
                .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
                .filter(|line| !line.is_empty())
        };
        for line in lines() {
            if line.len() >= 19 && line[..19].eq_ignore_ascii_case(b"content-disposition") {
                name = param(line, b"name").unwrap_or(b"");
                filename = param(line, b"filename");
            }
        }
        // Each header line under its part's name, as libmodsecurity keys the
        // collection (922100 counts `&MULTIPART_PART_HEADERS:_charset_`).
        // The name is cut for this copy (one per line): a 16 KiB name on thousands of
        // one-byte lines would otherwise be hundreds of MiB (selectors name short
        // fields such as `_charset_`).
        let key = &name[..name.len().min(MAX_PART_NAME_BYTES)];
        for line in lines() {
            r.caps.values_cut += r.part_headers.add(key, line);
        }
        match filename {
            Some(f) => {
                r.caps.values_cut += r.files.add(name, f);
                r.files_sizes
                    .add(name, content.len().to_string().as_bytes());
                r.files_combined += content.len() as u64;
            }
            None => {
                if r.arg_count() >= MAX_ARGS {
                    r.caps.args_dropped += 1;
                } else {
                    r.caps.values_cut += r.args_post.add(name, content);
                }
            }
        }
        match next {
            Some(n) => pos += (body[pos..].len() - rest.len()) + n + delim.len(),
            None => return,
        }
    }
}

fn boundary(ct: &[u8]) -> Option<Vec<u8>> {
    let v = param(ct, b"boundary")?;
    (!v.is_empty()).then(|| v.to_vec())
}

/// The value of `key=` (quoted or not) in a header value.
fn param<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&lower[from..], key) {
        let at = from + i;
        let before_ok = at == 0 || matches!(lower[at - 1], b' ' | b';' | b'\t');
        let after = &line[at + key.len()..];
        let after_trim = after.trim_ascii_start();
        if before_ok && after_trim.starts_with(b"=") {
            let v = after_trim[1..].trim_ascii_start();
            return Some(if let Some(q) = v.strip_prefix(b"\"") {
                &q[..memchr::memchr(b'"', q).unwrap_or(q.len())]
            } else {
                let end = v
                    .iter()
                    .position(|&c| c == b';' || c == b' ')
                    .unwrap_or(v.len());
                &v[..end]
            });
        }
        from = at + key.len();
    }
    None
}

#[cfg(test)]
#[path = "bodyproc_tests.rs"]
mod tests;
