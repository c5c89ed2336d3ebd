//! TCP reassembly: one direction's segments in, an ordered byte stream out.
//!
//! In-order segments are handed on as borrowed slices without copying (the common
//! case); only out-of-order segments are copied, into a buffer capped at
//! [`MAX_PENDING_BYTES`] and [`MAX_PENDING_SEGMENTS`]. Retransmissions are dropped,
//! overlaps are resolved as Linux's receiver resolves them ([`pending`]: the segment
//! that starts lower wins; conflicting bytes are counted), and bytes never seen
//! are skipped with an explicit [`Chunk::Gap`] so the parser above can resynchronise.
//!
//! A direction that never carried data (a spoofed SYN's) holds only its position: the
//! buffer and counters are boxed on the first payload, so a half-open flow stays small
//! ([`crate::flow::budget`]). [`StreamReassembler::heap_bytes`] reports what a
//! direction holds, kept up to date as segments are buffered and delivered, for the
//! memory budget; [`StreamReassembler::shrink_pending`] gives up buffered holes when
//! the budget is under pressure.

mod pending;
mod seq;

use std::collections::BTreeMap;

pub use seq::SeqNumber;

/// Out-of-order bytes buffered per direction before the oldest hole is given up as a gap.
pub const MAX_PENDING_BYTES: usize = 1 << 20;
/// Out-of-order segments buffered per direction before the oldest hole is given up.
pub const MAX_PENDING_SEGMENTS: usize = 2048;
/// A segment starting further than this past the expected sequence number is ignored:
/// larger than any real window (RFC 7323 allows 1 GiB, but not on a web host's capture).
pub const MAX_SEQ_JUMP_BYTES: u32 = 64 << 20;
/// How far past the next expected byte a RST may point and still be taken as inside
/// the receiver's window (the largest window without scaling is 65535 bytes; scaled
/// windows of a few MiB are common on fast links).
pub const RST_WINDOW_BYTES: u32 = 4 << 20;

/// What reassembly hands to the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// This many bytes were never captured; the stream continues after them.
    Gap(u64),
    /// The data that follows was carried twice with different bytes by overlapping
    /// segments (the copy Linux reads is the one delivered): the client and the
    /// monitor, or two receivers, could read this stream differently.
    Conflict,
}

/// Per-direction counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    pub bytes_delivered: u64,
    pub retransmitted_segments: u64,
    pub out_of_order_segments: u64,
    pub conflicting_overlaps: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub out_of_window_segments: u64,
    pub buffer_limit_hits: u64,
    /// RSTs whose sequence number lay outside the receive window (RFC 5961 §3):
    /// ignored, the flow goes on.
    pub resets_outside_window: u64,
}

/// Heap bytes one buffered out-of-order piece costs beyond its data: its share of a
/// B-tree node (key, `Vec` header and the segment it came from: 48 bytes, nodes half
/// full) and the allocator's header.
pub const PENDING_SEGMENT_OVERHEAD_BYTES: usize = 128;
/// How the pipeline sums the streams it finishes into its run's counters.
impl std::ops::AddAssign for StreamStats {
    // Every field named: a counter added to the struct and not summed does not compile.
    fn add_assign(&mut self, o: StreamStats) {
        let StreamStats {
            bytes_delivered,
            retransmitted_segments,
            out_of_order_segments,
            conflicting_overlaps,
            gaps,
            gap_bytes,
            out_of_window_segments,
            buffer_limit_hits,
            resets_outside_window,
        } = o;
        self.bytes_delivered += bytes_delivered;
        self.retransmitted_segments += retransmitted_segments;
        self.out_of_order_segments += out_of_order_segments;
        self.conflicting_overlaps += conflicting_overlaps;
        self.gaps += gaps;
        self.gap_bytes += gap_bytes;
        self.out_of_window_segments += out_of_window_segments;
        self.buffer_limit_hits += buffer_limit_hits;
        self.resets_outside_window += resets_outside_window;
    }
}

