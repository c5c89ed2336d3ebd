//! The HTTP/1.x driver of one connection: both directions' bytes in, transactions out.
//!
//! Requests open transactions in order; responses answer the oldest unanswered one
//! (pipelining); a transaction leaves when both halves are complete, or when the flow
//! ends. After a gap inside framing the side is desynchronised and looks for the next
//! request or status line. Open transactions are capped at [`MAX_OPEN_TRANSACTIONS`].

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::body::BodyDecoder;
use super::multipart::MultipartParser;
use super::parse::{self, find_head_end, is_request_line, MAX_HEAD_BYTES};
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

/// Counters kept by a session (summed by the pipeline).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HttpStats {
    pub requests: u64,
    pub responses: u64,
    pub errors: [u64; HttpError::ALL.len()],
    pub resyncs: u64,
    pub tunnels: u64,
    pub forced_out: u64,
    pub multipart_parts_dropped: u64,
}

impl HttpStats {
    fn count(&mut self, e: HttpError) {
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
        self.tunnels += other.tunnels;
        self.forced_out += other.forced_out;
        self.multipart_parts_dropped += other.multipart_parts_dropped;
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
    multipart: Option<MultipartParser>,
    /// The server answered before the request body came; a new request line ends it.
    body_may_be_abandoned: bool,
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
            Framing::Tunnel | Framing::Desync => (false, false, None),
        }
    }
}

/// Outcome of collecting a head from stream bytes.
enum HeadStep<'d> {
    /// The head is complete in the buffer; `rest` follows it.
    Complete {
        rest: &'d [u8],
    },
    /// All bytes taken; the head continues in later data.
    Partial,
    TooLong,
}

/// Appends `data` to `buf` until a full head is present.
fn take_head<'d>(buf: &mut Vec<u8>, data: &'d [u8]) -> HeadStep<'d> {
    let data = if buf.is_empty() {
        let start = data
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        &data[start..]
    } else {
        data
    };
    if data.is_empty() {
        return HeadStep::Partial;
    }
    let old = buf.len();
    let take = data.len().min((MAX_HEAD_BYTES + 4).saturating_sub(old));
    buf.extend_from_slice(&data[..take]);
    let search_from = old.saturating_sub(3);
    match find_head_end(&buf[search_from..]) {
        Some(end_rel) => {
            let end = search_from + end_rel;
            buf.truncate(end);
            HeadStep::Complete {
                rest: &data[end - old..],
            }
        }
        None if buf.len() > MAX_HEAD_BYTES => HeadStep::TooLong,
        None => HeadStep::Partial,
    }
}

/// Where the next line in `data` starting with something `is_start` accepts begins.
fn find_line_start(
    data: &[u8],
    at_line_start: bool,
    is_start: impl Fn(&[u8]) -> bool,
) -> Option<usize> {
    if at_line_start && is_start(data) {
        return Some(0);
    }
    let mut from = 0;
    while let Some(pos) = memchr::memchr(b'\n', &data[from..]) {
        let line = from + pos + 1;
        if is_start(&data[line..]) {
            return Some(line);
        }
        from = line;
    }
    None
}

