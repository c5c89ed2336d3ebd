//! The readings a server could take of one request, where servers differ.
//!
//! A monitor that reads a request one way while the server reads it another is blind
//! to the difference. So the target is read as nginx and Apache read an absolute-form
//! target (its path, not the whole URL), the method as frameworks read overrides
//! (headers, then a `_method` body field, then a `_method` query parameter), and where
//! two readings can disagree (two Content-Length values, two boundaries, two override
//! values) the disagreement is itself an anomaly and every reading is judged.

use super::fields::lowercase::eq_ignore_case;
use super::fields::MAX_PARAMS;
use super::normalize::{self, Decoded};
use crate::http::multipart::boundary_readings;
use crate::http::{HttpTransaction, RequestHead};

/// Method readings kept per request (distinct override values beyond this are ignored).
pub const MAX_METHOD_READINGS: usize = 4;

/// Longest override value taken as a method (WebDAV's longest name is 16 bytes).
const MAX_OVERRIDE_METHOD_BYTES: usize = 32;

/// Headers that override the method on frameworks that honour them.
const OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The headers whose repeats [`ambiguities`] compares.
const CONTENT_LENGTH: &str = "content-length";
const CONTENT_TYPE: &str = "content-type";

/// A request target split as a server routes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// `/path?query` (an absolute-form target without its scheme and authority).
    pub origin: &'a [u8],
    /// The authority of an absolute-form target (`host:port`), which servers use as
    /// the host.
    pub authority: Option<&'a [u8]>,
}

/// Reads a request target: absolute-form (`http://host/path`) becomes its path, as
/// nginx and Apache route it (RFC 9112 §3.2.2); other forms are unchanged.
pub fn target(uri: &[u8]) -> Target<'_> {
    let rest = [&b"http://"[..], b"https://"].iter().find_map(|scheme| {
        let head = uri.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &uri[scheme.len()..])
    });
    let Some(rest) = rest else {
        return Target {
            origin: uri,
            authority: None,
        };
    };
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?' || b == b'#')
        .unwrap_or(rest.len());
    let origin = &rest[end..];
    Target {
        origin: if origin.is_empty() { b"/" } else { origin },
        authority: Some(&rest[..end]),
    }
}

/// The method readings of a request, upper case, the effective one first: override
/// headers, then a `_method` form or multipart field, then a `_method` query parameter;
/// the method itself when there is no override. `body_params` are the decoded pairs of
/// a urlencoded body.
pub fn method_readings(
    txn: &HttpTransaction,
    query_params: &[(Decoded, Decoded)],
    body_params: &[(Decoded, Decoded)],
) -> Vec<String> {
    let mut out = Vec::new();
    method_readings_into(txn, query_params, body_params, &mut out, &mut Vec::new());
    out
}

/// [`method_readings`] into `out` (emptied first), its strings taken from `spare`
/// when it has some: a request's method reading was two allocations per transaction.
/// Strings no longer needed go back to `spare`.
pub fn method_readings_into(
    txn: &HttpTransaction,
    query_params: &[(Decoded, Decoded)],
    body_params: &[(Decoded, Decoded)],
    out: &mut Vec<String>,
    spare: &mut Vec<String>,
) {
    spare.append(out);
    let Some(req) = txn.request.as_ref() else {
        return;
    };
    let add = |m: &[u8], out: &mut Vec<String>, spare: &mut Vec<String>| {
        let m = m.trim_ascii();
        // Frameworks take only a method name (Symfony: letters only); anything else is
        // not an override they would honour.
        let is_method = (1..=MAX_OVERRIDE_METHOD_BYTES).contains(&m.len())
            && m.iter()
                .all(|&b| b.is_ascii_alphabetic() || b == b'-' || b == b'_');
        if !is_method || out.len() >= MAX_METHOD_READINGS {
            return;
        }
        // ASCII letters, `-` and `_` only: each byte is its own char.
        let same = |s: &String| s.len() == m.len() && s.as_bytes().eq_ignore_ascii_case(m);
        if !out.iter().any(same) {
            let mut s = spare.pop().unwrap_or_default();
            s.clear();
            s.extend(m.iter().map(|&b| char::from(b.to_ascii_uppercase())));
            out.push(s);
        }
    };
    for h in &req.headers {
        if OVERRIDE_HEADERS
            .iter()
            .any(|o| eq_ignore_case(h.name.as_bytes(), o.as_bytes()))
        {
            add(h.value.as_bytes(), out, spare);
        }
    }
    let is_override = |name: &Decoded| name.text.eq_ignore_ascii_case(b"_method");
    for (name, value) in body_params {
        if is_override(name) {
            add(&value.text, out, spare);
        }
    }
    for part in &txn.uploads {
        if part.filename.is_none() && part.field_name.as_deref() == Some("_method") {
            add(&part.prefix, out, spare);
        }
    }
    for (name, value) in query_params {
        if is_override(name) {
            add(&value.text, out, spare);
        }
    }
    if out.is_empty() {
        let mut s = spare.pop().unwrap_or_default();
        s.clear();
        // A method that starts and ends with a printable ASCII byte has nothing to
        // trim (a Unicode space starts with a byte over 0x7F).
        let method = req.method.as_str();
        let graphic = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
        if graphic(method.as_bytes().first()) && graphic(method.as_bytes().last()) {
            s.push_str(method);
        } else {
            s.push_str(method.trim());
        }
        s.make_ascii_uppercase();
        out.push(s);
    }
}