/// Reassembles one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct StreamReassembler {
    /// The next sequence number expected, once known.
    next: Option<SeqNumber>,
    /// Offset of `next` from the first byte seen, so pending keys never wrap. It is
    /// the bytes delivered plus the gaps announced, so the delivered count is not
    /// kept apart ([`StreamReassembler::stats`]).
    next_offset: u64,
    /// Buffer and counters, boxed when first needed (a segment out of order, a
    /// retransmission, a refused reset): a direction whose data all came in order, the
    /// usual case, never allocates.
    held: Option<Box<Held>>,
}

/// What a direction holds once it has carried data.
#[derive(Debug, Default)]
struct Held {
    pending: BTreeMap<u64, pending::Piece>,
    pending_bytes: usize,
    stats: StreamStats,
}

impl StreamReassembler {
    /// Sets the initial sequence number from a SYN (data starts at ISN + 1).
    pub fn set_isn(&mut self, isn: SeqNumber) {
        if self.next.is_none() {
            self.next = Some(isn + 1);
        }
    }

    /// Whether a RST with sequence number `seq` sent in this direction would be accepted
    /// by the receiver (RFC 5961 §3.2: only a RST inside the receive window resets the
    /// connection; others are dropped by the endpoint, so a monitor must not end the
    /// flow on them). The window itself is not tracked, so up to
    /// [`RST_WINDOW_BYTES`] past the next expected byte counts as inside. Counted
    /// when refused.
    pub fn accepts_reset(&mut self, seq: SeqNumber) -> bool {
        let Some(next) = self.next else { return true };
        let ahead = seq - next;
        let ok = (0..=i64::from(RST_WINDOW_BYTES)).contains(&ahead);
        if !ok {
            self.held().stats.resets_outside_window += 1;
        }
        ok
    }

    /// This direction's counters (all zero until it carried data).
    pub fn stats(&self) -> StreamStats {
        let mut stats = self.held.as_ref().map(|h| h.stats).unwrap_or_default();
        stats.bytes_delivered = self.next_offset - stats.gap_bytes;
        stats
    }

    /// Heap bytes this direction holds: the boxed state, buffered segments and their
    /// bookkeeping. Zero for a direction that never carried data.
    pub fn heap_bytes(&self) -> usize {
        self.held.as_ref().map_or(0, |h| {
            std::mem::size_of::<Held>()
                + h.pending_bytes
                + h.pending.len() * PENDING_SEGMENT_OVERHEAD_BYTES
        })
    }

    fn held(&mut self) -> &mut Held {
        self.held.get_or_insert_with(Box::default)
    }

    /// Whether the stream's position is known (a SYN or data has been seen).
    pub fn is_started(&self) -> bool {
        self.next.is_some()
    }

