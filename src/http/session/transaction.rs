//! The open transactions of a connection: how one is made, the cap on how many wait,
//! which one a response answers, and the order they leave in (request order, once both
//! halves are complete).

use super::{FlowContext, HttpSession, MAX_OPEN_TRANSACTIONS, MAX_RESPONSE_PREFIX_BYTES};
use crate::http::HttpTransaction;
use crate::time::Timestamp;

/// A transaction still being read.
#[derive(Debug)]
pub(super) struct OpenTransaction {
    pub(super) txn: HttpTransaction,
    pub(super) request_done: bool,
    pub(super) has_response: bool,
    pub(super) response_done: bool,
    pub(super) expect_continue: bool,
    /// HTTP/0.9: the response has no head and runs until close.
    pub(super) http09: bool,
}

/// A transaction with nothing seen yet, stamped with the flow's facts.
pub(super) fn new_transaction(ctx: &FlowContext, ts: Timestamp, depth: u32) -> HttpTransaction {
    HttpTransaction::new(ctx.flow_id, ctx.client, ctx.server, ts, depth)
}

/// Counts decoded response body bytes and keeps the first `keep` of them.
pub(super) fn account_response(txn: &mut HttpTransaction, decoded: &[u8], keep: ResponseKeep) {
    txn.response_body_len += decoded.len() as u64;
    let room = keep.0.saturating_sub(txn.response_body_prefix.len());
    txn.response_body_prefix
        .extend_from_slice(&decoded[..room.min(decoded.len())]);
}

/// Decoded response body bytes a session keeps per transaction
/// (`response_body_prefix`): [`MAX_RESPONSE_PREFIX_BYTES`] unless the pipeline asks for
/// fewer ([`HttpSession::keep_response_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ResponseKeep(usize);

impl Default for ResponseKeep {
    fn default() -> Self {
        ResponseKeep(MAX_RESPONSE_PREFIX_BYTES)
    }
}

impl HttpSession {
    /// Keeps at most `bytes` (and never more than [`MAX_RESPONSE_PREFIX_BYTES`]) of each
    /// response body. Copying bodies nobody reads costs time and budget: the pipeline
    /// keeps none unless asked ([`crate::pipeline::PipelineSettings`]).
    pub fn keep_response_bytes(&mut self, bytes: usize) {
        self.response_keep = ResponseKeep(bytes.min(MAX_RESPONSE_PREFIX_BYTES));
    }

    /// Queues a transaction; past [`MAX_OPEN_TRANSACTIONS`] the oldest leaves
    /// incomplete (counted as `forced_out`).
    pub(super) fn push_open(&mut self, open: OpenTransaction, out: &mut Vec<HttpTransaction>) {
        if self.open.len() >= MAX_OPEN_TRANSACTIONS {
            if let Some(mut oldest) = self.open.pop_front() {
                oldest.txn.flags.incomplete = true;
                self.stats.forced_out += 1;
                out.push(oldest.txn);
            }
        }
        self.enqueue(open);
    }

    /// Appends to the queue, whose first allocation is one slot: most connections
    /// never have two transactions open at once, and the queue's own first allocation
    /// (four slots, 1.6 KiB) left a flood of connections that each hold one open request
    /// (slow bodies) three empty slots apiece, half of what such a flow holds.
    pub(super) fn enqueue(&mut self, open: OpenTransaction) {
        if self.open.capacity() == 0 {
            self.open.reserve_exact(1);
        }
        self.open.push_back(open);
    }

    /// The transaction whose response is being read (has a head, not done).
    pub(super) fn answering(&self) -> Option<usize> {
        self.open
            .iter()
            .position(|o| o.has_response && !o.response_done)
    }

    /// The oldest transaction still waiting for its response head.
    pub(super) fn unanswered(&self) -> Option<usize> {
        self.open.iter().position(|o| !o.has_response)
    }

    /// Emits the complete transactions at the front of the queue.
    #[inline]
    pub(super) fn emit_completed(&mut self, out: &mut Vec<HttpTransaction>) {
        // Checked where it is called (two calls in three emit nothing).
        if self
            .open
            .front()
            .is_some_and(|o| o.request_done && o.response_done)
        {
            self.emit_completed_now(out);
        }
    }

    /// [`HttpSession::emit_completed`] when the first transaction is complete.
    #[inline(never)]
    fn emit_completed_now(&mut self, out: &mut Vec<HttpTransaction>) {
        while self
            .open
            .front()
            .is_some_and(|o| o.request_done && o.response_done)
        {
            if let Some(open) = self.open.pop_front() {
                out.push(open.txn);
            }
        }
    }

    /// The flow ended: emits every open transaction, flagging the unfinished ones.
    pub(super) fn emit_all(&mut self, out: &mut Vec<HttpTransaction>) {
        while let Some(mut open) = self.open.pop_front() {
            // An HTTP/0.9 request whose reply never started is complete as it stands.
            let complete =
                open.request_done && (open.response_done || (!open.has_response && open.http09));
            if !complete {
                open.txn.flags.incomplete = true;
            }
            out.push(open.txn);
        }
    }
}
