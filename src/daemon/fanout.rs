//! Fan-out: which worker a frame goes to, and getting it there without blocking.
//!
//! The capture thread decodes each frame's headers (views, no copy) just far enough to
//! read its address pair, whose symmetric [`FlowKey::shard_hash`] picks the worker, so
//! both directions of a connection, and every fragment of it, meet in one worker and
//! per-flow state needs no lock (see [`worker_of`]); frames that are not IP go to worker
//! 0, which counts them.
//!
//! Frames are copied into the worker's open [`FrameBatch`]. A batch is sent when full,
//! when the capture goes idle, or [`BATCH_MAX_WAIT`] after its first frame, so a quiet
//! link still sees its packets promptly. Sending never blocks for long: when a worker's
//! queue stays full for [`QUEUE_FULL_MAX_WAIT`] (or no empty batch is free) the frames
//! are dropped and counted in [`Fanout::queue_drops`], exported as `where="queue"`
//! capture drops. The short wait lets the kernel's capture buffer, which is far larger
//! than the queues, absorb a worker's stall instead of dropping at once.

use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::batch::{BatchPool, FrameBatch};
use crate::capture::Frame;
use crate::decode::LinkType;

/// Batches a worker's queue holds; with [`super::batch::BATCH_FRAMES`] frames each this
/// absorbs a worker's short stalls (being descheduled) at hundreds of thousands of
/// packets per second.
pub const WORKER_QUEUE_BATCHES: usize = 32;
/// Longest the capture thread waits for room in a full worker queue before dropping.
pub const QUEUE_FULL_MAX_WAIT: Duration = Duration::from_millis(10);
/// Pause between attempts while waiting for room.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_micros(100);
/// Longest a frame waits in a partly filled batch while traffic continues.
pub const BATCH_MAX_WAIT: Duration = Duration::from_millis(1);

pub use crate::pipeline::shard::worker_of;

/// The capture thread's side of the worker queues.
pub struct Fanout {
    link: LinkType,
    queues: Vec<SyncSender<FrameBatch>>,
    open: Vec<Option<FrameBatch>>,
    pool: BatchPool,
    queue_drops: u64,
    /// Frames routed so far: the next frame's number, less one.
    frames_seen: u64,
}

impl Fanout {
    /// Routes frames of `link` to one queue per worker, with batches from `pool`.
    pub fn new(link: LinkType, queues: Vec<SyncSender<FrameBatch>>, pool: BatchPool) -> Fanout {
        let open = queues.iter().map(|_| None).collect();
        Fanout {
            link,
            queues,
            open,
            pool,
            queue_drops: 0,
            frames_seen: 0,
        }
    }

    /// Frames dropped so far because a worker could not take them.
    pub fn queue_drops(&self) -> u64 {
        self.queue_drops
    }

    /// Adds one frame to its worker's batch, sending the batch when full. Frames are
    /// numbered here, in capture order, before any can be dropped: a flow's id is the
    /// number of its first frame, unique in the run whichever worker owns the flow.
    pub fn route(&mut self, frame: &Frame<'_>) {
        self.frames_seen += 1;
        let number = self.frames_seen;
        let w = worker_of(self.link, frame.data, self.queues.len());
        for _attempt in 0..2 {
            let Some(batch) = self.open_batch(w) else {
                self.queue_drops += 1;
                return;
            };
            if batch.push(frame, number) {
                if batch.is_full() {
                    self.send(w);
                }
                return;
            }
            // No room left for this frame: send what is there, retry with a fresh batch.
            self.send(w);
        }
        // Larger than an empty batch (cannot happen: batches hold a whole snap length).
        self.queue_drops += 1;
    }

    /// Sends every batch that has waited long enough, or every non-empty one when the
    /// capture is idle.
    pub fn flush_due(&mut self, idle: bool) {
        let now = Instant::now();
        for w in 0..self.open.len() {
            let due = match self.open[w].as_ref().and_then(FrameBatch::first_at) {
                Some(first) => idle || now.duration_since(first) >= BATCH_MAX_WAIT,
                None => false,
            };
            if due {
                self.send(w);
            }
        }
    }

    /// Sends every non-empty batch (at shutdown).
    pub fn flush_all(&mut self) {
        self.flush_due(true);
    }

    fn open_batch(&mut self, w: usize) -> Option<&mut FrameBatch> {
        let slot = self.open.get_mut(w)?;
        if slot.is_none() {
            *slot = Some(self.pool.take()?);
        }
        slot.as_mut()
    }

    /// Sends worker `w`'s open batch; if its queue is full the frames are dropped and the
    /// batch is kept, emptied, for the next frames.
    fn send(&mut self, w: usize) {
        let Some(batch) = self.open.get_mut(w).and_then(Option::take) else {
            return;
        };
        if batch.is_empty() {
            self.open[w] = Some(batch);
            return;
        }
        let Some(queue) = self.queues.get(w) else {
            return;
        };
        match send_within(queue, batch, QUEUE_FULL_MAX_WAIT) {
            Ok(()) => {}
            Err(mut batch) => {
                self.queue_drops += batch.len() as u64;
                batch.clear();
                self.open[w] = Some(batch);
            }
        }
    }
}

