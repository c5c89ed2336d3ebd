//! The HTTP/1.x driver of one connection: both directions' bytes in, transactions out.
//!
//! Requests open transactions in order; responses answer the oldest unanswered one
//! (pipelining); a transaction leaves when both halves are complete, or when the flow
//! ends. After a gap inside framing the side is desynchronised and looks for the next
//! request or status line. Open transactions are capped at [`MAX_OPEN_TRANSACTIONS`].

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::body::BodyDecoder;
use super::content::{ContentDecoder, DecodeStats, FLOW_RATIO_GRACE_BYTES, MAX_DECODE_RATIO};
use super::multipart::MultipartParser;
use super::parse::{self, is_request_line, HeadQuirks};
use super::parse::{could_begin_request_line, could_begin_status_line, is_status_line};
use super::{HttpError, HttpTransaction, RequestHead, ResponseHead, TransactionFlags};
use crate::flow::Direction;
use crate::reassembly::Chunk;
use crate::time::Timestamp;

/// Transactions awaiting completion per connection; beyond this the oldest is emitted
/// incomplete (a pipelining flood with no responses must not grow memory).
pub const MAX_OPEN_TRANSACTIONS: usize = 64;
/// Request body bytes kept in memory for detection (form values, injected commands,
/// the Core Rule Set's REQUEST_BODY and ARGS_POST); never written out. A longer body is
/// cut here, and the CRS engine counts the cut (`caps_hit`).
pub const MAX_BODY_PREFIX_BYTES: usize = 64 * 1024;
/// Decoded response body bytes kept in memory for detection (a web shell's answer).
pub const MAX_RESPONSE_PREFIX_BYTES: usize = 64 * 1024;

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
    /// Request header lines parsed but not kept (over [`parse::MAX_HEADERS`]).
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
    fn count(&mut self, e: HttpError) {
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

/// Facts about the flow that the session stamps on its transactions.
#[derive(Debug, Clone, Copy)]
pub struct FlowContext {
    pub flow_id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
}

#[derive(Debug, Default)]
enum Framing {
    /// Expecting a head.
    #[default]
    Head,
    /// Inside a body.
    Body(BodyDecoder),
    /// Not HTTP any more (CONNECT or Upgrade accepted).
    Tunnel,
    /// Lost framing; scanning for the next request or status line.
    Desync,
}

#[derive(Debug, Default)]
struct Side {
    framing: Framing,
    head: Vec<u8>,
    head_ts: Timestamp,
    /// The last byte seen was not a line end (and no gap followed it): the next chunk's
    /// first byte cannot start a request or status line. After a gap it may.
    mid_line: bool,
}

#[derive(Debug)]
struct OpenTransaction {
    txn: HttpTransaction,
    request_done: bool,
    has_response: bool,
    response_done: bool,
    expect_continue: bool,
    /// HTTP/0.9: the response has no head and runs until close.
    http09: bool,
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
    pub stats: HttpStats,
}

impl Side {
    /// Skips `len` bytes never captured. Returns whether a body ended (the caller
    /// completes its message, then resynchronises if the second value says framing
    /// was lost) and the framing error, if any. A gap in a head loses
    /// framing at once.
    fn skip_gap(&mut self, len: u64) -> (bool, bool, Option<HttpError>) {
        match &mut self.framing {
            Framing::Body(decoder) => match decoder.skip_gap(len) {
                Ok((done, leftover)) => {
                    let lost = leftover > 0;
                    if lost && !done {
                        self.framing = Framing::Desync;
                    }
                    (done, lost, None)
                }
                Err(e) => (true, true, Some(e)),
            },
            Framing::Head => {
                self.head.clear();
                self.framing = Framing::Desync;
                (false, false, None)
            }
            Framing::Desync => {
                // A gap breaks a carried partial line.
                self.head.clear();
                (false, false, None)
            }
            Framing::Tunnel => (false, false, None),
        }
    }
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
        match (dir, chunk) {
            (Direction::ToServer, Chunk::Data(d)) => self.on_request_data(d, now, ctx, out),
            (Direction::ToClient, Chunk::Data(d)) => self.on_response_data(d, now, ctx, out),
            (Direction::ToServer, Chunk::Gap(n)) => self.on_request_gap(n, now, out),
            (Direction::ToClient, Chunk::Gap(n)) => self.on_response_gap(n, out),
        }
    }

    /// Whether a request is half received (its head or body still arriving), so the
    /// flow table evicts this flow last.
    pub fn mid_request(&self) -> bool {
        matches!(self.request.framing, Framing::Body(_))
            || !self.request.head.is_empty()
            || self.open.iter().any(|t| !t.request_done)
    }

    /// The flow ended: complete what can be completed and emit every open transaction.
    pub fn finish(&mut self, now: Timestamp, ctx: &FlowContext, out: &mut Vec<HttpTransaction>) {
        self.flush_partial_request_head(ctx, out);
        if matches!(self.request.framing, Framing::Body(_)) {
            self.finish_request(now);
        }
        if matches!(self.response.framing, Framing::Head)
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
        // A body cut short by the end of the flow: flush and count its decoding.
        if let Some(mut cd) = self.content.take() {
            if let Some(open) = self
                .open
                .iter_mut()
                .find(|o| o.has_response && !o.response_done)
            {
                cd.finish(&mut |d| account_response(&mut open.txn, d));
            }
            self.stats.decode += cd.stats;
        }
        while let Some(mut open) = self.open.pop_front() {
            // An HTTP/0.9 request whose reply never started is complete as it stands.
            let complete =
                open.request_done && (open.response_done || (!open.has_response && open.http09));
            if !complete {
                open.txn.flags.incomplete = true;
            }
            out.push(open.txn);
        }
        for mp in std::mem::take(&mut self.multipart) {
            self.stats.multipart_parts_dropped += mp.parts_dropped;
            self.stats.multipart_params_dropped += mp.params_dropped;
        }
    }

    fn on_request_data(
        &mut self,
        data: &[u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        self.feed_request(data, now, ctx, out);
        self.request.mid_line = data.last().is_some_and(|&b| b != b'\n');
    }

    fn feed_request(
        &mut self,
        mut data: &[u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        while !data.is_empty() {
            match &mut self.request.framing {
                Framing::Tunnel => return,
                Framing::Desync => {
                    let side = &mut self.request;
                    let found = resync(
                        data,
                        side,
                        &mut self.stats,
                        now,
                        is_request_line,
                        could_begin_request_line,
                    );
                    match found {
                        Some(pos) => data = &data[pos..],
                        None => return,
                    }
                }
                Framing::Head => {
                    if self.request.head.is_empty() {
                        self.request.head_ts = now;
                    }
                    match take_head(&mut self.request.head, data) {
                        HeadStep::Partial => return,
                        HeadStep::TooLong => {
                            self.stats.count(HttpError::HeadTooLong);
                            self.request.head.clear();
                            self.request.framing = Framing::Desync;
                            return;
                        }
                        HeadStep::Complete { rest } => {
                            data = rest;
                            let head = std::mem::take(&mut self.request.head);
                            match parse::parse_request_head(&head) {
                                Ok(req) => self.on_request_head(req, ctx, out),
                                Err(e) => {
                                    self.stats.count(e);
                                    self.request.framing = Framing::Desync;
                                    // What follows the blank line starts a line.
                                    self.request.mid_line = false;
                                }
                            }
                            self.request.head = head;
                            self.request.head.clear();
                        }
                    }
                }
                Framing::Body(_) if self.body_may_be_abandoned && is_request_line(data) => {
                    // 100-continue refused: the client skipped the body and moved on.
                    self.finish_request(now);
                }
                Framing::Body(decoder) => {
                    let Some(open) = self.open.back_mut() else {
                        self.request.framing = Framing::Head;
                        continue;
                    };
                    let txn = &mut open.txn;
                    let multipart = &mut self.multipart;
                    let result = decoder.feed(data, &mut |content| {
                        txn.request_body_len += content.len() as u64;
                        let room = MAX_BODY_PREFIX_BYTES.saturating_sub(txn.body_prefix.len());
                        txn.body_prefix
                            .extend_from_slice(&content[..room.min(content.len())]);
                        for mp in multipart.iter_mut() {
                            mp.feed(content, &mut txn.uploads);
                        }
                    });
                    match result {
                        Ok(progress) => {
                            data = &data[progress.consumed..];
                            if progress.done {
                                self.finish_request(now);
                            }
                        }
                        Err(e) => {
                            self.stats.count(e);
                            self.finish_request(now);
                            self.request.framing = Framing::Desync;
                            self.request.mid_line = true;
                        }
                    }
                }
            }
        }
    }

    fn on_request_head(
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
        let expect_continue = req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        let framing = request_body_framing(&req).unwrap_or_else(|e| {
            self.stats.count(e);
            None
        });
        self.multipart = match framing {
            Some(_) => multipart_readings(&req),
            None => Vec::new(),
        };
        let txn = HttpTransaction {
            flow_id: ctx.flow_id,
            client: ctx.client,
            server: ctx.server,
            ts: self.request.head_ts,
            trans_depth: self.next_depth,
            request: Some(req),
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
        };
        let request_done = framing.is_none();
        if request_done {
            self.request.framing = Framing::Head;
        }
        self.push_open(
            OpenTransaction {
                txn: HttpTransaction {
                    request_end_ts: request_done.then_some(self.request.head_ts),
                    ..txn
                },
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

    fn push_open(&mut self, open: OpenTransaction, out: &mut Vec<HttpTransaction>) {
        if self.open.len() >= MAX_OPEN_TRANSACTIONS {
            if let Some(mut oldest) = self.open.pop_front() {
                oldest.txn.flags.incomplete = true;
                self.stats.forced_out += 1;
                out.push(oldest.txn);
            }
        }
        self.open.push_back(open);
    }

    fn finish_request(&mut self, now: Timestamp) {
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
    fn flush_partial_request_head(&mut self, ctx: &FlowContext, out: &mut Vec<HttpTransaction>) {
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

    fn on_response_data(
        &mut self,
        data: &[u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        self.feed_response(data, now, ctx, out);
        self.response.mid_line = data.last().is_some_and(|&b| b != b'\n');
    }

    fn feed_response(
        &mut self,
        mut data: &[u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        self.flush_partial_request_head(ctx, out);
        while !data.is_empty() {
            match &mut self.response.framing {
                Framing::Tunnel => return,
                Framing::Desync => {
                    let side = &mut self.response;
                    let found = resync(
                        data,
                        side,
                        &mut self.stats,
                        now,
                        is_status_line,
                        could_begin_status_line,
                    );
                    match found {
                        Some(pos) => data = &data[pos..],
                        None => return,
                    }
                }
                Framing::Head => {
                    if self.response.head.is_empty() {
                        self.response.head_ts = now;
                        let start = data
                            .iter()
                            .take_while(|&&b| b == b'\r' || b == b'\n')
                            .count();
                        data = &data[start..];
                        if data.is_empty() {
                            continue;
                        }
                    }
                    let owed_09 = self
                        .open
                        .iter()
                        .find(|o| !o.has_response)
                        .is_some_and(|o| o.http09);
                    if self.response.head.len() < MAX_JUNK_BEFORE_STATUS_BYTES
                        && (owed_09 || stream::is_headless_start(&self.response.head, data))
                    {
                        if self.on_headless_response(data, now, false) {
                            return;
                        }
                        continue;
                    }
                    match take_head(&mut self.response.head, data) {
                        HeadStep::Partial => return,
                        HeadStep::TooLong => {
                            self.stats.count(HttpError::HeadTooLong);
                            self.response.head.clear();
                            self.response.framing = Framing::Desync;
                            return;
                        }
                        HeadStep::Complete { rest } => {
                            data = rest;
                            let head = std::mem::take(&mut self.response.head);
                            match parse::read_response_head(&head) {
                                Ok((resp, quirks)) => self.on_response_head(resp, quirks, ctx),
                                Err(e) => {
                                    self.stats.count(e);
                                    self.response.framing = Framing::Desync;
                                    self.response.mid_line = false;
                                }
                            }
                            self.response.head = head;
                            self.response.head.clear();
                        }
                    }
                }
                Framing::Body(decoder) => {
                    let Some(open) = self
                        .open
                        .iter_mut()
                        .find(|o| o.has_response && !o.response_done)
                    else {
                        self.response.framing = Framing::Head;
                        continue;
                    };
                    let txn = &mut open.txn;
                    let content_decoder = &mut self.content;
                    let result = decoder.feed(data, &mut |content| match content_decoder {
                        Some(cd) => cd.feed(content, &mut |d| account_response(txn, d)),
                        None => account_response(txn, content),
                    });
                    match result {
                        Ok(progress) => {
                            data = &data[progress.consumed..];
                            if progress.done {
                                self.finish_response();
                            }
                        }
                        Err(e) => {
                            self.stats.count(e);
                            self.finish_response();
                            self.response.framing = Framing::Desync;
                            self.response.mid_line = true;
                        }
                    }
                }
            }
            self.emit_completed(out);
        }
        self.emit_completed(out);
    }

    /// Response bytes that are not a status line: an HTTP/0.9 reply if one is owed,
    /// otherwise garbage to skip until the next status line.
    /// Returns whether the bytes were kept to decide later (`data` is all taken).
    fn on_headless_response(&mut self, data: &[u8], now: Timestamp, at_end: bool) -> bool {
        let owed_09 = self
            .open
            .iter()
            .find(|o| !o.has_response)
            .is_some_and(|o| o.http09);
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
        if let Some(open) = self.open.iter_mut().find(|o| !o.has_response) {
            open.has_response = true;
            open.txn.response_start_ts = Some(now);
            open.txn.flags.headless_response = true;
            account_response(&mut open.txn, &buffered);
        }
        self.response.framing = Framing::Body(BodyDecoder::UntilClose);
        false
    }

    fn on_response_head(&mut self, resp: ResponseHead, quirks: HeadQuirks, ctx: &FlowContext) {
        self.stats.responses += 1;
        self.stats.response_anomalies.count_head(&quirks);
        let mut lenient = quirks.any();
        let idx = match self.open.iter().position(|o| !o.has_response) {
            Some(i) => i,
            None => {
                // A response without a request (request not captured, or desync).
                self.next_depth += 1;
                self.open.push_back(OpenTransaction {
                    txn: HttpTransaction {
                        flow_id: ctx.flow_id,
                        client: ctx.client,
                        server: ctx.server,
                        ts: self.response.head_ts,
                        trans_depth: self.next_depth,
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
                    },
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
        let method = open
            .txn
            .request
            .as_ref()
            .map(|r| r.method.as_str())
            .unwrap_or("");
        let no_body = method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304;
        let connect_ok = method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status);
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
        if framing.is_some() {
            let codings: Vec<&str> = resp
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("content-encoding"))
                .map(|h| h.value.as_str())
                .collect();
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

    fn finish_response(&mut self) {
        self.response.framing = Framing::Head;
        let mut content = self.content.take();
        if let Some(open) = self
            .open
            .iter_mut()
            .find(|o| o.has_response && !o.response_done)
        {
            open.response_done = true;
            if let Some(cd) = content.as_mut() {
                cd.finish(&mut |d| account_response(&mut open.txn, d));
            }
        }
        if let Some(cd) = content {
            let (decoded, encoded) = cd.inflation();
            self.inflation.0 += decoded;
            self.inflation.1 += encoded;
            self.stats.decode += cd.stats;
        }
    }

    fn start_tunnel(&mut self) {
        self.stats.tunnels += 1;
        self.request.framing = Framing::Tunnel;
        self.response.framing = Framing::Tunnel;
    }

    fn emit_completed(&mut self, out: &mut Vec<HttpTransaction>) {
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

    fn on_request_gap(&mut self, len: u64, now: Timestamp, out: &mut Vec<HttpTransaction>) {
        if let Some(open) = self.open.back_mut() {
            open.txn.flags.request_gap |= !open.request_done;
        }
        let (body_ended, lost, error) = self.request.skip_gap(len);
        // What follows a gap may begin a request line: segments usually start one.
        self.request.mid_line = false;
        if let Some(e) = error {
            self.stats.count(e);
        }
        if body_ended {
            self.finish_request(now);
            if lost {
                self.request.framing = Framing::Desync;
            }
        }
        self.emit_completed(out);
    }

    fn on_response_gap(&mut self, len: u64, out: &mut Vec<HttpTransaction>) {
        if let Some(open) = self
            .open
            .iter_mut()
            .find(|o| o.has_response && !o.response_done)
        {
            open.txn.flags.response_gap = true;
        }
        let (body_ended, lost, error) = self.response.skip_gap(len);
        self.response.mid_line = false;
        if let Some(e) = error {
            self.stats.count(e);
        }
        if body_ended {
            self.finish_response();
            if lost {
                self.response.framing = Framing::Desync;
            }
        }
        self.emit_completed(out);
    }
}

/// Counts decoded response body bytes and keeps the first ones for detection.
fn account_response(txn: &mut HttpTransaction, decoded: &[u8]) {
    txn.response_body_len += decoded.len() as u64;
    let room = MAX_RESPONSE_PREFIX_BYTES.saturating_sub(txn.response_body_prefix.len());
    txn.response_body_prefix
        .extend_from_slice(&decoded[..room.min(decoded.len())]);
}

mod framing;
mod stream;

pub use framing::ResponseAnomalies;
use framing::{multipart_readings, request_body_framing, response_body_framing};
use stream::{resync, take_head, HeadStep, MAX_JUNK_BEFORE_STATUS_BYTES};

#[cfg(test)]
mod anomaly_tests;
#[cfg(test)]
mod response_tests;
#[cfg(test)]
mod tests;
