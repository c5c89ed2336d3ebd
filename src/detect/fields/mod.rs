//! Transaction fields as rules see them: extracted once per transaction, lowercased,
//! decoded and normalized, each value remembering which upload part it came from.
//!
//! Values are bounded: header, parameter and part counts are capped by the HTTP layer
//! and here, and every value passes through [`normalize::decode`]'s length cap.

use super::normalize::{self, fold_sql_comments};
use super::readings;

mod decimal;
mod extract;
mod filter;
pub(super) mod lowercase;
mod names;
mod pooled;
mod slots;
mod storage;
mod values;

pub use filter::{KeepAll, ValueFilter};
pub use names::extension;
pub use pooled::PooledValues;
pub use storage::{FieldSet, FieldValues};
pub use values::{Value, Values};

/// Parameters read from one query string or form body.
pub const MAX_PARAMS: usize = 256;

/// A field a rule condition can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The request method, as sent.
    Method,
    /// The method after X-HTTP-Method-Override and friends (or the method itself).
    EffectiveMethod,
    /// The request target exactly as sent.
    UriRaw,
    /// The path as sent (before `?`).
    PathRaw,
    /// The path decoded (percent, overlong UTF-8, `\`, NUL) but dot segments kept.
    PathDecoded,
    /// The path decoded with `//`, `/./`, `/../` resolved.
    PathNormalized,
    /// The last path segment's extension (`php` for `/a/shell.php`).
    PathExtension,
    QueryNames,
    QueryValues,
    /// Form field names of a urlencoded body.
    BodyNames,
    /// Form field values of a urlencoded body.
    BodyValues,
    /// The first bytes of the request body, decoded.
    Body,
    HeaderNames,
    /// Every request header value.
    HeaderValues,
    /// The values of one named header (index into the rule set's header names).
    Header(u16),
    UserAgent,
    Host,
    RequestContentType,
    UploadFilename,
    /// The last extension of each uploaded filename.
    UploadExtension,
    /// Every extension of each uploaded filename (`shell.php.jpg` → php, jpg).
    UploadExtensions,
    UploadContentType,
    UploadDetected,
    UploadSize,
    /// The first bytes of each uploaded file.
    UploadContent,
    RequestBodyLen,
    Status,
    /// The client address (for `cidr`).
    Src,
    /// Policy outcomes (`unauthorized_change`, ...).
    Policy,
    /// Evasion and anomaly markers (`double_encoding`, `nul_byte`, ...).
    Anomaly,
}

/// Field names as written in rules, for the fixed fields.
const FIXED_FIELDS: [(&str, Field); 30] = [
    ("method", Field::Method),
    ("method.effective", Field::EffectiveMethod),
    ("uri.raw", Field::UriRaw),
    ("path.raw", Field::PathRaw),
    ("path.decoded", Field::PathDecoded),
    ("path", Field::PathNormalized),
    ("path.normalized", Field::PathNormalized),
    ("path.extension", Field::PathExtension),
    ("query.names", Field::QueryNames),
    ("query.values", Field::QueryValues),
    ("body.names", Field::BodyNames),
    ("body.values", Field::BodyValues),
    ("body", Field::Body),
    ("header.names", Field::HeaderNames),
    ("header.values", Field::HeaderValues),
    ("user_agent", Field::UserAgent),
    ("host", Field::Host),
    ("request.content_type", Field::RequestContentType),
    ("upload.filename", Field::UploadFilename),
    ("upload.extension", Field::UploadExtension),
    ("upload.extensions", Field::UploadExtensions),
    ("upload.content_type", Field::UploadContentType),
    ("upload.detected", Field::UploadDetected),
    ("upload.size", Field::UploadSize),
    ("upload.content", Field::UploadContent),
    ("request.body_len", Field::RequestBodyLen),
    ("status", Field::Status),
    ("src", Field::Src),
    ("policy", Field::Policy),
    ("anomaly", Field::Anomaly),
];

impl Field {
    /// Parses a field name; `header.<name>` fields are interned into `headers`.
    pub fn parse(name: &str, headers: &mut Vec<String>) -> Option<Field> {
        if let Some((_, f)) = FIXED_FIELDS.iter().find(|(n, _)| *n == name) {
            return Some(*f);
        }
        let header = name.strip_prefix("header.")?.to_ascii_lowercase();
        if header.is_empty()
            || !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let idx = match headers.iter().position(|h| *h == header) {
            Some(i) => i,
            None => {
                headers.push(header);
                headers.len() - 1
            }
        };
        u16::try_from(idx).ok().map(Field::Header)
    }

    /// Whether values of this field are numbers (for numeric comparisons).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::UploadSize | Field::RequestBodyLen | Field::Status
        )
    }

    /// Number of fixed slots.
    pub fn fixed_slots() -> usize {
        FIXED_FIELDS.len()
    }
}