/// Sends `batch`, waiting at most `limit` for room; gives the batch back on failure.
/// While the capture thread waits, the kernel's capture buffer holds new packets, so a
/// short wait for a busy worker loses nothing; the limit keeps one stuck worker from
/// stalling the capture (and so every other worker) for long.
fn send_within(
    queue: &SyncSender<FrameBatch>,
    batch: FrameBatch,
    limit: Duration,
) -> Result<(), FrameBatch> {
    let mut batch = match queue.try_send(batch) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Disconnected(b)) => return Err(b),
        Err(TrySendError::Full(b)) => b,
    };
    let deadline = Instant::now() + limit;
    let mut attempts = 0u32;
    loop {
        if attempts < 16 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(QUEUE_FULL_BACKOFF);
        }
        attempts += 1;
        batch = match queue.try_send(batch) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(b)) => return Err(b),
            Err(TrySendError::Full(b)) => b,
        };
        if Instant::now() >= deadline {
            return Err(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;

    use super::*;
    use crate::decode::{self, Decoded};
    use crate::time::Timestamp;

    /// An Ethernet + IPv4 + TCP frame (no payload) between two endpoints.
    fn tcp_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08; // EtherType IPv4
        let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        f.extend_from_slice(&ip);
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&sport.to_be_bytes());
        tcp.extend_from_slice(&dport.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(&tcp);
        f
    }

    fn frame(data: &[u8]) -> Frame<'_> {
        Frame {
            ts: Timestamp::from_secs_micros(1, 0),
            data,
            wire_len: data.len() as u32,
        }
    }

    #[test]
    fn both_directions_of_a_flow_go_to_the_same_worker() {
        let client = [198, 51, 100, 7];
        let server = [203, 0, 113, 10];
        for port in 40_000..40_064 {
            let out = tcp_frame(client, port, server, 80);
            let back = tcp_frame(server, 80, client, port);
            assert_eq!(
                worker_of(LinkType::Ethernet, &out, 4),
                worker_of(LinkType::Ethernet, &back, 4)
            );
        }
    }

    #[test]
    fn clients_spread_over_the_workers() {
        let mut seen = [0usize; 4];
        for client in 0..400u16 {
            let [hi, lo] = client.to_be_bytes();
            let f = tcp_frame([198, 51, hi, lo], 40_000, [203, 0, 113, 10], 80);
            seen[worker_of(LinkType::Ethernet, &f, 4)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    /// The second fragment of a segment (no ports) goes where the connection's whole
    /// packets go, whatever their ports.
    #[test]
    fn fragments_go_to_the_worker_of_their_connection() {
        let mut frag = tcp_frame([198, 51, 100, 7], 0, [203, 0, 113, 10], 0);
        frag[14 + 6] = 0x00; // clear DF
        frag[14 + 7] = 0x03; // fragment offset 3 (24 bytes), not the first fragment
        assert!(matches!(
            decode::decode(LinkType::Ethernet, &frag),
            Ok(Decoded::Fragment(_))
        ));
        for sport in 40_000..40_064 {
            for workers in [2, 3, 4, 8] {
                let whole = tcp_frame([198, 51, 100, 7], sport, [203, 0, 113, 10], 80);
                let reply = tcp_frame([203, 0, 113, 10], 80, [198, 51, 100, 7], sport);
                let w = worker_of(LinkType::Ethernet, &whole, workers);
                assert_eq!(worker_of(LinkType::Ethernet, &frag, workers), w);
                assert_eq!(worker_of(LinkType::Ethernet, &reply, workers), w);
            }
        }
    }

    #[test]
    fn a_full_worker_queue_drops_and_counts_instead_of_blocking() {
        let (pool, _recycler) = BatchPool::new(4, 2048);
        let (tx, rx) = sync_channel(1);
        let mut fanout = Fanout::new(LinkType::Ethernet, vec![tx], pool);
        let f = tcp_frame([198, 51, 100, 7], 40_000, [203, 0, 113, 10], 80);
        fanout.route(&frame(&f));
        fanout.flush_all(); // fills the queue (capacity 1)
        fanout.route(&frame(&f));
        fanout.route(&frame(&f));
        fanout.flush_all(); // queue full: two frames dropped
        assert_eq!(fanout.queue_drops(), 2);
        let sent = rx.try_recv().expect("first batch");
        assert_eq!(sent.len(), 1);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn batches_are_sent_when_full_and_flushed_when_idle() {
        let (pool, _recycler) = BatchPool::new(4, 64 * 1024);
        let (tx, rx) = sync_channel(8);
        let mut fanout = Fanout::new(LinkType::Ethernet, vec![tx], pool);
        let f = tcp_frame([198, 51, 100, 7], 40_000, [203, 0, 113, 10], 80);
        for _ in 0..super::super::batch::BATCH_FRAMES + 3 {
            fanout.route(&frame(&f));
        }
        let full = rx.try_recv().expect("full batch sent");
        assert!(full.is_full());
        assert!(rx.try_recv().is_err(), "the rest waits for a flush");
        fanout.flush_due(true);
        assert_eq!(rx.try_recv().expect("idle flush").len(), 3);
    }
}
