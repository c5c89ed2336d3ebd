//! What request messages do to the connection's state: a head opens a transaction
//! (and chooses how its body is framed and read), the end of a body completes it.

use super::driver::Framing;
use super::framing::{multipart_readings, request_body_framing, RequestFramingHeaders};
use super::transaction::{new_transaction, OpenTransaction};
use super::{FlowContext, HttpSession};
use crate::http::{parse, HttpTransaction, RequestHead};
use crate::time::Timestamp;

impl HttpSession {
    /// A request head arrived: open its transaction.
    pub(super) fn on_request_head(
        &mut self,
        req: RequestHead,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        self.stats.requests += 1;
        self.stats.headers_dropped += u64::from(req.headers_dropped);
        self.next_depth += 1;
        let http09 = req.version == "0.9";
        if http09 {
            // An HTTP/0.9 request switches the reply stream to raw bytes: a response
            // still running for a request never seen ends here (as Zeek ends it).
            let orphan_running = self
                .open
                .iter()
                .any(|o| o.has_response && !o.response_done && o.txn.request.is_none());
            if orphan_running && matches!(self.response.framing, Framing::Body(_)) {
                self.finish_response();
            }
        }
        let found = RequestFramingHeaders::of(&req);
        let expect_continue = found
            .expect
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        let framing = request_body_framing(&found).unwrap_or_else(|e| {
            self.stats.count(e);
            None
        });
        self.multipart = match framing {
            Some(_) => multipart_readings(&req),
            None => Vec::new(),
        };
        let request_done = framing.is_none();
        let mut txn = new_transaction(ctx, self.request.head_ts, self.next_depth);
        txn.request = Some(req);
        txn.flags.request_overlap_conflict = std::mem::take(&mut self.request.conflict_next);
        txn.request_end_ts = request_done.then_some(self.request.head_ts);
        if request_done {
            self.request.framing = Framing::Head;
        }
        self.push_open(
            OpenTransaction {
                txn,
                request_done,
                has_response: false,
                response_done: false,
                expect_continue,
                http09,
            },
            out,
        );
        if let Some(decoder) = framing {
            self.request.framing = Framing::Body(decoder);
        }
    }

    /// The request body ended (or was given up): complete the newest request.
    pub(super) fn finish_request(&mut self, now: Timestamp) {
        self.body_may_be_abandoned = false;
        self.request.framing = Framing::Head;
        if let Some(open) = self.open.back_mut().filter(|o| !o.request_done) {
            open.request_done = true;
            open.txn.request_end_ts = Some(now);
            for mut mp in std::mem::take(&mut self.multipart) {
                mp.finish(&mut open.txn.uploads);
                self.stats.multipart_parts_dropped += mp.parts_dropped;
                self.stats.multipart_params_dropped += mp.params_dropped;
                open.txn.flags.multipart_over_cap |= mp.parts_dropped + mp.params_dropped > 0;
            }
        }
    }

    /// A response started while the request head is still buffered without its blank
    /// line (HTTP/0.9, or a client that never ends its head): the server has answered,
    /// so take the request as it stands.
    #[inline]
    pub(super) fn flush_partial_request_head(
        &mut self,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        // Nearly always nothing is buffered: checked where it is called.
        if !self.request.head.is_empty() {
            self.flush_buffered_request_head(ctx, out);
        }
    }

    /// [`HttpSession::flush_partial_request_head`] when request bytes are buffered.
    #[inline(never)]
    fn flush_buffered_request_head(&mut self, ctx: &FlowContext, out: &mut Vec<HttpTransaction>) {
        if !matches!(self.request.framing, Framing::Head)
            || memchr::memchr(b'\n', &self.request.head).is_none()
        {
            return;
        }
        let head = std::mem::take(&mut self.request.head);
        match parse::parse_request_head(&head) {
            Ok(req) => self.on_request_head(req, ctx, out),
            Err(e) => self.stats.count(e),
        }
    }
}
