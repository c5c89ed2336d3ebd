//! The finding every sink consumes: one flagged event, metadata only.
//!
//! An [`Alert`] is built redacted: the URL's query values are replaced, the evidence is
//! the short matched token capped at [`MAX_EVIDENCE_BYTES`], and no body, cookie,
//! credential or form value is ever copied into it. Sinks cannot leak what is not here.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::http::{FileKind, HttpTransaction};
use crate::time::Timestamp;

/// Evidence longer than this is cut (at a character boundary).
pub const MAX_EVIDENCE_BYTES: usize = 64;
/// URLs longer than this are cut in alerts (after redaction).
pub const MAX_URL_BYTES: usize = 512;
/// User agents longer than this are cut in alerts.
pub const MAX_USER_AGENT_BYTES: usize = 256;

/// What kind of harm a rule looks for (EVE `alert.category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Upload,
    Modification,
    Injection,
    Traversal,
    Recon,
    BruteForce,
    Flood,
    Protocol,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 8] = [
        Category::Upload,
        Category::Modification,
        Category::Injection,
        Category::Traversal,
        Category::Recon,
        Category::BruteForce,
        Category::Flood,
        Category::Protocol,
    ];

    /// The name used in rules, events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Upload => "upload",
            Category::Modification => "modification",
            Category::Injection => "injection",
            Category::Traversal => "traversal",
            Category::Recon => "recon",
            Category::BruteForce => "brute_force",
            Category::Flood => "flood",
            Category::Protocol => "protocol",
        }
    }

    /// Parses a category name.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule fired (EVE `alert`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRule {
    pub signature_id: u32,
    /// The rule's short name, e.g. `upload.script-extension`.
    pub rule: String,
    /// A human sentence, e.g. "Script file uploaded".
    pub signature: String,
    pub category: Category,
    /// 1 high … 3 low.
    pub severity: u8,
}

/// HTTP metadata of the flagged request (EVE `http`), redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertHttp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The request target with query values replaced by `<redacted>`.
    pub url: String,
    pub http_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<String>,
    /// Response body bytes (EVE's `length`).
    pub length: u64,
}

/// The uploaded file that triggered an upload rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertUpload {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub detected: String,
    pub size: u64,
}

/// One flagged finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub timestamp: Timestamp,
    pub flow_id: u64,
    pub src: SocketAddr,
    pub dest: SocketAddr,
    pub rule: AlertRule,
    pub http: Option<AlertHttp>,
    pub upload: Option<AlertUpload>,
    /// The matched token, capped at [`MAX_EVIDENCE_BYTES`].
    pub evidence: String,
    /// For a Core Rule Set verdict: the score and the contributing rules.
    pub crs: Option<AlertCrs>,
}

/// A CRS verdict's details (EVE `crs`): the inbound anomaly score and the ids of the
/// rules that contributed to it, highest severity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCrs {
    pub score: u32,
    pub rules: Vec<u32>,
}

impl Alert {
    /// HTTP metadata of a transaction, redacted for an alert.
    pub fn http_of(txn: &HttpTransaction) -> Option<AlertHttp> {
        let req = txn.request.as_ref()?;
        Some(AlertHttp {
            hostname: req.header("host").map(|h| cap(h, MAX_USER_AGENT_BYTES)),
            url: cap(&redact_query(&req.uri), MAX_URL_BYTES),
            http_method: cap(&req.method, 32),
            status: txn.status(),
            http_user_agent: req
                .header("user-agent")
                .map(|u| cap(&product_tokens(u), MAX_USER_AGENT_BYTES)),
            length: txn.response_body_len,
        })
    }

    /// Upload metadata of one part.
    pub fn upload_of(
        filename: Option<&str>,
        content_type: Option<&str>,
        detected: FileKind,
        size: u64,
    ) -> AlertUpload {
        AlertUpload {
            filename: filename.map(|f| cap(f, 255)),
            content_type: content_type.map(|c| cap(c, 128)),
            detected: detected.as_str().to_owned(),
            size,
        }
    }
}

/// Replaces every query value with `<redacted>`, keeping parameter names; a bare
/// parameter without `=` is a value (`/a?id=5&tok` → `/a?id=<redacted>&<redacted>`).
/// Fragments are dropped.
pub fn redact_query(uri: &str) -> String {
    let uri = uri.split('#').next().unwrap_or_default();
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_owned();
    };
    let mut out = String::with_capacity(uri.len());
    out.push_str(path);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) => {
                out.push_str(name);
                out.push_str("=<redacted>");
            }
            // A bare parameter (`?ResetToken-9f8e…`) is a value too.
            None if pair.is_empty() => {}
            None => out.push_str("<redacted>"),
        }
    }
    out
}

/// The User-Agent's `product/version` tokens only (RFC 9110 §10.1.5), outside comments:
/// `Mozilla/5.0 (X11; Linux) Firefox/120.0` → `Mozilla/5.0 Firefox/120.0`. A User-Agent
/// can carry anything a client types (a Shellshock payload with an email in it), so free
/// text is never kept; with no product token at all it is `<redacted>`.
pub fn product_tokens(user_agent: &str) -> String {
    let is_token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let mut out = String::new();
    let mut depth = 0usize;
    for word in user_agent.split_ascii_whitespace() {
        let opens = word.bytes().filter(|b| *b == b'(').count();
        let closes = word.bytes().filter(|b| *b == b')').count();
        let in_comment = depth > 0 || opens > 0;
        depth = (depth + opens).saturating_sub(closes);
        if in_comment {
            continue;
        }
        let Some((product, version)) = word.split_once('/') else {
            continue;
        };
        if !product.is_empty()
            && !version.is_empty()
            && product.bytes().all(is_token)
            && version.bytes().all(is_token)
        {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    if out.is_empty() {
        "<redacted>".to_owned()
    } else {
        out
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary.
pub fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Evidence as stored: printable, capped, never more than the matched token.
pub fn evidence(token: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(token)
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    cap(&text, MAX_EVIDENCE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_query_value_but_keeps_names() {
        assert_eq!(
            redact_query("/a?email=x@y.z&id=5&flag"),
            "/a?email=<redacted>&id=<redacted>&<redacted>"
        );
        assert_eq!(redact_query("/plain/path"), "/plain/path");
        assert_eq!(redact_query("/p?q=secret#frag"), "/p?q=<redacted>");
    }

    #[test]
    fn user_agents_keep_product_tokens_only() {
        assert_eq!(
            product_tokens(
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
            ),
            "Mozilla/5.0 Gecko/20100101 Firefox/120.0"
        );
        assert_eq!(
            product_tokens("sqlmap/1.7#stable (https://sqlmap.org)"),
            "sqlmap/1.7#stable"
        );
        assert_eq!(
            product_tokens("() { :; }; /bin/echo a@b.test 555-0199"),
            "<redacted>"
        );
        assert_eq!(product_tokens("Nmap Scripting Engine"), "<redacted>");
    }

    #[test]
    fn caps_evidence_at_a_character_boundary() {
        let long = "é".repeat(100);
        let e = evidence(long.as_bytes());
        assert!(e.len() <= MAX_EVIDENCE_BYTES);
        assert!(e.chars().all(|c| c == 'é'));
    }

    #[test]
    fn evidence_has_no_control_characters() {
        assert_eq!(evidence(b"a\r\nb\0"), "a..b.");
    }
}
