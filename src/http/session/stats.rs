//! The counters a session keeps: messages, framing errors, resyncs, caps hit. The
//! pipeline sums them over sessions and exports them.

use crate::http::content::DecodeStats;
use crate::http::HttpError;

/// Counters kept by a session (summed by the pipeline).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HttpStats {
    pub requests: u64,
    pub responses: u64,
    pub errors: [u64; HttpError::ALL.len()],
    pub resyncs: u64,
    /// Bytes scanned for a request or status line while desynchronised.
    pub resync_scan_bytes: u64,
    pub tunnels: u64,
    pub forced_out: u64,
    pub multipart_parts_dropped: u64,
    /// Request header lines parsed but not kept (over [`crate::http::parse::MAX_HEADERS`]).
    pub headers_dropped: u64,
    /// Multipart parameters (Content-Disposition, Content-Type) over the per-part cap.
    pub multipart_params_dropped: u64,
    /// Response heads framed the browsers' way where RFC 9112 says otherwise (an
    /// obfuscated Transfer-Encoding read as chunked, a non-standard status line).
    pub lenient_responses: u64,
    /// Content decoding stopped early (bomb caps, corrupt, truncated, layers).
    pub decode: DecodeStats,
}

impl HttpStats {
    pub(super) fn count(&mut self, e: HttpError) {
        self.errors[e.index()] += 1;
    }

    /// Adds another session's counters to these.
    pub fn add(&mut self, other: &HttpStats) {
        self.requests += other.requests;
        self.responses += other.responses;
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a += b;
        }
        self.resyncs += other.resyncs;
        self.resync_scan_bytes += other.resync_scan_bytes;
        self.tunnels += other.tunnels;
        self.forced_out += other.forced_out;
        self.multipart_parts_dropped += other.multipart_parts_dropped;
        self.headers_dropped += other.headers_dropped;
        self.multipart_params_dropped += other.multipart_params_dropped;
        self.lenient_responses += other.lenient_responses;
        self.decode.add(&other.decode);
    }
}
