//! One EVE line from another host, read into an [`Alert`] under the same privacy rules
//! as a local one. Pure: text in, alert or reason out.
//!
//! A line from elsewhere is untrusted: another program, an older tamperwatch or a
//! tampered-with host may have written it. Only the fields the store keeps are read; any
//! other field (a body, a cookie, an `authorization`, a payload) is dropped. The kept
//! text fields are trimmed as [`Alert`] trims them at detection: query values redacted,
//! evidence made printable and capped at [`MAX_EVIDENCE_BYTES`], the URL and user agent
//! capped. A line that needed any of this is marked `trimmed`, so the import counts it.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::detect::alert::{
    cap, evidence, redact_query, Alert, AlertHttp, AlertRule, AlertUpload, MAX_EVIDENCE_BYTES,
    MAX_URL_BYTES, MAX_USER_AGENT_BYTES,
};
use crate::sink::store::report::printable;
use crate::time::Timestamp;

/// Longest host name accepted (a DNS name's limit).
pub const MAX_HOST_BYTES: usize = 253;
/// Longest hashed-source token accepted (hex characters).
pub const MAX_TOKEN_CHARS: usize = 64;
/// Caps on the text fields that [`Alert`] also caps, in bytes.
const MAX_METHOD_BYTES: usize = 32;
const MAX_FILENAME_BYTES: usize = 255;
const MAX_CONTENT_TYPE_BYTES: usize = 128;
const MAX_RULE_BYTES: usize = 128;
const MAX_SIGNATURE_BYTES: usize = 256;
const MAX_DETECTED_BYTES: usize = 32;

/// Top-level fields read (`id` and `host` come from `flagged export` of another store).
const TOP_FIELDS: &[&str] = &[
    "timestamp",
    "flow_id",
    "event_type",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "alert",
    "http",
    "upload",
    "evidence",
    "host",
    "id",
];
const ALERT_FIELDS: &[&str] = &["signature_id", "rule", "signature", "category", "severity"];
const HTTP_FIELDS: &[&str] = &[
    "hostname",
    "url",
    "http_method",
    "status",
    "http_user_agent",
    "length",
];
const UPLOAD_FIELDS: &[&str] = &["filename", "content_type", "detected", "size"];

/// Why a line was not imported. Messages go to a terminal: they quote no address and
/// no payload, and what they do quote (an event type, a host) is made printable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("event_type `{0}` is not an alert")]
    NotAlert(String),
    #[error("not an EVE alert: {0}")]
    Field(String),
    #[error("timestamp is not an EVE or RFC 3339 time")]
    Timestamp,
    #[error("{field} is not an address (nor, for src_ip, a hashed token)")]
    Address { field: &'static str },
    #[error("host `{0}` is not a host name")]
    Host(String),
    #[error("longer than {0} bytes")]
    TooLong(usize),
    #[error("not UTF-8")]
    NotUtf8,
}

/// The source as the sending host wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An address (kept or truncated by the sender).
    Ip(IpAddr),
    /// A hashed token (the sender kept no address).
    Token(String),
}

/// A line read: the alert (src `0.0.0.0` when the source is a token), its source as
/// written, the `host` the line names (if any), and whether anything was trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedLine {
    pub alert: Alert,
    pub source: Source,
    pub host: Option<String>,
    pub trimmed: bool,
}

/// The fields of an EVE alert the store keeps; serde ignores every other.
#[derive(Deserialize)]
struct EveLine {
    timestamp: String,
    flow_id: u64,
    event_type: String,
    src_ip: String,
    src_port: u16,
    dest_ip: String,
    dest_port: u16,
    alert: AlertRule,
    http: Option<AlertHttp>,
    upload: Option<AlertUpload>,
    #[serde(default)]
    evidence: String,
    host: Option<String>,
}

/// Whether `name` may name a host: 1 to [`MAX_HOST_BYTES`] of letters, digits, `.`,
/// `-`, `_` or `:`, starting with a letter, digit or `:` (so it is safe in a file name,
/// a table and a label, and never `..`).
pub fn valid_host(name: &str) -> bool {
    name.len() <= MAX_HOST_BYTES
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b':')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// Whether an object holds a field outside `known`.
fn has_unknown(v: Option<&Value>, known: &[&str]) -> bool {
    v.and_then(Value::as_object)
        .is_some_and(|o| o.keys().any(|k| !known.contains(&k.as_str())))
}

fn unknown_fields(obj: &Map<String, Value>) -> bool {
    obj.keys().any(|k| !TOP_FIELDS.contains(&k.as_str()))
        || has_unknown(obj.get("alert"), ALERT_FIELDS)
        || has_unknown(obj.get("http"), HTTP_FIELDS)
        || has_unknown(obj.get("upload"), UPLOAD_FIELDS)
}

