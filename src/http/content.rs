//! Undoing a response's Content-Encoding (gzip, deflate, x-gzip), as browsers do, so
//! that the logged body size is the decoded size (Zeek's `response_body_len`) and the
//! first decoded bytes reach detection.
//!
//! Browser leniencies followed here, each from the browsers' own decoders:
//! - `deflate` may be a zlib stream (RFC 9110 §8.4.1.2) or raw deflate: Firefox's
//!   `nsHTTPCompressConv` and Chromium's `GzipSourceStream` both look at the first two
//!   bytes and fall back to raw deflate when they are not a zlib header.
//! - `x-gzip` is `gzip` (RFC 9110 §8.4.1.3), `x-deflate` is `deflate`; `identity`
//!   is no layer.
//! - Codings are split on anything that is not a letter, digit or `-` (NUL bytes are
//!   dropped first); tokens not understood are
//!   skipped (counted), as the HTTP Evader cases `gzip x`, `x gzip`, `deflate;` show
//!   browsers doing.
//! - A body that does not decode from its first byte is passed through as it is
//!   (counted as corrupt): a server that labels plain bytes `gzip` is still read by
//!   browsers (HTTP Evader cases 153-163), and libhtp passes such bodies through too.
//!
//! Decoding is bounded three ways, each counted in [`DecodeStats`]:
//! at most [`MAX_CONTENT_LAYERS`] layers, at most [`MAX_DECODED_BYTES`] decoded bytes
//! per response, and per flow at most [`FLOW_RATIO_GRACE_BYTES`] beyond
//! [`MAX_DECODE_RATIO`] times the flow's encoded bytes (the session says what is left,
//! [`ContentDecoder::limit_to`]: a keep-alive run of small bombs, each within its own
//! grace, cannot add up) and a ratio of [`MAX_DECODE_RATIO`] decoded bytes per encoded byte
//! (the decompression bomb guard). Input is fed in [`DECODE_STEP_BYTES`] slices so
//! one step's output is bounded too. Truncated or corrupt streams keep what was
//! decoded and are counted; nothing panics.

use layer::{Layer, Written};

/// Content codings undone per response; more are left encoded (counted).
pub const MAX_CONTENT_LAYERS: usize = 3;
/// Decoded bytes per response past which decoding stops (counted).
pub const MAX_DECODED_BYTES: u64 = 16 * 1024 * 1024;
/// Decoded bytes a flow's responses together may inflate beyond [`MAX_DECODE_RATIO`]
/// times their encoded bytes; past it each response gets only the ratio (counted as
/// `bomb_capped`). Ordinary compressed traffic (well under the ratio) never meets it.
pub const FLOW_RATIO_GRACE_BYTES: u64 = 64 * 1024 * 1024;
/// Decoded bytes allowed per encoded byte once past [`RATIO_GRACE_BYTES`].
pub const MAX_DECODE_RATIO: u64 = 200;
/// Decoded bytes always allowed before the ratio applies (small bodies compress well).
pub const RATIO_GRACE_BYTES: u64 = 1024 * 1024;
/// Encoded bytes handed to a decoder at a time: deflate expands at most ~1032:1, so
/// one step yields at most about 1 MiB.
pub const DECODE_STEP_BYTES: usize = 1024;

/// Why decoding stopped early; counted per session.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStats {
    /// Responses whose decoding hit [`MAX_DECODED_BYTES`], [`MAX_DECODE_RATIO`] or
    /// the flow's [`FLOW_RATIO_GRACE_BYTES`].
    pub bomb_capped: u64,
    /// Responses whose stream was corrupt (not what its coding says).
    pub corrupt: u64,
    /// Responses whose stream ended before the coding's end (truncated).
    pub truncated: u64,
    /// Responses with more codings than [`MAX_CONTENT_LAYERS`].
    pub layers_over_limit: u64,
    /// Responses with a coding not understood (left encoded).
    pub unknown_coding: u64,
}

/// Sums responses' decoding counters into a session's, and sessions' into a run's.
impl std::ops::AddAssign for DecodeStats {
    // Every field named: a counter added to the struct and not summed does not compile.
    fn add_assign(&mut self, o: DecodeStats) {
        let DecodeStats {
            bomb_capped,
            corrupt,
            truncated,
            layers_over_limit,
            unknown_coding,
        } = o;
        self.bomb_capped += bomb_capped;
        self.corrupt += corrupt;
        self.truncated += truncated;
        self.layers_over_limit += layers_over_limit;
        self.unknown_coding += unknown_coding;
    }
}

/// The decoder of one response body's content codings.
#[derive(Debug)]
pub struct ContentDecoder {
    /// Innermost coding last: the body is decoded by `layers[0]` first.
    layers: Vec<Layer>,
    encoded: u64,
    decoded: u64,
    /// Decoded bytes the flow still allows beyond the ratio (see [`Self::limit_to`]).
    flow_room: u64,
    /// Decoding stopped (cap, corrupt stream or end of stream); later bytes are dropped.
    stopped: bool,
    ended: bool,
    /// The counters this response touched.
    pub stats: DecodeStats,
}