    /// Bytes held for out-of-order delivery.
    pub fn pending_bytes(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.pending_bytes)
    }

    /// Gives up holes, oldest first, until at most `limit` bytes stay buffered (the
    /// memory budget's third step: a shorter reassembly window). Returns the bytes
    /// released.
    pub fn shrink_pending(&mut self, limit: usize, deliver: &mut impl FnMut(Chunk<'_>)) -> usize {
        let before = self.heap_bytes();
        while self.pending_bytes() > limit {
            let had = self.pending_bytes();
            self.skip_to_first_pending(deliver);
            if self.pending_bytes() >= had {
                break;
            }
        }
        before.saturating_sub(self.heap_bytes())
    }

    /// Adds one segment's payload, delivering whatever became contiguous.
    pub fn insert_segment(
        &mut self,
        seq: SeqNumber,
        data: &[u8],
        deliver: &mut impl FnMut(Chunk<'_>),
    ) {
        if data.is_empty() {
            return;
        }
        // Picked up mid-stream: the first data seen starts the stream.
        let next = *self.next.get_or_insert(seq);
        let ahead = seq - next;
        if ahead <= 0 {
            let skip = ahead.unsigned_abs() as usize;
            if skip >= data.len() {
                self.held().stats.retransmitted_segments += 1;
                return;
            }
            self.deliver_in_order(&data[skip..], deliver);
            self.drain_pending(deliver);
            return;
        }
        if ahead as u32 > MAX_SEQ_JUMP_BYTES {
            self.held().stats.out_of_window_segments += 1;
            return;
        }
        self.held().stats.out_of_order_segments += 1;
        self.buffer(self.next_offset + ahead as u64, data);
        let held = self.held();
        if held.pending_bytes > MAX_PENDING_BYTES || held.pending.len() > MAX_PENDING_SEGMENTS {
            held.stats.buffer_limit_hits += 1;
            self.skip_to_first_pending(deliver);
        }
    }

    /// The peer acknowledged `ack`: bytes before it were sent, so a hole before
    /// buffered data that the peer has acknowledged will never be filled.
    pub fn on_peer_ack(&mut self, ack: SeqNumber, deliver: &mut impl FnMut(Chunk<'_>)) {
        let Some(next) = self.next else { return };
        let acked_ahead = ack - next;
        if acked_ahead <= 0 || acked_ahead as u32 > MAX_SEQ_JUMP_BYTES {
            return;
        }
        let acked_offset = self.next_offset + acked_ahead as u64;
        if self
            .first_pending()
            .is_some_and(|first| first < acked_offset)
        {
            self.skip_to_first_pending(deliver);
        }
    }

    /// The stream ended (FIN, RST or timeout): deliver what is buffered, gaps announced.
    pub fn finish(&mut self, deliver: &mut impl FnMut(Chunk<'_>)) {
        while self.first_pending().is_some() {
            self.skip_to_first_pending(deliver);
        }
    }

    fn first_pending(&self) -> Option<u64> {
        self.held
            .as_ref()
            .and_then(|h| h.pending.first_key_value().map(|(&k, _)| k))
    }

    fn deliver_in_order(&mut self, data: &[u8], deliver: &mut impl FnMut(Chunk<'_>)) {
        deliver(Chunk::Data(data));
        self.advance(data.len() as u64);
    }

    fn advance(&mut self, len: u64) {
        self.next_offset += len;
        if let Some(next) = self.next.as_mut() {
            *next = *next + (len as u32);
        }
    }

    /// Buffers an out-of-order segment ([`pending::buffer`]).
    fn buffer(&mut self, start: u64, data: &[u8]) {
        let held = self.held();
        let done = pending::buffer(&mut held.pending, start, data);
        held.pending_bytes += done.added;
        held.stats.conflicting_overlaps += done.conflicts;
    }

    /// Delivers buffered segments that are now contiguous with the stream.
    fn drain_pending(&mut self, deliver: &mut impl FnMut(Chunk<'_>)) {
        loop {
            let next_offset = self.next_offset;
            let Some(held) = self.held.as_mut() else {
                return;
            };
            let Some(entry) = held.pending.first_entry() else {
                return;
            };
            let key = *entry.key();
            if key > next_offset {
                break;
            }
            let piece = entry.remove();
            let bytes = piece.bytes;
            held.pending_bytes -= bytes.len();
            let skip = (self.next_offset - key) as usize;
            if skip < bytes.len() {
                if piece.conflicted {
                    deliver(Chunk::Conflict);
                }
                self.deliver_in_order(&bytes[skip..], deliver);
            }
        }
    }

    /// Gives up on the hole before the first buffered segment.
    fn skip_to_first_pending(&mut self, deliver: &mut impl FnMut(Chunk<'_>)) {
        let Some(first) = self.first_pending() else {
            return;
        };
        if first > self.next_offset {
            let gap = first - self.next_offset;
            let stats = &mut self.held().stats;
            stats.gaps += 1;
            stats.gap_bytes += gap;
            deliver(Chunk::Gap(gap));
            self.advance(gap);
        }
        self.drain_pending(deliver);
    }
}

#[cfg(test)]
mod tests;
