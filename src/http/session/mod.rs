//! The HTTP/1.x driver of one connection: both directions' bytes in, transactions out.
//!
//! Requests open transactions in order; responses answer the oldest unanswered one
//! (pipelining); a transaction leaves when both halves are complete, or when the flow
//! ends. After a gap inside framing the side is desynchronised and looks for the next
//! request or status line. Open transactions are capped at [`MAX_OPEN_TRANSACTIONS`].
//!
//! The files follow Suricata's split of an app-layer parser:
//! - [`driver`] is the parser: one byte-stream driver, written once and run for each
//!   direction (head, body, resync, gap), with the direction's hooks chosen by
//!   [`Direction`]; [`head`] hands it a complete head (httparse's strict reading
//!   where it lies, else the head cut at its blank line and read leniently);
//! - [`request`] and [`response`] are the connection state each direction's messages
//!   change (what a request head opens, what a response head frames, tunnels);
//! - [`transaction`] holds the open transactions: creation, the cap, completion order;
//! - [`stream`] collects heads and resynchronises, [`framing`] reads body framing from
//!   heads, [`stats`] counts.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::content::ContentDecoder;
use super::multipart::MultipartParser;
use super::HttpTransaction;
use crate::flow::Direction;
use crate::reassembly::Chunk;
use crate::time::Timestamp;

mod driver;
mod framing;
mod head;
mod pool;
mod request;
mod response;
mod stats;
mod stream;
mod transaction;

use driver::{Framing, Side};
pub use framing::ResponseAnomalies;
pub use pool::{MAX_KEPT_HEAD_BYTES, MAX_POOLED_SESSIONS};
pub use stats::HttpStats;
use transaction::OpenTransaction;

/// Transactions awaiting completion per connection; beyond this the oldest is emitted
/// incomplete (a pipelining flood with no responses must not grow memory).
pub const MAX_OPEN_TRANSACTIONS: usize = 64;
/// Request body bytes kept in memory for detection (form values, injected commands,
/// the Core Rule Set's REQUEST_BODY and ARGS_POST); never written out. A longer body is
/// cut here, and the CRS engine counts the cut (`caps_hit`).
pub const MAX_BODY_PREFIX_BYTES: usize = 64 * 1024;
/// The most decoded response body bytes a session keeps per transaction, for detection
/// on responses (a web shell's answer); the pipeline keeps none unless asked.
pub const MAX_RESPONSE_PREFIX_BYTES: usize = 64 * 1024;

/// Facts about the flow that the session stamps on its transactions, and what the
/// pipeline wants kept of them.
#[derive(Debug, Clone, Copy)]
pub struct FlowContext {
    pub flow_id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Response body bytes a new session keeps per transaction
    /// ([`HttpSession::keep_response_bytes`]).
    pub keep_response_bytes: usize,
}

/// One connection's HTTP state.
#[derive(Debug, Default)]
pub struct HttpSession {
    request: Side,
    response: Side,
    open: VecDeque<OpenTransaction>,
    /// One parser per boundary reading of the open request (usually one).
    multipart: Vec<MultipartParser>,
    /// The server answered before the request body came; a new request line ends it.
    body_may_be_abandoned: bool,
    /// Content decoding of the response body being read, if it has a coding.
    content: Option<ContentDecoder>,
    /// Decoded and encoded bytes of this flow's content codings so far (the flow's
    /// decompression budget, `FLOW_RATIO_GRACE_BYTES`).
    inflation: (u64, u64),
    next_depth: u32,
    /// Response body bytes kept per transaction.
    response_keep: transaction::ResponseKeep,
    pub stats: HttpStats,
}

impl HttpSession {
    /// Feeds one reassembled chunk of one direction; finished transactions go to `out`.
    pub fn on_chunk(
        &mut self,
        dir: Direction,
        chunk: Chunk<'_>,
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        match chunk {
            Chunk::Data(d) => self.on_data(dir, d, now, ctx, out),
            Chunk::Gap(n) => self.on_gap(dir, n, now, out),
            Chunk::Conflict => self.on_conflict(dir),
        }
    }

    /// Whether a request is half received (its head or body still arriving), so the
    /// flow table evicts this flow last.
    pub fn mid_request(&self) -> bool {
        matches!(self.request.framing, Framing::Body(_))
            || !self.request.head.is_empty()
            || self.open.iter().any(|t| !t.request_done)
    }

    /// When the request still arriving began: its head's first byte, or, once the head
    /// is read, the request's time while its body is still arriving.
    pub fn request_open_since(&self) -> Option<Timestamp> {
        if !self.request.head.is_empty() {
            return Some(self.request.head_ts);
        }
        self.open.iter().find(|t| !t.request_done).map(|t| t.txn.ts)
    }

    /// Heap bytes the session holds (head buffers, open transactions, parsers), for the
    /// memory budget; see [`crate::http::heap`].
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.request.head.capacity()
            + self.response.head.capacity()
            + self.open.capacity() * size_of::<OpenTransaction>()
            + self.open.iter().map(|t| t.txn.heap_bytes()).sum::<usize>()
            + self.multipart.len() * crate::http::heap::MULTIPART_PARSER_BYTES
            + self
                .content
                .as_ref()
                .map_or(0, |_| crate::http::heap::CONTENT_DECODER_BYTES)
    }

    /// The flow ended: complete what can be completed and emit every open transaction.
    pub fn finish(&mut self, now: Timestamp, ctx: &FlowContext, out: &mut Vec<HttpTransaction>) {
        self.flush_partial_request_head(ctx, out);
        if matches!(self.request.framing, Framing::Body(_)) {
            self.finish_request(now);
        }
        self.finish_response_at_close(now, ctx);
        self.emit_all(out);
        for mp in std::mem::take(&mut self.multipart) {
            self.stats.multipart_parts_dropped += mp.parts_dropped;
            self.stats.multipart_params_dropped += mp.params_dropped;
        }
    }
}

#[cfg(test)]
mod anomaly_tests;
#[cfg(test)]
mod response_tests;
#[cfg(test)]
mod tests;
