//! The request's variables, built from an [`HttpTransaction`] into reused buffers.
//!
//! Phase 1 fills the request line, headers, cookies and query arguments; phase 2 adds
//! what the body processor ([`super::bodyproc`]) finds. Every value is cut at
//! [`MAX_VALUE_BYTES`](super::MAX_VALUE_BYTES) and arguments past
//! [`MAX_ARGS`](super::MAX_ARGS) are dropped; both are counted in `caps`.

use std::io::Write as _;

use super::model::Var;
use super::transform::Transform;
use super::{MAX_ARGS, MAX_VALUE_BYTES};
use crate::http::HttpTransaction;

/// Caps hit while building one transaction's variables, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CapCounts {
    /// Names or values cut at [`MAX_VALUE_BYTES`] before any transformation.
    pub values_cut: u64,
    /// Arguments dropped past [`MAX_ARGS`].
    pub args_dropped: u64,
    /// Bodies cut at [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES) or missing bytes the
    /// capture did not hold.
    pub body_cut: u64,
}

impl CapCounts {
    pub fn add(&mut self, o: CapCounts) {
        self.values_cut += o.values_cut;
        self.args_dropped += o.args_dropped;
        self.body_cut += o.body_cut;
    }

    pub fn total(&self) -> u64 {
        self.values_cut + self.args_dropped + self.body_cut
    }
}

/// A name and its value.
#[derive(Debug, Default, Clone)]
pub struct Kv {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// A list of [`Kv`] whose buffers are kept between transactions.
#[derive(Debug, Default)]
pub struct Pool {
    items: Vec<Kv>,
    len: usize,
}

impl Pool {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// A cleared slot at the end.
    pub fn push(&mut self) -> &mut Kv {
        if self.len == self.items.len() {
            self.items.push(Kv::default());
        }
        let kv = &mut self.items[self.len];
        kv.name.clear();
        kv.value.clear();
        self.len += 1;
        kv
    }

    /// Adds `name`=`value`, each cut at the value cap; returns caps hit.
    pub fn add(&mut self, name: &[u8], value: &[u8]) -> u64 {
        let kv = self.push();
        kv.name
            .extend_from_slice(&name[..name.len().min(MAX_VALUE_BYTES)]);
        kv.value
            .extend_from_slice(&value[..value.len().min(MAX_VALUE_BYTES)]);
        u64::from(name.len() > MAX_VALUE_BYTES) + u64::from(value.len() > MAX_VALUE_BYTES)
    }

