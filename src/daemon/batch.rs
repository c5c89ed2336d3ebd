//! Frame batches: how captured frames travel from the capture thread to a worker.
//!
//! A [`FrameBatch`] holds up to [`BATCH_FRAMES`] frames copied back to back into one
//! byte buffer, with their times and wire lengths. Batches are allocated once, at
//! start, into a [`BatchPool`]; the capture thread fills one per worker, sends it, and
//! the worker hands it back through a [`BatchRecycler`] once processed. In steady state
//! nothing is allocated per packet, and the number of batches — so the memory held for
//! queued packets — is fixed.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use crate::capture::Frame;
use crate::time::Timestamp;

/// Frames in one batch, at most.
pub const BATCH_FRAMES: usize = 64;
/// Bytes of frame data in one batch, at most (raised to the snap length if that is
/// larger, so any one frame fits an empty batch).
pub const BATCH_BYTES: usize = 128 * 1024;

/// Where one frame sits in a batch's buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The frame's number in the capture (1-based), which names the flows it opens.
    number: u64,
    ts: Timestamp,
    wire_len: u32,
    start: usize,
    len: usize,
}

/// Frames copied out of the capture buffer, in arrival order.
#[derive(Debug)]
pub struct FrameBatch {
    bytes: Vec<u8>,
    slots: Vec<Slot>,
    /// When the first frame was added (for the capture thread's flush deadline).
    first_at: Option<Instant>,
}

impl FrameBatch {
    /// An empty batch holding up to `byte_capacity` bytes of frames.
    pub fn with_capacity(byte_capacity: usize) -> FrameBatch {
        FrameBatch {
            bytes: Vec::with_capacity(byte_capacity),
            slots: Vec::with_capacity(BATCH_FRAMES),
            first_at: None,
        }
    }

    /// Copies `frame`, the capture's `number`-th, in; false (and nothing copied) when
    /// it does not fit.
    pub fn push(&mut self, frame: &Frame<'_>, number: u64) -> bool {
        let start = self.bytes.len();
        if self.slots.len() == BATCH_FRAMES || start + frame.data.len() > self.bytes.capacity() {
            return false;
        }
        if self.slots.is_empty() {
            self.first_at = Some(Instant::now());
        }
        self.bytes.extend_from_slice(frame.data);
        self.slots.push(Slot {
            number,
            ts: frame.ts,
            wire_len: frame.wire_len,
            start,
            len: frame.data.len(),
        });
        true
    }

    /// Whether another frame can no longer be added.
    pub fn is_full(&self) -> bool {
        self.slots.len() == BATCH_FRAMES
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// When the first frame held was added.
    pub fn first_at(&self) -> Option<Instant> {
        self.first_at
    }

    /// The frames, in the order they were added.
    pub fn frames(&self) -> impl Iterator<Item = Frame<'_>> {
        self.slots.iter().map(|s| Frame {
            ts: s.ts,
            data: self.bytes.get(s.start..s.start + s.len).unwrap_or_default(),
            wire_len: s.wire_len,
        })
    }

    /// The frames with their numbers in the capture, in the order they were added.
    pub fn numbered_frames(&self) -> impl Iterator<Item = (u64, Frame<'_>)> {
        self.slots
            .iter()
            .zip(self.frames())
            .map(|(s, f)| (s.number, f))
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.slots.clear();
        self.first_at = None;
    }
}

/// Empty batches waiting to be filled (the capture thread's end).
pub struct BatchPool {
    free: Receiver<FrameBatch>,
}

/// Gives processed batches back to the pool (a worker's end).
#[derive(Clone)]
pub struct BatchRecycler {
    free: SyncSender<FrameBatch>,
}

impl BatchPool {
    /// Allocates `count` batches of `byte_capacity` bytes each.
    pub fn new(count: usize, byte_capacity: usize) -> (BatchPool, BatchRecycler) {
        // The channel holds every batch there is, so giving one back never blocks.
        let (tx, rx) = sync_channel(count);
        for _ in 0..count {
            let _ = tx.try_send(FrameBatch::with_capacity(byte_capacity));
        }
        (BatchPool { free: rx }, BatchRecycler { free: tx })
    }

    /// An empty batch, if one is free.
    pub fn take(&self) -> Option<FrameBatch> {
        self.free.try_recv().ok()
    }
}

impl BatchRecycler {
    /// Empties `batch` and returns it to the pool.
    pub fn give_back(&self, mut batch: FrameBatch) {
        batch.clear();
        // Fails only once the capture thread has gone; the batch is then freed.
        let _ = self.free.try_send(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &[u8], secs: i64) -> Frame<'_> {
        Frame {
            ts: Timestamp::from_secs_micros(secs, 0),
            data,
            wire_len: data.len() as u32 + 4,
        }
    }

    #[test]
    fn frames_come_back_in_order_with_their_times() {
        let mut b = FrameBatch::with_capacity(64);
        assert!(b.push(&frame(b"abc", 1), 1));
        assert!(b.push(&frame(b"defgh", 2), 2));
        let got: Vec<(Vec<u8>, i64, u32)> = b
            .frames()
            .map(|f| (f.data.to_vec(), f.ts.0, f.wire_len))
            .collect();
        assert_eq!(
            got,
            vec![
                (b"abc".to_vec(), 1_000_000, 7),
                (b"defgh".to_vec(), 2_000_000, 9)
            ]
        );
        assert!(b.first_at().is_some());
    }

    #[test]
    fn refuses_a_frame_past_its_byte_capacity_without_growing() {
        let mut b = FrameBatch::with_capacity(8);
        assert!(b.push(&frame(b"12345", 1), 1));
        assert!(!b.push(&frame(b"6789", 1), 2));
        assert_eq!(b.len(), 1);
        assert_eq!(b.bytes.capacity(), 8);
    }

    #[test]
    fn is_full_at_the_frame_cap() {
        let mut b = FrameBatch::with_capacity(BATCH_FRAMES);
        for _ in 0..BATCH_FRAMES {
            assert!(b.push(&frame(b"x", 1), 1));
        }
        assert!(b.is_full());
        assert!(!b.push(&frame(b"x", 1), 1));
    }

    #[test]
    fn a_pool_hands_out_exactly_its_batches_and_takes_them_back_empty() {
        let (pool, recycler) = BatchPool::new(2, 16);
        let mut a = pool.take().expect("first");
        let b = pool.take().expect("second");
        assert!(pool.take().is_none());
        assert!(a.push(&frame(b"data", 1), 1));
        recycler.give_back(a);
        let again = pool.take().expect("given back");
        assert!(again.is_empty());
        assert!(again.bytes.capacity() >= 16);
        drop(b);
    }
}