impl ContentDecoder {
    /// A decoder for a Content-Encoding value (codings in the order applied), or `None`
    /// when there is nothing to undo. Unknown codings and codings past the layer
    /// limit are counted and the body beyond them is left as is.
    pub fn from_header(value: &str) -> Option<Self> {
        let mut stats = DecodeStats::default();
        let mut applied: Vec<Layer> = Vec::new();
        // NUL bytes are dropped (`gz\0ip` is gzip, as libhtp and the HTTP Evader cases
        // 315 and 334 show); anything else that cannot be in a coding name separates.
        let cleaned: String = value.chars().filter(|&c| c != '\0').collect();
        let separator = |c: char| !(c.is_ascii_alphanumeric() || c == '-');
        for coding in cleaned.split(separator) {
            let layer =
                if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                    Layer::gzip()
                } else if coding.eq_ignore_ascii_case("deflate")
                    || coding.eq_ignore_ascii_case("x-deflate")
                {
                    Layer::deflate()
                } else if coding.is_empty() || coding.eq_ignore_ascii_case("identity") {
                    continue;
                } else {
                    stats.unknown_coding += 1;
                    continue;
                };
            applied.push(layer);
        }
        if applied.len() > MAX_CONTENT_LAYERS {
            stats.layers_over_limit += 1;
            // Undo the outermost layers only; the inner ones stay encoded.
            applied.drain(..applied.len() - MAX_CONTENT_LAYERS);
        }
        applied.reverse();
        // No layer applied: a decoder only to carry the counts of what was refused.
        if applied.is_empty() && stats == DecodeStats::default() {
            return None;
        }
        Some(ContentDecoder {
            layers: applied,
            encoded: 0,
            decoded: 0,
            flow_room: u64::MAX,
            stopped: false,
            ended: false,
            stats,
        })
    }

    /// Allows this response `room` decoded bytes beyond [`MAX_DECODE_RATIO`] times its
    /// own encoded bytes: what is left of the flow's grace
    /// ([`FLOW_RATIO_GRACE_BYTES`] and the ratio over the flow's earlier responses).
    pub fn limit_to(&mut self, room: u64) {
        self.flow_room = room;
    }

    /// Decoded and encoded bytes of this response's codings ((0, 0) when nothing is
    /// undone): what it takes from, and gives to, the flow's budget.
    pub fn inflation(&self) -> (u64, u64) {
        if self.layers.is_empty() {
            (0, 0)
        } else {
            (self.decoded, self.encoded)
        }
    }

    /// Decoded bytes so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Feeds encoded body bytes; decoded bytes go to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut impl FnMut(&[u8])) {
        if self.layers.is_empty() {
            self.decoded += input.len() as u64;
            out(input);
            return;
        }
        for step in input.chunks(DECODE_STEP_BYTES) {
            if self.stopped {
                return;
            }
            self.encoded += step.len() as u64;
            self.feed_step(step, out);
        }
    }

    fn feed_step(&mut self, step: &[u8], out: &mut impl FnMut(&[u8])) {
        let mut carry: Vec<u8> = step.to_vec();
        for i in 0..self.layers.len() {
            let Some(layer) = self.layers.get_mut(i) else {
                return;
            };
            match layer.write(&carry) {
                Ok(Written::More) => {}
                Ok(Written::Ended) => {
                    if i == 0 {
                        self.ended = true;
                        self.stopped = true;
                    }
                }
                Ok(Written::PassedThrough) => self.stats.corrupt += 1,
                Err(_) => {
                    self.stats.corrupt += 1;
                    self.stopped = true;
                }
            }
            layer.take_output(&mut carry);
            if self.stopped && carry.is_empty() {
                return;
            }
        }
        self.emit(&carry, out);
    }

    fn emit(&mut self, decoded: &[u8], out: &mut impl FnMut(&[u8])) {
        let ratio_cap = RATIO_GRACE_BYTES.max(self.encoded.saturating_mul(MAX_DECODE_RATIO));
        let ratio_part = self.encoded.saturating_mul(MAX_DECODE_RATIO);
        let flow_cap = self.flow_room.saturating_add(ratio_part);
        let cap = MAX_DECODED_BYTES.min(ratio_cap).min(flow_cap);
        let room = cap.saturating_sub(self.decoded);
        let take = (decoded.len() as u64).min(room) as usize;
        if take > 0 {
            out(&decoded[..take]);
            self.decoded += take as u64;
        }
        if take < decoded.len() {
            self.stats.bomb_capped += 1;
            self.stopped = true;
        }
    }

    /// The body ended: flushes what the decoders still hold and counts a stream that
    /// stopped before its end.
    pub fn finish(&mut self, out: &mut impl FnMut(&[u8])) {
        if self.stopped && !self.ended {
            return;
        }
        let mut complete = true;
        let mut carry: Vec<u8> = Vec::new();
        for i in 0..self.layers.len() {
            let Some(layer) = self.layers.get_mut(i) else {
                break;
            };
            if !carry.is_empty() && layer.write(&carry).is_err() {
                self.stats.corrupt += 1;
                complete = false;
                break;
            }
            complete &= layer.finish();
            layer.take_output(&mut carry);
        }
        if !carry.is_empty() {
            self.emit(&carry, out);
        }
        if !complete && !self.ended {
            self.stats.truncated += 1;
        }
        self.stopped = true;
    }
}

mod layer;

#[cfg(test)]
mod tests;