    pub fn as_slice(&self) -> &[Kv] {
        &self.items[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Which body processor parsed (or will parse) the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Processor {
    #[default]
    None,
    UrlEncoded,
    Multipart,
    Json,
    Xml,
}

impl Processor {
    pub fn name(self) -> &'static [u8] {
        match self {
            Processor::None => b"",
            Processor::UrlEncoded => b"URLENCODED",
            Processor::Multipart => b"MULTIPART",
            Processor::Json => b"JSON",
            Processor::Xml => b"XML",
        }
    }

    pub fn from_name(n: &str) -> Option<Processor> {
        Some(match n {
            "URLENCODED" => Processor::UrlEncoded,
            "MULTIPART" => Processor::Multipart,
            "JSON" => Processor::Json,
            "XML" => Processor::Xml,
            _ => return None,
        })
    }
}

/// Every request variable of one transaction.
#[derive(Debug, Default)]
pub struct Request {
    pub args_get: Pool,
    pub args_post: Pool,
    pub cookies: Pool,
    pub headers: Pool,
    /// Field name -> file name.
    pub files: Pool,
    /// Field name -> size.
    pub files_sizes: Pool,
    /// Field name -> one header line of the part.
    pub part_headers: Pool,
    pub xml: Pool,
    pub method: Vec<u8>,
    pub uri: Vec<u8>,
    pub filename: Vec<u8>,
    pub basename: Vec<u8>,
    pub line: Vec<u8>,
    pub protocol: Vec<u8>,
    pub query: Vec<u8>,
    pub body: Vec<u8>,
    pub body_len: Vec<u8>,
    pub remote_addr: Vec<u8>,
    pub scratch: Vec<u8>,
    pub processor: Processor,
    pub reqbody_error: bool,
    pub multipart_strict_error: bool,
    pub force_body_var: bool,
    pub files_combined: u64,
    /// Caps hit while building (values cut, arguments dropped, body cut).
    pub caps: CapCounts,
}

impl Request {
    /// Fills the phase-1 variables from `txn`.
    pub fn build_phase1(&mut self, txn: &HttpTransaction) {
        for p in [
            &mut self.args_get,
            &mut self.args_post,
            &mut self.cookies,
            &mut self.headers,
            &mut self.files,
            &mut self.files_sizes,
            &mut self.part_headers,
            &mut self.xml,
        ] {
            p.clear();
        }
        for b in [
            &mut self.method,
            &mut self.uri,
            &mut self.filename,
            &mut self.basename,
            &mut self.line,
            &mut self.protocol,
            &mut self.query,
            &mut self.body,
            &mut self.body_len,
            &mut self.remote_addr,
        ] {
            b.clear();
        }
        self.processor = Processor::None;
        self.reqbody_error = false;
        self.multipart_strict_error = false;
        self.force_body_var = false;
        self.files_combined = 0;
        self.caps = CapCounts::default();
        let Some(req) = &txn.request else { return };
        self.method.extend_from_slice(req.method.as_bytes());
        let uri = req.uri.as_bytes();
        self.uri
            .extend_from_slice(&uri[..uri.len().min(MAX_VALUE_BYTES)]);
        self.caps.values_cut += u64::from(uri.len() > MAX_VALUE_BYTES);
        let (path, query) = match memchr::memchr(b'?', &self.uri) {
            Some(i) => (&self.uri[..i], Some(&self.uri[i + 1..])),
            None => (&self.uri[..], None),
        };
        // Absolute-form targets: the path starts after scheme://authority.
        let path = match memchr::memmem::find(path, b"://") {
            Some(i) if !path.starts_with(b"/") => {
                let rest = &path[i + 3..];
                &rest[memchr::memchr(b'/', rest).unwrap_or(rest.len())..]
            }
            _ => path,
        };
        // REQUEST_FILENAME and REQUEST_BASENAME are the decoded path, as libmodsecurity
        // (its decoded URI) and Coraza (Go's URL path) fill them: CRS's rules on them
        // (933160's `subSTR%28%24x%29`) expect `%28` read as `(`.
        crate::http::uri::percent_decode_into(path, &mut self.filename);
        let base = match memchr::memrchr2(b'/', b'\\', &self.filename) {
            Some(i) => &self.filename[i + 1..],
            None => &self.filename[..],
        };
        self.basename.extend_from_slice(base);
        if let Some(q) = query {
            self.query.extend_from_slice(q);
        }
        self.line.extend_from_slice(req.method.as_bytes());
        self.line.push(b' ');
        self.line.extend_from_slice(&self.uri);
        self.line.push(b' ');
        self.line.extend_from_slice(req.version.as_bytes());
        if req.version.starts_with("HTTP/") {
            self.protocol.extend_from_slice(req.version.as_bytes());
        } else {
            self.protocol.extend_from_slice(b"HTTP/");
            self.protocol.extend_from_slice(req.version.as_bytes());
        }
        let query = std::mem::take(&mut self.query);
        let mut scratch = std::mem::take(&mut self.scratch);
        let c = parse_urlencoded(&query, &mut self.args_get, &mut scratch, 0);
        self.caps.add(c);
        self.query = query;
        for h in &req.headers {
            self.caps.values_cut += self.headers.add(h.name.as_bytes(), h.value.as_bytes());
            if h.name.eq_ignore_ascii_case("cookie") {
                for c in h.value.split(';') {
                    let c = c.trim();
                    if c.is_empty() {
                        continue;
                    }
                    let (n, v) = c.split_once('=').unwrap_or((c, ""));
                    self.caps.values_cut += self.cookies.add(n.as_bytes(), v.as_bytes());
                }
            }
        }
        // Written in place (a Vec never fails to take them): no string per transaction.
        let _ = write!(self.remote_addr, "{}", txn.client.ip());
        let _ = write!(self.body_len, "{}", txn.request_body_len);
        self.scratch = scratch;
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .as_slice()
            .iter()
            .find(|kv| kv.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|kv| kv.value.as_slice())
    }

    /// Number of arguments (GET and POST).
    pub fn arg_count(&self) -> usize {
        self.args_get.len() + self.args_post.len()
    }

    /// Whether REQUEST_BODY holds the body. The multipart and XML processors leave it
    /// empty unless ctl:forceRequestBodyVariable (ModSecurity v2, Coraza); the CRS tests
    /// 944120-6/7 (XML) expect it, 934210-13 (JSON) expects the JSON body.
    pub fn body_exposed(&self) -> bool {
        let parsed = matches!(self.processor, Processor::Multipart | Processor::Xml);
        !parsed || self.force_body_var
    }

    /// The scalar value of `var`, for variables that are not collections.
    pub fn scalar(&self, var: Var, out: &mut Vec<u8>) -> bool {
        out.clear();
        let s: &[u8] = match var {
            Var::RequestMethod => &self.method,
            Var::RequestUri | Var::RequestUriRaw => &self.uri,
            Var::RequestFilename => &self.filename,
            Var::RequestBasename => &self.basename,
            Var::RequestLine => &self.line,
            Var::RequestProtocol => &self.protocol,
            Var::QueryString => &self.query,
            Var::RequestBody => {
                if !self.body_exposed() {
                    return false;
                }
                &self.body
            }
            Var::RequestBodyLength => &self.body_len,
            Var::ReqbodyProcessor => self.processor.name(),
            Var::ReqbodyError => bool_str(self.reqbody_error),
            Var::MultipartStrictError | Var::MultipartUnmatchedBoundary => {
                bool_str(self.multipart_strict_error)
            }
            Var::RemoteAddr => &self.remote_addr,
            Var::UniqueId => b"0",
            Var::Duration => b"0",
            Var::ArgsCombinedSize => {
                let n: usize = self
                    .args_get
                    .as_slice()
                    .iter()
                    .chain(self.args_post.as_slice())
                    .map(|kv| kv.name.len() + kv.value.len())
                    .sum();
                let _ = write!(out, "{n}");
                return true;
            }
            Var::FilesCombinedSize => {
                let _ = write!(out, "{}", self.files_combined);
                return true;
            }
            _ => return false,
        };
        out.extend_from_slice(s);
        true
    }
}

fn bool_str(b: bool) -> &'static [u8] {
    if b {
        b"1"
    } else {
        b"0"
    }
}

/// Parses `a=1&b=2` into `pool`, URL-decoding names and values as ModSecurity does.
/// Returns caps hit (values cut, arguments past [`MAX_ARGS`] given `already` present).
pub fn parse_urlencoded(
    text: &[u8],
    pool: &mut Pool,
    scratch: &mut Vec<u8>,
    already: usize,
) -> CapCounts {
    let mut caps = CapCounts::default();
    for pair in text.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        if pool.len() + already >= MAX_ARGS {
            caps.args_dropped += 1;
            break;
        }
        let (n, v) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        caps.values_cut +=
            u64::from(n.len() > MAX_VALUE_BYTES) + u64::from(v.len() > MAX_VALUE_BYTES);
        let kv = pool.push();
        Transform::UrlDecode.apply(&n[..n.len().min(MAX_VALUE_BYTES)], scratch);
        kv.name.extend_from_slice(scratch);
        Transform::UrlDecode.apply(&v[..v.len().min(MAX_VALUE_BYTES)], scratch);
        kv.value.extend_from_slice(scratch);
    }
    caps
}

#[cfg(test)]
#[path = "collections_tests.rs"]
mod tests;