/// An EVE (`2026-11-22T10:00:00.123456+0000`) or RFC 3339 time, taken as written: no
/// correction for the sender's clock.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let eve = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    let t = OffsetDateTime::parse(text, eve)
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
        .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000)
        .ok()
        .map(Timestamp)
}

fn source(text: &str) -> Result<Source, LineError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Source::Ip(ip));
    }
    if !text.is_empty()
        && text.len() <= MAX_TOKEN_CHARS
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Ok(Source::Token(text.to_ascii_lowercase()));
    }
    Err(LineError::Address { field: "src_ip" })
}

/// `s` trimmed by `f`; sets `trimmed` when that changed it.
fn trim_with(s: &mut String, trimmed: &mut bool, f: impl Fn(&str) -> String) {
    let t = f(s);
    if t != *s {
        *s = t;
        *trimmed = true;
    }
}

fn trim_opt(s: &mut Option<String>, trimmed: &mut bool, max: usize) {
    if let Some(v) = s {
        trim_with(v, trimmed, |x| cap(x, max));
    }
}

/// Reads one line (without its newline).
pub fn parse_line(text: &str) -> Result<ImportedLine, LineError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde's message may quote the input: keep only its category and position.
        LineError::NotJson(format!("{:?} at column {}", e.classify(), e.column()))
    })?;
    let Value::Object(obj) = value else {
        return Err(LineError::NotObject);
    };
    let mut trimmed = unknown_fields(&obj);
    if let Some(t) = obj.get("event_type").and_then(Value::as_str) {
        if t != "alert" {
            return Err(LineError::NotAlert(printable(&cap(t, 32))));
        }
    }
    let line: EveLine = serde_json::from_value(Value::Object(obj))
        .map_err(|e| LineError::Field(field_error(&e)))?;
    if line.event_type != "alert" {
        return Err(LineError::NotAlert(printable(&cap(&line.event_type, 32))));
    }
    let timestamp = parse_timestamp(&line.timestamp).ok_or(LineError::Timestamp)?;
    let source = source(&line.src_ip)?;
    let dest_ip: IpAddr = line
        .dest_ip
        .parse()
        .map_err(|_| LineError::Address { field: "dest_ip" })?;
    if let Some(h) = &line.host {
        if !valid_host(h) {
            return Err(LineError::Host(printable(&cap(h, 64))));
        }
    }
    let mut rule = line.alert;
    trim_with(&mut rule.rule, &mut trimmed, |x| cap(x, MAX_RULE_BYTES));
    trim_with(&mut rule.signature, &mut trimmed, |x| {
        cap(x, MAX_SIGNATURE_BYTES)
    });
    let mut http = line.http;
    if let Some(h) = &mut http {
        trim_with(&mut h.url, &mut trimmed, |u| {
            cap(&redact_query(u), MAX_URL_BYTES)
        });
        trim_with(&mut h.http_method, &mut trimmed, |m| {
            cap(m, MAX_METHOD_BYTES)
        });
        trim_opt(&mut h.hostname, &mut trimmed, MAX_USER_AGENT_BYTES);
        trim_opt(&mut h.http_user_agent, &mut trimmed, MAX_USER_AGENT_BYTES);
    }
    let mut upload = line.upload;
    if let Some(u) = &mut upload {
        trim_opt(&mut u.filename, &mut trimmed, MAX_FILENAME_BYTES);
        trim_opt(&mut u.content_type, &mut trimmed, MAX_CONTENT_TYPE_BYTES);
        trim_with(&mut u.detected, &mut trimmed, |d| {
            cap(d, MAX_DETECTED_BYTES)
        });
    }
    let mut evidence_text = line.evidence;
    trim_with(&mut evidence_text, &mut trimmed, |e| evidence(e.as_bytes()));
    debug_assert!(evidence_text.len() <= MAX_EVIDENCE_BYTES);
    let src_ip = match &source {
        Source::Ip(ip) => *ip,
        Source::Token(_) => IpAddr::from([0, 0, 0, 0]),
    };
    Ok(ImportedLine {
        alert: Alert {
            timestamp,
            flow_id: line.flow_id,
            src: SocketAddr::new(src_ip, line.src_port),
            dest: SocketAddr::new(dest_ip, line.dest_port),
            rule,
            http,
            upload,
            evidence: evidence_text,
            crs: None,
        },
        source,
        host: line.host,
        trimmed,
    })
}

/// serde's message for a field error, without any quoted value (it may be a payload).
fn field_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        return format!("missing field `{field}`");
    }
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        let expected = msg.rsplit("expected ").next().unwrap_or("another type");
        return format!(
            "a field has the wrong type (expected {})",
            cap(expected, 64)
        );
    }
    if msg.starts_with("unknown variant") {
        return "unknown category".into();
    }
    "a field does not fit the EVE alert shape".into()
}

#[cfg(test)]
mod tests;
