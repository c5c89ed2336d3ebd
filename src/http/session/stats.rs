//! The counters a session keeps: messages, framing errors, resyncs, caps hit. The
//! pipeline sums them over sessions and exports them.

use super::framing::ResponseAnomalies;
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
    /// The same responses per kind of ambiguity (anomaly counters).
    pub response_anomalies: ResponseAnomalies,
    /// Content decoding stopped early (bomb caps, corrupt, truncated, layers).
    pub decode: DecodeStats,
}

impl HttpStats {
    pub(super) fn count(&mut self, e: HttpError) {
        self.errors[e.index()] += 1;
    }
}

/// Sums finished sessions' counters into the run's.
impl std::ops::AddAssign for HttpStats {
    // Every field named: a counter added to the struct and not summed does not compile.
    fn add_assign(&mut self, o: HttpStats) {
        let HttpStats {
            requests,
            responses,
            resyncs,
            resync_scan_bytes,
            tunnels,
            forced_out,
            multipart_parts_dropped,
            headers_dropped,
            multipart_params_dropped,
            lenient_responses,
            response_anomalies,
            errors,
            decode,
        } = o;
        self.requests += requests;
        self.responses += responses;
        self.resyncs += resyncs;
        self.resync_scan_bytes += resync_scan_bytes;
        self.tunnels += tunnels;
        self.forced_out += forced_out;
        self.multipart_parts_dropped += multipart_parts_dropped;
        self.headers_dropped += headers_dropped;
        self.multipart_params_dropped += multipart_params_dropped;
        self.lenient_responses += lenient_responses;
        self.response_anomalies += response_anomalies;
        for (a, b) in self.errors.iter_mut().zip(errors) {
            *a += b;
        }
        self.decode += decode;
    }
}