/// Query parameters of a target, decoded.
pub fn query_params(query: Option<&[u8]>) -> Vec<(Decoded, Decoded)> {
    query
        .map(|q| normalize::params(q, MAX_PARAMS))
        .unwrap_or_default()
}

/// Framing and parsing ambiguities of a request: where the client and the server (or
/// two servers) could read it differently.
pub fn ambiguities(req: &RequestHead, methods: &[String]) -> Vec<&'static str> {
    let mut out = Vec::new();
    if req.headers_dropped > 0 {
        out.push("headers_over_cap");
    }
    // One pass over the headers (a name of another length is told apart at once).
    let mut lengths: Vec<&str> = Vec::new();
    let mut first_type: Option<&str> = None;
    let mut types_differ = false;
    let mut boundaries_disagree = false;
    for h in &req.headers {
        let name = h.name.as_str();
        if eq_ignore_case(name.as_bytes(), CONTENT_LENGTH.as_bytes()) {
            lengths.extend(h.value.split(',').map(str::trim));
        } else if eq_ignore_case(name.as_bytes(), CONTENT_TYPE.as_bytes()) {
            let t = h.value.trim();
            match first_type {
                None => first_type = Some(t),
                Some(first) => types_differ |= !t.eq_ignore_ascii_case(first),
            }
            boundaries_disagree = boundaries_disagree || boundary_readings(&h.value).1;
        }
    }
    if lengths.windows(2).any(|w| w[0] != w[1]) {
        out.push("ambiguous_content_length");
    }
    if types_differ {
        out.push("ambiguous_content_type");
    }
    if boundaries_disagree {
        out.push("ambiguous_boundary");
    }
    if methods.len() > 1 {
        out.push("ambiguous_method_override");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpTransaction, UploadPart};

    fn txn(method: &str, uri: &str, headers: &[(&str, &str)]) -> HttpTransaction {
        HttpTransaction::with_request(method, uri, headers)
    }

    #[test]
    fn absolute_form_targets_are_routed_by_their_path() {
        let t = target(b"http://127.0.0.1:8080/admin/pages/1?x=1");
        assert_eq!(t.origin, b"/admin/pages/1?x=1");
        assert_eq!(t.authority, Some(&b"127.0.0.1:8080"[..]));
        assert_eq!(target(b"HTTPS://h").origin, b"/");
        assert_eq!(target(b"http://h?q").origin, b"?q");
        assert_eq!(target(b"/plain").origin, b"/plain");
        assert_eq!(target(b"/plain").authority, None);
        assert_eq!(target(b"http:/").origin, b"http:/");
    }

    #[test]
    fn a_body_method_field_overrides_like_a_header() {
        let t = txn("POST", "/admin/pages/2", &[]);
        let body = normalize::params(b"title=x&_method=delete", MAX_PARAMS);
        assert_eq!(method_readings(&t, &[], &body), vec!["DELETE"]);
        assert_eq!(method_readings(&t, &[], &[]), vec!["POST"]);
    }

    #[test]
    fn a_multipart_method_field_overrides() {
        let mut t = txn("POST", "/api/news/3", &[]);
        t.uploads.push(UploadPart {
            field_name: Some("_method".into()),
            prefix: b"PUT".to_vec(),
            ..UploadPart::default()
        });
        assert_eq!(method_readings(&t, &[], &[]), vec!["PUT"]);
    }

    #[test]
    fn override_values_that_are_not_method_names_are_ignored() {
        let t = txn("POST", "/x", &[("X-HTTP-Method-Override", "DELETE /y")]);
        let long = "A".repeat(100);
        let body = normalize::params(format!("_method={long}").as_bytes(), MAX_PARAMS);
        assert_eq!(method_readings(&t, &[], &body), vec!["POST"]);
    }

    #[test]
    fn disagreeing_overrides_are_all_read_and_flagged() {
        let t = txn("POST", "/x", &[("X-HTTP-Method-Override", "GET")]);
        let query = query_params(Some(b"_method=DELETE"));
        let methods = method_readings(&t, &query, &[]);
        assert_eq!(methods, vec!["GET", "DELETE"]);
        let req = t.request.as_ref().expect("request");
        assert!(ambiguities(req, &methods).contains(&"ambiguous_method_override"));
    }

    #[test]
    fn two_content_lengths_that_differ_are_ambiguous_and_equal_ones_are_not() {
        let t = txn(
            "POST",
            "/",
            &[("Content-Length", "5"), ("Content-Length", "50")],
        );
        let req = t.request.as_ref().expect("request");
        assert_eq!(ambiguities(req, &[]), vec!["ambiguous_content_length"]);
        let t = txn("POST", "/", &[("Content-Length", "5, 5")]);
        let req = t.request.as_ref().expect("request");
        assert!(ambiguities(req, &[]).is_empty());
    }

    #[test]
    fn two_different_content_types_are_ambiguous() {
        let t = txn(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Type", "multipart/form-data; boundary=b"),
            ],
        );
        let req = t.request.as_ref().expect("request");
        assert_eq!(ambiguities(req, &[]), vec!["ambiguous_content_type"]);
    }

    #[test]
    fn a_decoy_boundary_is_ambiguous() {
        let t = txn(
            "POST",
            "/",
            &[(
                "Content-Type",
                "multipart/form-data; xboundary=decoy; boundary=real",
            )],
        );
        let req = t.request.as_ref().expect("request");
        assert_eq!(ambiguities(req, &[]), vec!["ambiguous_boundary"]);
    }
}
