//! The parser: one driver for a direction's byte stream, used for requests and
//! responses alike.
//!
//! A side is always in one [`Framing`] state: collecting a head, inside a body, lost
//! (scanning for the next message), or a tunnel. The driver moves a side between them
//! the same way in both directions; what differs per direction (which lines start a
//! message, which head parser runs, where body bytes go, which transaction a gap
//! marks) is chosen by [`Direction`] in the small hooks at the bottom of this file.

use super::stream::{resync, take_head, HeadStep};
use super::transaction::account_response;
use super::{FlowContext, HttpSession, MAX_BODY_PREFIX_BYTES};
use crate::flow::Direction;
use crate::http::body::BodyDecoder;
use crate::http::parse::{could_begin_request_line, could_begin_status_line};
use crate::http::parse::{find_head_end, is_request_line, is_status_line, MAX_HEAD_BYTES};
use crate::http::{HttpError, HttpTransaction};
use crate::time::Timestamp;

/// Where a side is in its byte stream.
#[derive(Debug, Default)]
pub(super) enum Framing {
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

/// One direction's parser state.
#[derive(Debug, Default)]
pub(super) struct Side {
    pub(super) framing: Framing,
    pub(super) head: Vec<u8>,
    pub(super) head_ts: Timestamp,
    /// The last byte seen was not a line end (and no gap followed it): the next chunk's
    /// first byte cannot start a request or status line. After a gap it may.
    pub(super) mid_line: bool,
    /// A conflicting overlap came before the next message of this side, which is to
    /// carry the mark ([`HttpSession::on_conflict`]).
    pub(super) conflict_next: bool,
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

/// What one step of the driver leaves to do.
pub(super) enum Step<'d> {
    /// Go on with these bytes; the response side emits completed transactions first.
    Next(&'d [u8]),
    /// Go on with these bytes at once.
    Again(&'d [u8]),
    /// Everything is consumed, or the rest is carried or ignored.
    Stop,
}

impl HttpSession {
    /// One direction's parser state.
    pub(super) fn side_mut(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.request,
            Direction::ToClient => &mut self.response,
        }
    }

    /// Feeds one data chunk of one direction.
    pub(super) fn on_data(
        &mut self,
        dir: Direction,
        data: &[u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) {
        let emits = dir == Direction::ToClient;
        if emits {
            self.flush_partial_request_head(ctx, out);
        }
        let mut rest = data;
        let finished = loop {
            if rest.is_empty() {
                break true;
            }
            match self.step(dir, rest, now, ctx, out) {
                Step::Next(r) => {
                    rest = r;
                    if emits {
                        self.emit_completed(out);
                    }
                }
                Step::Again(r) => rest = r,
                Step::Stop => break false,
            }
        };
        if emits && finished {
            self.emit_completed(out);
        }
        self.side_mut(dir).mid_line = data.last().is_some_and(|&b| b != b'\n');
    }

    /// Skips a gap of `len` bytes in one direction.
    pub(super) fn on_gap(
        &mut self,
        dir: Direction,
        len: u64,
        now: Timestamp,
        out: &mut Vec<HttpTransaction>,
    ) {
        self.mark_gap(dir);
        let side = self.side_mut(dir);
        let (body_ended, lost, error) = side.skip_gap(len);
        // What follows a gap may begin a message line: segments usually start one.
        side.mid_line = false;
        if let Some(e) = error {
            self.stats.count(e);
        }
        if body_ended {
            self.finish_message(dir, now);
            if lost {
                self.side_mut(dir).framing = Framing::Desync;
            }
        }
        self.emit_completed(out);
    }

    /// One step on `data` in the side's current framing.
    fn step<'d>(
        &mut self,
        dir: Direction,
        data: &'d [u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) -> Step<'d> {
        let abandoned = dir == Direction::ToServer && self.body_may_be_abandoned;
        match &self.side_mut(dir).framing {
            Framing::Tunnel => Step::Stop,
            Framing::Desync => {
                let (is_start, could_begin) = line_starts(dir);
                let found = resync(
                    data,
                    match dir {
                        Direction::ToServer => &mut self.request,
                        Direction::ToClient => &mut self.response,
                    },
                    &mut self.stats,
                    now,
                    is_start,
                    could_begin,
                );
                match found {
                    Some(pos) => Step::Next(&data[pos..]),
                    None => Step::Stop,
                }
            }
            Framing::Head => self.head_step(dir, data, now, ctx, out),
            Framing::Body(_) if abandoned && is_request_line(data) => {
                // 100-continue refused: the client skipped the body and moved on.
                self.finish_request(now);
                Step::Next(data)
            }
            Framing::Body(_) => self.body_step(dir, data, now),
        }
    }

    /// Collects a head; parses it when complete.
    fn head_step<'d>(
        &mut self,
        dir: Direction,
        data: &'d [u8],
        now: Timestamp,
        ctx: &FlowContext,
        out: &mut Vec<HttpTransaction>,
    ) -> Step<'d> {
        let mut data = data;
        if self.side_mut(dir).head.is_empty() {
            self.side_mut(dir).head_ts = now;
            if dir == Direction::ToClient {
                let start = data
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                data = &data[start..];
                if data.is_empty() {
                    return Step::Again(data);
                }
            }
        }
        if dir == Direction::ToClient {
            if let Some(step) = self.headless_step(data, now) {
                return step;
            }
        }
        if self.side_mut(dir).head.is_empty() {
            // Fast path: the whole head is in this chunk (the usual case). It is parsed
            // where it lies, as `take_head` would have cut it, without a copy.
            let start = data
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            let from = &data[start..];
            let window = &from[..from.len().min(MAX_HEAD_BYTES + 4)];
            if let Some(end) = self.on_strict_head(dir, window, ctx, out) {
                return Step::Next(&from[end..]);
            }
            if let Some(end) = find_head_end(window) {
                self.on_head(dir, &from[..end], ctx, out);
                return Step::Next(&from[end..]);
            }
        }
        let side = self.side_mut(dir);
        match take_head(&mut side.head, data) {
            HeadStep::Partial => Step::Stop,
            HeadStep::TooLong => {
                side.head.clear();
                side.framing = Framing::Desync;
                self.stats.count(HttpError::HeadTooLong);
                Step::Stop
            }
            HeadStep::Complete { rest } => {
                let head = std::mem::take(&mut side.head);
                self.on_head(dir, &head, ctx, out);
                // Keep the buffer's capacity for the next head.
                let side = self.side_mut(dir);
                side.head = head;
                side.head.clear();
                Step::Next(rest)
            }
        }
    }

