//! HTTP/1.x: the two byte streams of a connection in, paired transactions out.
//!
//! [`parse`] reads heads (pure), [`body`] frames bodies, [`multipart`] reads uploads,
//! [`filetype`] sniffs what an uploaded file is, and [`session`] drives them per flow:
//! keep-alive, pipelining, 100-continue, HTTP/0.9, CONNECT and Upgrade, and resync after
//! a gap. Bodies are counted and sniffed, never kept: a transaction holds at most
//! [`session::MAX_BODY_PREFIX_BYTES`] of the request body, for detection in memory only.

pub mod body;
mod browser_lines;
pub mod content;
pub mod filetype;
pub mod heap;
pub mod method;
pub mod multipart;
pub mod params;
pub mod parse;
pub mod session;
pub mod uri;

use std::net::SocketAddr;

pub use filetype::FileKind;
pub use method::Method;
pub use session::HttpSession;

use crate::time::Timestamp;

/// Why HTTP parsing of a message failed; counted, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HttpError {
    #[error("request line is not HTTP")]
    BadRequestLine,
    #[error("status line is not HTTP")]
    BadStatusLine,
    #[error("head longer than the limit")]
    HeadTooLong,
    #[error("bad chunk size line")]
    BadChunkSize,
    #[error("chunk size overflows 64 bits")]
    ChunkSizeOverflow,
    #[error("bytes missing inside chunk framing")]
    GapInChunkFraming,
    #[error("bad Content-Length")]
    BadContentLength,
}

impl HttpError {
    /// Every reason, in a fixed order, for counters.
    pub const ALL: [HttpError; 7] = [
        HttpError::BadRequestLine,
        HttpError::BadStatusLine,
        HttpError::HeadTooLong,
        HttpError::BadChunkSize,
        HttpError::ChunkSizeOverflow,
        HttpError::GapInChunkFraming,
        HttpError::BadContentLength,
    ];

    /// A short stable name for metrics and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpError::BadRequestLine => "bad_request_line",
            HttpError::BadStatusLine => "bad_status_line",
            HttpError::HeadTooLong => "head_too_long",
            HttpError::BadChunkSize => "bad_chunk_size",
            HttpError::ChunkSizeOverflow => "chunk_size_overflow",
            HttpError::GapInChunkFraming => "gap_in_chunk_framing",
            HttpError::BadContentLength => "bad_content_length",
        }
    }

    /// Index into [`HttpError::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One header field; the value is decoded lossily as UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Looks up a header by case-insensitive name (the first occurrence).
fn find_header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// A request line and its headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent, not decoded.
    pub uri: String,
    /// `1.1`, `1.0`, or `0.9` when the request line had no version.
    pub version: String,
    pub headers: Vec<Header>,
    /// Header lines parsed but not kept (over [`parse::MAX_HEADERS`]).
    pub headers_dropped: u32,
}

impl Drop for RequestHead {
    /// Its strings go to the thread's spares, for the next head parsed
    /// ([`parse::spare`]).
    fn drop(&mut self) {
        parse::spare::give_back(
            parse::spare::HeadKind::Request,
            std::mem::take(&mut self.headers),
            [
                std::mem::take(&mut self.method),
                std::mem::take(&mut self.uri),
                std::mem::take(&mut self.version),
            ],
        );
    }
}

impl Drop for ResponseHead {
    /// As a request head's.
    fn drop(&mut self) {
        parse::spare::give_back(
            parse::spare::HeadKind::Response,
            std::mem::take(&mut self.headers),
            [
                std::mem::take(&mut self.reason),
                std::mem::take(&mut self.version),
                String::new(),
            ],
        );
    }
}

impl RequestHead {
    /// The first header of this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A status line and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub version: String,
    pub headers: Vec<Header>,
}

impl ResponseHead {
    /// The first header of this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// One part of a multipart/form-data body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadPart {
    pub field_name: Option<String>,
    /// The filename as most servers read it (the first `filename=`, else `filename*`).
    pub filename: Option<String>,
    /// Other readings of the filename a server could take (a second `filename=`, an RFC
    /// 5987 `filename*`); the upload is judged by every reading.
    pub alt_filenames: Vec<String>,
    /// The readings disagree on the extension: client and server may see different files.
    pub ambiguous_filename: bool,
    /// The part's declared Content-Type.
    pub content_type: Option<String>,
    /// Content bytes in the part.
    pub size: u64,
    /// The first bytes of the content, for sniffing and content rules; never stored.
    pub prefix: Vec<u8>,
    /// What the content really is.
    pub detected: FileKind,
}

