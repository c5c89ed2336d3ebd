//! An epoch of a sharded replay: the frames read, split into the workers' shares, with
//! the expiry ticks every worker must see (see [`super::sharded`]).

use crate::capture::Frame;
use crate::decode::LinkType;
use crate::pipeline::shard::worker_of;
use crate::time::Timestamp;

/// Frames read before an epoch is handed to the workers. Small: a worker gets its
/// epoch's transactions back to reuse their strings only up to its spares' caps
/// ([`crate::http::parse::spare`]), so with 8,192 frames most of them were freed and
/// allocated again (two workers, CRS off: 18 % fewer instructions, median paired wall
/// time 12 % lower at 512; 256 was slower again: `benches/README.md`).
pub const EPOCH_FRAMES: usize = 512;
/// Frame bytes read before an epoch is handed to the workers, whatever its frame count.
pub const EPOCH_BYTES: usize = 128 * 1024;

/// One entry of a worker's share of an epoch.
#[derive(Debug, Clone, Copy)]
pub(super) enum Entry {
    /// A frame: its bytes are `bytes[start..start + len]` of the epoch.
    Frame {
        number: u64,
        ts: Timestamp,
        wire_len: u32,
        link: LinkType,
        start: usize,
        len: usize,
    },
    /// Packet time reached a new second at frame `number`: expire idle flows.
    Tick { number: u64, now: Timestamp },
}

/// A worker's share of an epoch.
#[derive(Debug, Default)]
pub(super) struct Share {
    pub entries: Vec<Entry>,
    pub bytes: Vec<u8>,
    /// The last epoch: end every flow after the entries.
    pub finish: bool,
    /// The heap the worker's flows may hold during this epoch ([`super::lend`]).
    pub heap_limit: usize,
}

/// The reading side: frames split into the workers' shares of the current epoch.
pub(super) struct Reader {
    shares: Vec<Share>,
    frames: usize,
    bytes: usize,
    /// Frames read so far (the last frame's number).
    number: u64,
    /// Packet time (seconds) of the last tick.
    tick_secs: u64,
}

impl Reader {
    pub fn new(workers: usize) -> Reader {
        Reader {
            shares: (0..workers).map(|_| Share::default()).collect(),
            frames: 0,
            bytes: 0,
            number: 0,
            tick_secs: 0,
        }
    }

    /// Adds a frame to its worker's share; true when the epoch is full.
    pub fn add(&mut self, link: LinkType, frame: &Frame<'_>) -> bool {
        self.number += 1;
        let number = self.number;
        let w = worker_of(link, frame.data, self.shares.len());
        if let Some(share) = self.shares.get_mut(w) {
            let start = share.bytes.len();
            share.bytes.extend_from_slice(frame.data);
            share.entries.push(Entry::Frame {
                number,
                ts: frame.ts,
                wire_len: frame.wire_len,
                link,
                start,
                len: frame.data.len(),
            });
        }
        // A single pipeline sweeps idle flows after the first frame of each new second
        // of packet time (time going backwards sweeps nothing): every worker does too.
        if frame.ts.secs() > self.tick_secs {
            self.tick_secs = frame.ts.secs();
            for share in &mut self.shares {
                share.entries.push(Entry::Tick {
                    number,
                    now: frame.ts,
                });
            }
        }
        self.frames += 1;
        self.bytes += frame.data.len();
        self.frames >= EPOCH_FRAMES || self.bytes >= EPOCH_BYTES
    }

    /// The current epoch's shares, leaving empty ones for the next, each sized as its
    /// predecessor was filled: grown from empty, a share reallocated a dozen times an
    /// epoch.
    pub fn take(&mut self, finish: bool) -> Vec<Share> {
        self.frames = 0;
        self.bytes = 0;
        self.shares
            .iter_mut()
            .map(|s| {
                let next = Share {
                    entries: Vec::with_capacity(s.entries.len()),
                    bytes: Vec::with_capacity(s.bytes.len()),
                    finish: false,
                    heap_limit: 0,
                };
                let mut share = std::mem::replace(s, next);
                share.finish = finish;
                share
            })
            .collect()
    }
}