    /// Feeds body bytes to the side's body decoder and the message they belong to.
    fn body_step<'d>(&mut self, dir: Direction, data: &'d [u8], now: Timestamp) -> Step<'d> {
        let target = self.body_target(dir);
        let HttpSession {
            request,
            response,
            open,
            multipart,
            content,
            response_keep,
            ..
        } = self;
        let keep = *response_keep;
        let side = match dir {
            Direction::ToServer => request,
            Direction::ToClient => response,
        };
        let Some(open) = target.and_then(|i| open.get_mut(i)) else {
            side.framing = Framing::Head;
            return Step::Again(data);
        };
        let Framing::Body(decoder) = &mut side.framing else {
            return Step::Again(data);
        };
        let txn = &mut open.txn;
        let result = match dir {
            Direction::ToServer => decoder.feed(data, &mut |body| {
                txn.request_body_len += body.len() as u64;
                let room = MAX_BODY_PREFIX_BYTES.saturating_sub(txn.body_prefix.len());
                txn.body_prefix
                    .extend_from_slice(&body[..room.min(body.len())]);
                for mp in multipart.iter_mut() {
                    mp.feed(body, &mut txn.uploads);
                }
            }),
            Direction::ToClient => decoder.feed(data, &mut |body| match content {
                Some(cd) => cd.feed(body, &mut |d| account_response(txn, d, keep)),
                None => account_response(txn, body, keep),
            }),
        };
        match result {
            Ok(progress) => {
                if progress.done {
                    self.finish_message(dir, now);
                }
                Step::Next(&data[progress.consumed..])
            }
            Err(e) => {
                self.stats.count(e);
                self.finish_message(dir, now);
                let side = self.side_mut(dir);
                side.framing = Framing::Desync;
                side.mid_line = true;
                Step::Next(data)
            }
        }
    }

    // --- the per-direction hooks ---------------------------------------------------

    /// The open transaction whose body this side is reading: the newest for requests,
    /// the one being answered for responses.
    fn body_target(&self, dir: Direction) -> Option<usize> {
        match dir {
            Direction::ToServer => self.open.len().checked_sub(1),
            Direction::ToClient => self.answering(),
        }
    }

    /// Overlapping segments of this direction disagreed just before the bytes that
    /// follow: marks the request they go to (the one being read, else the next).
    /// Responses are not inspected for attacks; only the count is kept for them.
    pub(super) fn on_conflict(&mut self, dir: Direction) {
        if dir != Direction::ToServer {
            return;
        }
        match self.open.back_mut() {
            Some(open) if !open.request_done => open.txn.flags.request_overlap_conflict = true,
            _ => self.request.conflict_next = true,
        }
    }

    /// Marks the transaction a gap in this direction falls into.
    fn mark_gap(&mut self, dir: Direction) {
        match dir {
            Direction::ToServer => {
                if let Some(open) = self.open.back_mut() {
                    open.txn.flags.request_gap |= !open.request_done;
                }
            }
            Direction::ToClient => {
                if let Some(i) = self.answering() {
                    if let Some(open) = self.open.get_mut(i) {
                        open.txn.flags.response_gap = true;
                    }
                }
            }
        }
    }

    /// The message being read in this direction is complete.
    fn finish_message(&mut self, dir: Direction, now: Timestamp) {
        match dir {
            Direction::ToServer => self.finish_request(now),
            Direction::ToClient => self.finish_response(),
        }
    }
}

/// Which lines start a message in this direction, and which unfinished line could
/// still become one (for resynchronisation).
type LineTest = fn(&[u8]) -> bool;

fn line_starts(dir: Direction) -> (LineTest, LineTest) {
    match dir {
        Direction::ToServer => (is_request_line, could_begin_request_line),
        Direction::ToClient => (is_status_line, could_begin_status_line),
    }
}