/// Flags on a transaction about how it was seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionFlags {
    /// Bytes of the request were missing from the capture.
    pub request_gap: bool,
    /// Overlapping TCP segments carried different bytes for this request (or just
    /// before it): the copy Linux reads was inspected, but the sender meant two
    /// readings (an evasion attempt).
    pub request_overlap_conflict: bool,
    /// Bytes of the response were missing from the capture.
    pub response_gap: bool,
    /// The server gave its final answer before the request body arrived (and the
    /// client may never have sent it: 100-continue refused).
    pub answered_before_body: bool,
    /// The connection switched protocols (CONNECT or Upgrade) after this transaction.
    pub tunnel: bool,
    /// The transaction was emitted before it completed (flow ended or too many open).
    pub incomplete: bool,
    /// The response had no status line (an HTTP/0.9 reply): its bytes are all body.
    pub headless_response: bool,
    /// Multipart parts or part parameters beyond the caps were dropped (counted).
    pub multipart_over_cap: bool,
}

/// A request and its response, as seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTransaction {
    pub flow_id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// When the request (or, for a response without a request, the response) began.
    pub ts: Timestamp,
    /// 1 for the first transaction of the connection.
    pub trans_depth: u32,
    /// `None` for a response seen without its request.
    pub request: Option<RequestHead>,
    pub response: Option<ResponseHead>,
    /// The last 1xx status before the final response (100 Continue, ...).
    pub info_code: Option<u16>,
    /// Body bytes after transfer decoding.
    pub request_body_len: u64,
    pub response_body_len: u64,
    /// When the request ended (its last byte) and the response began.
    pub request_end_ts: Option<Timestamp>,
    pub response_start_ts: Option<Timestamp>,
    pub uploads: Vec<UploadPart>,
    /// The first bytes of the request body, for detection only; never written out.
    pub body_prefix: Vec<u8>,
    /// The first bytes of the response body after transfer and content decoding, for
    /// detection only (web-shell answers, sniffing); never written out.
    pub response_body_prefix: Vec<u8>,
    pub flags: TransactionFlags,
}

impl UploadPart {
    /// Every reading of the filename: the primary one first.
    pub fn filenames(&self) -> impl Iterator<Item = &str> {
        self.filename
            .iter()
            .chain(self.alt_filenames.iter())
            .map(String::as_str)
    }
}

/// Transactions for tests: one request, headers as given, no response.
#[cfg(test)]
impl HttpTransaction {
    /// A transaction from 127.0.0.66:40000 to 127.0.0.1:8080 whose request is `method
    /// uri` with `headers`, nothing else seen.
    pub(crate) fn with_request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Self {
        HttpTransaction {
            request: Some(RequestHead {
                method: method.into(),
                uri: uri.into(),
                version: "1.1".into(),
                headers: headers
                    .iter()
                    .map(|(n, v)| Header {
                        name: (*n).into(),
                        value: (*v).into(),
                    })
                    .collect(),
                headers_dropped: 0,
            }),
            ..HttpTransaction::new(
                1,
                "127.0.0.66:40000".parse().expect("addr"),
                "127.0.0.1:8080".parse().expect("addr"),
                crate::time::Timestamp(0),
                1,
            )
        }
    }
}

impl HttpTransaction {
    /// A transaction with nothing seen yet, stamped with its flow's facts: the one
    /// place the struct is spelled out, so a new field has one default.
    pub fn new(
        flow_id: u64,
        client: SocketAddr,
        server: SocketAddr,
        ts: crate::time::Timestamp,
        trans_depth: u32,
    ) -> Self {
        HttpTransaction {
            flow_id,
            client,
            server,
            ts,
            trans_depth,
            request: None,
            response: None,
            info_code: None,
            request_body_len: 0,
            response_body_len: 0,
            request_end_ts: None,
            response_start_ts: None,
            uploads: Vec::new(),
            body_prefix: Vec::new(),
            response_body_prefix: Vec::new(),
            flags: TransactionFlags::default(),
        }
    }

    /// The request method, if the request was seen.
    pub fn method(&self) -> Option<&str> {
        self.request.as_ref().map(|r| r.method.as_str())
    }

    /// The request target, if the request was seen.
    pub fn uri(&self) -> Option<&str> {
        self.request.as_ref().map(|r| r.uri.as_str())
    }

    /// The response status, if a response was seen.
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// A request header by name.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.header(name))
    }
}