fn is_status_line(data: &[u8]) -> bool {
    data.starts_with(b"HTTP/1.")
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

    /// The flow ended: complete what can be completed and emit every open transaction.
    pub fn finish(&mut self, now: Timestamp, ctx: &FlowContext, out: &mut Vec<HttpTransaction>) {
        self.flush_partial_request_head(ctx, out);
        if matches!(self.request.framing, Framing::Body(_)) {
            self.finish_request(now);
        }
        if matches!(self.response.framing, Framing::Head) && !self.response.head.is_empty() {
            let head = std::mem::take(&mut self.response.head);
            if let Ok(resp) = parse::parse_response_head(&head) {
                self.on_response_head(resp, ctx);
            }
        }
        if let Framing::Body(BodyDecoder::UntilClose) = self.response.framing {
            self.finish_response();
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
        if let Some(mp) = self.multipart.take() {
            self.stats.multipart_parts_dropped += mp.parts_dropped;
        }
    }

    fn on_request_data(
        &mut self,
        mut data: &[u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        while !data.is_empty() {
            match &mut self.request.framing {
                Framing::Tunnel => return,
                Framing::Desync => match find_line_start(data, false, is_request_line) {
                    Some(pos) => {
                        data = &data[pos..];
                        self.request.framing = Framing::Head;
                        self.stats.resyncs += 1;
                    }
                    None => return,
                },
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
                        if let Some(mp) = multipart.as_mut() {
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
        if framing.is_some() {
            self.multipart = req
                .header("content-type")
                .and_then(MultipartParser::from_content_type);
        }
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
            if let Some(mut mp) = self.multipart.take() {
                mp.finish(&mut open.txn.uploads);
                self.stats.multipart_parts_dropped += mp.parts_dropped;
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
        mut data: &[u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        self.flush_partial_request_head(ctx, out);
        while !data.is_empty() {
            match &mut self.response.framing {
                Framing::Tunnel => return,
                Framing::Desync => match find_line_start(data, false, is_status_line) {
                    Some(pos) => {
                        data = &data[pos..];
                        self.response.framing = Framing::Head;
                        self.stats.resyncs += 1;
                    }
                    None => return,
                },
                Framing::Head => {
                    if self.response.head.is_empty() {
                        self.response.head_ts = now;
                        let start = data
                            .iter()
                            .take_while(|&&b| b == b'\r' || b == b'\n')
                            .count();
                        let rest = &data[start..];
                        let owed_09 = self
                            .open
                            .iter()
                            .find(|o| !o.has_response)
                            .is_some_and(|o| o.http09);
                        if !rest.is_empty()
                            && (owed_09 || !rest.starts_with(&b"HTTP/"[..rest.len().min(5)]))
                        {
                            data = rest;
                            self.on_headless_response(now);
                            continue;
                        }
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
                            match parse::parse_response_head(&head) {
                                Ok(resp) => self.on_response_head(resp, ctx),
                                Err(e) => {
                                    self.stats.count(e);
                                    self.response.framing = Framing::Desync;
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
                    let result = decoder.feed(data, &mut |content| {
                        txn.response_body_len += content.len() as u64;
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
    fn on_headless_response(&mut self, now: Timestamp) {
        let owed_09 = self
            .open
            .iter()
            .find(|o| !o.has_response)
            .is_some_and(|o| o.http09);
        if !owed_09 {
            self.stats.count(HttpError::BadStatusLine);
            self.response.framing = Framing::Desync;
            return;
        }
        if let Some(open) = self.open.iter_mut().find(|o| !o.has_response) {
            open.has_response = true;
            open.txn.response_start_ts = Some(now);
            open.txn.flags.headless_response = true;
        }
        self.response.framing = Framing::Body(BodyDecoder::UntilClose);
    }

    fn on_response_head(&mut self, resp: ResponseHead, ctx: &FlowContext) {
        self.stats.responses += 1;
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
                Ok(f) => Some(f.unwrap_or(BodyDecoder::UntilClose)),
                Err(e) => {
                    self.stats.count(e);
                    Some(BodyDecoder::UntilClose)
                }
            }
        };
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
        if let Some(open) = self
            .open
            .iter_mut()
            .find(|o| o.has_response && !o.response_done)
        {
            open.response_done = true;
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

/// How a request body is framed (RFC 9112 §6.3): chunked wins over Content-Length;
/// a request with neither has no body.
fn request_body_framing(req: &RequestHead) -> Result<Option<BodyDecoder>, HttpError> {
    if is_chunked(req.header("transfer-encoding")) {
        return Ok(Some(BodyDecoder::chunked()));
    }
    match content_length(req.header("content-length"))? {
        Some(0) | None => Ok(None),
        Some(n) => Ok(Some(BodyDecoder::Length { remaining: n })),
    }
}

/// How a response body is framed; `None` means "until close".
fn response_body_framing(resp: &ResponseHead) -> Result<Option<BodyDecoder>, HttpError> {
    if is_chunked(resp.header("transfer-encoding")) {
        return Ok(Some(BodyDecoder::chunked()));
    }
    Ok(
        content_length(resp.header("content-length"))?
            .map(|n| BodyDecoder::Length { remaining: n }),
    )
}

fn is_chunked(te: Option<&str>) -> bool {
    te.is_some_and(|v| {
        v.rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    })
}

fn content_length(v: Option<&str>) -> Result<Option<u64>, HttpError> {
    let Some(v) = v else { return Ok(None) };
    // Repeated identical values ("5, 5") are allowed by RFC 9110 §8.6.
    let mut parsed: Option<u64> = None;
    for piece in v.split(',') {
        let n = piece
            .trim()
            .parse::<u64>()
            .map_err(|_| HttpError::BadContentLength)?;
        if parsed.is_some_and(|p| p != n) {
            return Err(HttpError::BadContentLength);
        }
        parsed = Some(n);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
