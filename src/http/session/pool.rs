//! A per-thread free list of sessions, so a short connection does not allocate its
//! session (and its transaction queue) when it starts and free it when it ends.
//!
//! The pipeline takes a session with [`HttpSession::pooled`] and gives it back with
//! [`HttpSession::recycle`] once the flow is flushed. A recycled session is reset to
//! the state of a new one; only capacity is kept, bounded by [`MAX_POOLED_SESSIONS`]
//! and [`MAX_KEPT_HEAD_BYTES`].

use std::cell::RefCell;

use super::HttpSession;

/// Sessions kept per thread for reuse; more are freed.
pub const MAX_POOLED_SESSIONS: usize = 256;
/// Head buffer capacity a pooled session keeps per direction (a larger one is freed).
pub const MAX_KEPT_HEAD_BYTES: usize = 2 * 1024;
/// Transaction queue slots a pooled session keeps.
const MAX_KEPT_OPEN_SLOTS: usize = 4;

thread_local! {
    // Boxes, not sessions: the flow table holds `Box<HttpSession>`, so a pooled box is
    // handed out as it is, without a move into a new allocation.
    #[allow(clippy::vec_box)]
    static POOL: RefCell<Vec<Box<HttpSession>>> = const { RefCell::new(Vec::new()) };
}

impl HttpSession {
    /// A session in its initial state, reused from this thread's pool when it has one.
    pub fn pooled() -> Box<HttpSession> {
        POOL.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Gives a finished session back to this thread's pool (after its transactions
    /// were emitted by [`HttpSession::finish`] and its counters read).
    pub fn recycle(mut session: Box<HttpSession>) {
        let mut request_head = std::mem::take(&mut session.request.head);
        let mut response_head = std::mem::take(&mut session.response.head);
        let mut open = std::mem::take(&mut session.open);
        let mut multipart = std::mem::take(&mut session.multipart);
        request_head.clear();
        request_head.shrink_to(MAX_KEPT_HEAD_BYTES);
        response_head.clear();
        response_head.shrink_to(MAX_KEPT_HEAD_BYTES);
        open.clear();
        open.shrink_to(MAX_KEPT_OPEN_SLOTS);
        multipart.clear();
        *session = HttpSession::default();
        session.request.head = request_head;
        session.response.head = response_head;
        session.open = open;
        session.multipart = multipart;
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                if p.len() < MAX_POOLED_SESSIONS {
                    p.push(session);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::FlowContext;
    use super::*;
    use crate::flow::Direction;
    use crate::reassembly::Chunk;
    use crate::time::Timestamp;

    fn ctx() -> FlowContext {
        FlowContext {
            flow_id: 7,
            client: "192.0.2.1:40000".parse().expect("address"),
            server: "192.0.2.2:80".parse().expect("address"),
            keep_response_bytes: crate::http::session::MAX_RESPONSE_PREFIX_BYTES,
        }
    }

    /// A recycled session behaves as a new one: nothing of the previous connection
    /// (open requests, counters, depth, a half-read head) leaks into the next.
    #[test]
    fn recycled_session_starts_fresh() {
        let now = Timestamp::default();
        let mut out = Vec::new();
        let mut s = HttpSession::pooled();
        let partial = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Le";
        s.on_chunk(
            Direction::ToServer,
            Chunk::Data(partial),
            now,
            &ctx(),
            &mut out,
        );
        assert_eq!(s.stats.requests, 1);
        HttpSession::recycle(s);

        let mut s = HttpSession::pooled();
        assert_eq!(s.stats.requests, 0);
        assert!(!s.mid_request());
        let req = b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
        let resp = b"HTTP/1.1 204 No Content\r\n\r\n";
        s.on_chunk(Direction::ToServer, Chunk::Data(req), now, &ctx(), &mut out);
        s.on_chunk(
            Direction::ToClient,
            Chunk::Data(resp),
            now,
            &ctx(),
            &mut out,
        );
        s.finish(now, &ctx(), &mut out);
        let last = out.last().expect("a transaction");
        assert_eq!(last.uri(), Some("/c"));
        assert_eq!(last.trans_depth, 1);
        assert!(!last.flags.incomplete);
        HttpSession::recycle(s);
    }
}
