//! What response messages do to the connection's state: a head answers the oldest
//! unanswered request and frames its body (HEAD, 204, 304, CONNECT, content codings),
//! a 1xx is noted, 101 and an accepted CONNECT turn the connection into a tunnel, and
//! bytes without a status line are an HTTP/0.9 reply when one is owed.

use super::driver::{Framing, Step};
use super::framing::response_body_framing;
use super::stream::{self, MAX_JUNK_BEFORE_STATUS_BYTES};
use super::transaction::{account_response, new_transaction, OpenTransaction};
use super::{FlowContext, HttpSession};
use crate::http::body::BodyDecoder;
use crate::http::content::{ContentDecoder, FLOW_RATIO_GRACE_BYTES, MAX_DECODE_RATIO};
use crate::http::parse::name::is_name;
use crate::http::parse::{self, HeadQuirks};
use crate::http::{HttpError, Method, ResponseHead};
use crate::time::Timestamp;

impl HttpSession {
    /// Whether the oldest unanswered request is owed a headless HTTP/0.9 reply.
    fn owed_http09(&self) -> bool {
        self.unanswered()
            .and_then(|i| self.open.get(i))
            .is_some_and(|o| o.http09)
    }

    /// At a response head (after leading line ends): bytes that cannot begin a status
    /// line (or any bytes, when an HTTP/0.9 reply is owed) are handled as a headless
    /// response. `None` when `data` is read as a head; otherwise the driver's next step.
    pub(super) fn headless_step<'d>(&mut self, data: &'d [u8], now: Timestamp) -> Option<Step<'d>> {
        let headless = self.owed_http09() || stream::is_headless_start(&self.response.head, data);
        if self.response.head.len() >= MAX_JUNK_BEFORE_STATUS_BYTES || !headless {
            return None;
        }
        Some(if self.on_headless_response(data, now, false) {
            Step::Stop
        } else {
            Step::Again(data)
        })
    }

    /// Response bytes that are not a status line: an HTTP/0.9 reply if one is owed,
    /// otherwise garbage to skip until the next status line.
    /// Returns whether the bytes were kept to decide later (`data` is all taken).
    pub(super) fn on_headless_response(
        &mut self,
        data: &[u8],
        now: Timestamp,
        at_end: bool,
    ) -> bool {
        let owed_09 = self.owed_http09();
        // The first reply of a connection without a status line is HTTP/0.9 to browsers
        // (Chromium's `HttpStreamParser::ParseResponseHeaders` on the default port,
        // Firefox's `nsHttpTransaction::ParseHead`): its bytes are the body until close.
        // Unless a status line follows junk lines (resynchronised to, as libhtp does):
        // the first MAX_JUNK_BEFORE_STATUS_BYTES are looked at, however split.
        let first_reply = !owed_09
            && self.stats.responses == 0
            && self
                .open
                .iter()
                .any(|o| !o.has_response && o.txn.request.is_some());
        let junk_then_status = stream::status_line_follows_junk(&self.response.head, data);
        if first_reply
            && !junk_then_status
            && !at_end
            && self.response.head.len() + data.len() < MAX_JUNK_BEFORE_STATUS_BYTES
        {
            self.response.head.extend_from_slice(data);
            return true;
        }
        let first_09 = first_reply && !junk_then_status;
        if !owed_09 && !first_09 {
            self.stats.count(HttpError::BadStatusLine);
            stream::keep_last_line(&mut self.response.head);
            self.response.framing = Framing::Desync;
            return false;
        }
        if first_09 {
            self.stats.response_anomalies.http09_response += 1;
            self.stats.lenient_responses += 1;
        }
        let buffered = std::mem::take(&mut self.response.head);
        let keep = self.response_keep;
        if let Some(open) = self.unanswered().and_then(|i| self.open.get_mut(i)) {
            open.has_response = true;
            open.txn.response_start_ts = Some(now);
            open.txn.flags.headless_response = true;
            account_response(&mut open.txn, &buffered, keep);
        }
        self.response.framing = Framing::Body(BodyDecoder::UntilClose);
        false
    }

    /// A response head arrived: it answers the oldest unanswered request (or stands
    /// alone when none is waiting) and frames the body that follows.
    pub(super) fn on_response_head(
        &mut self,
        resp: ResponseHead,
        quirks: HeadQuirks,
        ctx: &FlowContext,
    ) {
        self.stats.responses += 1;
        self.stats.response_anomalies.count_head(&quirks);
        let mut lenient = quirks.any();
        let idx = match self.unanswered() {
            Some(i) => i,
            None => {
                // A response without a request (request not captured, or desync).
                self.next_depth += 1;
                self.enqueue(OpenTransaction {
                    txn: new_transaction(ctx, self.response.head_ts, self.next_depth),
                    request_done: true,
                    has_response: false,
                    response_done: false,
                    expect_continue: false,
                    http09: false,
                });
                self.open.len() - 1
            }
        };
        let Some(open) = self.open.get_mut(idx) else {
            return;
        };
        let status = resp.status;
        if (100..200).contains(&status) {
            open.txn.info_code = Some(status);
            if status == 101 {
                open.txn.response = Some(resp);
                open.txn.response_start_ts = Some(self.response.head_ts);
                open.has_response = true;
                open.response_done = true;
                open.txn.flags.tunnel = true;
                self.start_tunnel();
            }
            return;
        }
        open.has_response = true;
        open.txn.response_start_ts = Some(self.response.head_ts);
        if !open.request_done && open.txn.request_body_len == 0 && open.expect_continue {
            open.txn.flags.answered_before_body = true;
            self.body_may_be_abandoned = true;
        }
        // Framing reads the method in any case, as it did before the method table
        // (`Method::parse_ignore_case`, asked only about these two).
        let method = open.txn.request.as_ref().map(|r| r.method.as_str());
        let is_method = |name: &str| method.is_some_and(|m| m.eq_ignore_ascii_case(name));
        let no_body = is_method(Method::Head.name()) || status == 204 || status == 304;
        let connect_ok = is_method(Method::Connect.name()) && (200..300).contains(&status);
        let framing = if no_body || connect_ok {
            None
        } else {
            match response_body_framing(&resp) {
                Ok((f, framing_quirks)) => {
                    framing_quirks.count_into(&mut self.stats.response_anomalies);
                    lenient |= framing_quirks.any();
                    Some(f.unwrap_or(BodyDecoder::UntilClose))
                }
                Err(e) => {
                    self.stats.count(e);
                    Some(BodyDecoder::UntilClose)
                }
            }
        };
        self.stats.lenient_responses += u64::from(lenient);
        self.content = None;
        // One pass collects the Content-Encodings (an empty list allocates nothing);
        // without one there is nothing to decode (`from_header("")` is `None`), so
        // nothing is joined.
        let codings: Vec<&str> = match framing {
            Some(_) => resp
                .headers
                .iter()
                .filter(|h| is_name(&h.name, "content-encoding"))
                .map(|h| h.value.as_str())
                .collect(),
            None => Vec::new(),
        };
        if !codings.is_empty() {
            self.content = ContentDecoder::from_header(&codings.join(","));
            if let Some(cd) = self.content.as_mut() {
                let (decoded, encoded) = self.inflation;
                let allowed =
                    FLOW_RATIO_GRACE_BYTES.saturating_add(encoded.saturating_mul(MAX_DECODE_RATIO));
                cd.limit_to(allowed.saturating_sub(decoded));
            }
        }
        open.txn.response = Some(resp);
        match framing {
            Some(decoder) => self.response.framing = Framing::Body(decoder),
            None => {
                self.finish_response();
                if connect_ok {
                    if let Some(open) = self.open.get_mut(idx) {
                        open.txn.flags.tunnel = true;
                    }
                    self.start_tunnel();
                }
            }
        }
    }

    /// The response body ended: complete the response being read.
    pub(super) fn finish_response(&mut self) {
        self.response.framing = Framing::Head;
        let mut content = self.content.take();
        let keep = self.response_keep;
        if let Some(open) = self.answering().and_then(|i| self.open.get_mut(i)) {
            open.response_done = true;
            if let Some(cd) = content.as_mut() {
                cd.finish(&mut |d| account_response(&mut open.txn, d, keep));
            }
        }
        if let Some(cd) = content {
            let (decoded, encoded) = cd.inflation();
            self.inflation.0 += decoded;
            self.inflation.1 += encoded;
            self.stats.decode += cd.stats;
        }
    }

    /// The flow ended: a buffered head without its blank line is parsed as it stands,
    /// a body read until close is complete, and a body cut short is flushed through its
    /// content decoding (counted).
    pub(super) fn finish_response_at_close(&mut self, now: Timestamp, ctx: &FlowContext) {
        // (Nothing buffered is not a headless start: it may still begin a status line.)
        if matches!(self.response.framing, Framing::Head)
            && !self.response.head.is_empty()
            && stream::is_headless_start(&self.response.head, &[])
        {
            self.on_headless_response(&[], now, true);
        }
        if matches!(self.response.framing, Framing::Head) && !self.response.head.is_empty() {
            let head = std::mem::take(&mut self.response.head);
            if let Ok((resp, quirks)) = parse::read_response_head(&head) {
                self.on_response_head(resp, quirks, ctx);
            }
        }
        if let Framing::Body(BodyDecoder::UntilClose) = self.response.framing {
            self.finish_response();
        }
        if let Some(mut cd) = self.content.take() {
            let keep = self.response_keep;
            if let Some(open) = self.answering().and_then(|i| self.open.get_mut(i)) {
                cd.finish(&mut |d| account_response(&mut open.txn, d, keep));
            }
            self.stats.decode += cd.stats;
        }
    }

    /// CONNECT accepted or protocols switched: neither side is HTTP any more.
    fn start_tunnel(&mut self) {
        self.stats.tunnels += 1;
        self.request.framing = Framing::Tunnel;
        self.response.framing = Framing::Tunnel;
    }
}
