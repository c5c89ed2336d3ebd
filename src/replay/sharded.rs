//! Replay on several cores, with output byte-identical to one worker.
//!
//! The calling thread reads the capture files, numbers every frame (its flows take that
//! number as their id) and splits the frames by [`worker_of`], as the live daemon's
//! fan-out does, into epochs of up to [`EPOCH_FRAMES`] frames. Each epoch is sent to
//! every worker: its own frames, plus a tick at each frame where packet time reaches a
//! new second, so every worker expires idle flows at the same points a single pipeline
//! would. Workers run the packet stages and the per-transaction part of detection in
//! parallel and record what they find with its place in the capture
//! ([`super::record`]). The calling thread then merges an epoch's records from every
//! worker, in that order, and feeds them to the one [`DetectionStage`], which counts
//! across flows (thresholds, surges) and writes the sinks. Up to
//! [`EPOCHS_IN_FLIGHT`] epochs are being worked on while one is merged.
//!
//! What can differ with the worker count: caps are per worker (the flow table's
//! `max_flows`, the defragmenter's limits), so a capture that fills them is evicted per
//! shard. Below the caps, events, store and summary are the same for any count.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::record::{Item, Position, Recorder, Records};
use crate::capture::{CaptureError, FileSource, Frame, PacketSource};
use crate::decode::LinkType;
use crate::detect::{DetectionStage, Detector};
use crate::observe::{Summary, TransactionObserver};
use crate::pipeline::shard::worker_of;
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::time::Timestamp;

/// Frames read before an epoch is handed to the workers.
pub const EPOCH_FRAMES: usize = 8192;
/// Frame bytes read before an epoch is handed to the workers, whatever its frame count.
pub const EPOCH_BYTES: usize = 2 * 1024 * 1024;
/// Epochs handed out and not yet merged, at most (bounds memory and keeps workers fed).
pub const EPOCHS_IN_FLIGHT: usize = 4;
/// Most workers a replay runs.
pub const MAX_REPLAY_WORKERS: usize = 64;

/// Why a sharded replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ShardedError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("starting replay worker: {0}")]
    Spawn(std::io::Error),
    #[error("replay worker {0} stopped unexpectedly")]
    WorkerLost(usize),
}

/// One entry of a worker's share of an epoch.
#[derive(Debug, Clone, Copy)]
enum Entry {
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
struct Share {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
    /// The last epoch: end every flow after the entries.
    finish: bool,
}

/// Replays `sources` in order, as one capture, on `workers` threads (at least one),
/// with `stage` judging across flows and writing the sinks. The summary sums every
/// worker's counters. Flushing `stage`'s sinks is left to the caller.
pub fn replay_sharded(
    sources: &mut [FileSource],
    settings: &PipelineSettings,
    workers: usize,
    detector: &Detector,
    stage: &mut DetectionStage<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, ShardedError> {
    let workers = workers.clamp(1, MAX_REPLAY_WORKERS);
    if workers == 1 {
        // One worker: no thread, no copy of the frames, no hand-over (inline.rs).
        return super::inline::replay_inline(sources, settings, detector, stage, progress);
    }
    std::thread::scope(|scope| {
        let mut inputs = Vec::with_capacity(workers);
        let mut outputs = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for index in 0..workers {
            let (in_tx, in_rx) = sync_channel::<Share>(EPOCHS_IN_FLIGHT);
            let (out_tx, out_rx) = sync_channel::<Records>(EPOCHS_IN_FLIGHT);
            let settings = settings.clone();
            let handle = std::thread::Builder::new()
                .name(format!("tw-replay-{index}"))
                .spawn_scoped(scope, move || {
                    work(index, detector, settings, &in_rx, &out_tx)
                })
                .map_err(ShardedError::Spawn)?;
            inputs.push(in_tx);
            outputs.push(out_rx);
            handles.push(handle);
        }
        let mut reader = Reader::new(workers);
        let mut in_flight = 0usize;
        let mut read_result = Ok(());
        let mut run = || -> Result<(), ShardedError> {
            read_result = each_frame(sources, progress, |link, frame| {
                if reader.add(link, frame) {
                    if in_flight >= EPOCHS_IN_FLIGHT {
                        merge_epoch(&outputs, stage)?;
                        in_flight -= 1;
                    }
                    send_epoch(&inputs, reader.take(false))?;
                    in_flight += 1;
                }
                Ok(())
            })?;
            if in_flight >= EPOCHS_IN_FLIGHT {
                merge_epoch(&outputs, stage)?;
                in_flight -= 1;
            }
            send_epoch(&inputs, reader.take(true))?;
            in_flight += 1;
            while in_flight > 0 {
                merge_epoch(&outputs, stage)?;
                in_flight -= 1;
            }
            Ok(())
        };
        let merged = run();
        drop(inputs);
        drop(outputs);
        let mut total = Summary::default();
        for (index, handle) in handles.into_iter().enumerate() {
            match handle.join() {
                Ok(summary) => total += &summary,
                Err(_) => return Err(ShardedError::WorkerLost(index)),
            }
        }
        merged?;
        read_result?;
        Ok(total)
    })
}

/// Reads every frame of `sources` in order, as one capture, counts its bytes for
/// `progress` and hands it to `each`. A read error ends the walk and is returned in the
/// inner result, so the caller still flushes what was read (no transaction is lost);
/// an error of `each` ends it at once.
pub(super) fn each_frame(
    sources: &mut [FileSource],
    progress: &mut dyn FnMut(u64),
    mut each: impl FnMut(LinkType, &Frame<'_>) -> Result<(), ShardedError>,
) -> Result<Result<(), CaptureError>, ShardedError> {
    for source in sources.iter_mut() {
        let link = source.link_type();
        loop {
            let frame = match source.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return Ok(Err(e)),
            };
            progress(u64::from(frame.wire_len.min(frame.data.len() as u32)) + 16);
            each(link, &frame)?;
        }
    }
    Ok(Ok(()))
}

/// Hands each worker its share of an epoch.
fn send_epoch(inputs: &[SyncSender<Share>], shares: Vec<Share>) -> Result<(), ShardedError> {
    for (index, (input, share)) in inputs.iter().zip(shares).enumerate() {
        input
            .send(share)
            .map_err(|_| ShardedError::WorkerLost(index))?;
    }
    Ok(())
}

/// Takes the oldest epoch's records from every worker and feeds them to `stage` in
/// single-worker order.
fn merge_epoch(
    outputs: &[Receiver<Records>],
    stage: &mut DetectionStage<'_>,
) -> Result<(), ShardedError> {
    let mut items: Vec<(Position, usize, Item)> = Vec::new();
    let mut transactions: Vec<Vec<Option<_>>> = Vec::with_capacity(outputs.len());
    for (index, output) in outputs.iter().enumerate() {
        let records = output.recv().map_err(|_| ShardedError::WorkerLost(index))?;
        items.extend(
            records
                .items
                .into_iter()
                .map(|(at, item)| (at, index, item)),
        );
        transactions.push(records.transactions.into_iter().map(Some).collect());
    }
    // Stable: items at one position come from one worker, already in order.
    items.sort_by_key(|(at, _, _)| *at);
    for (_, worker, item) in items {
        match item {
            Item::Transaction(i) => {
                let taken = transactions
                    .get_mut(worker)
                    .and_then(|t| t.get_mut(i))
                    .and_then(Option::take);
                if let Some((txn, judgement)) = taken {
                    stage.on_judged_transaction(&txn, judgement);
                }
            }
            other => feed_other(stage, other),
        }
    }
    Ok(())
}

/// Feeds `stage` an item that is not a transaction.
pub(super) fn feed_other(stage: &mut DetectionStage<'_>, item: Item) {
    match item {
        // Transactions are stored apart and fed by the caller.
        Item::Transaction(_) => {}
        Item::ClientHello(hello) => stage.on_client_hello(&hello),
        Item::Syn { src, dst, now } => stage.on_syn(src, dst, now),
        Item::Handshake(now) => stage.on_handshake(now),
        Item::Evictions {
            evicted,
            server,
            now,
        } => stage.on_flow_evictions(evicted, server, now),
        Item::Tick(now) => stage.tick(now),
    }
}

/// A worker: runs its shares through its own pipeline, sending back what it recorded,
/// until its queue closes; returns its counters.
fn work(
    index: usize,
    detector: &Detector,
    settings: PipelineSettings,
    input: &Receiver<Share>,
    output: &SyncSender<Records>,
) -> Summary {
    let mut pipeline = Pipeline::new(settings);
    let mut recorder = Recorder::new(detector);
    while let Ok(share) = input.recv() {
        for entry in &share.entries {
            match *entry {
                Entry::Frame {
                    number,
                    ts,
                    wire_len,
                    link,
                    start,
                    len,
                } => {
                    let data = share.bytes.get(start..start + len).unwrap_or_default();
                    let frame = Frame { ts, data, wire_len };
                    recorder.set_position(Position::frame(number));
                    pipeline.ingest(link, &frame, number, &mut recorder);
                }
                Entry::Tick { number, now } => {
                    recorder.set_position(Position::expiry(number));
                    if index == 0 {
                        recorder.push(Item::Tick(now));
                    }
                    pipeline.advance(now, &mut recorder);
                }
            }
        }
        if share.finish {
            recorder.set_position(Position::expiry(u64::MAX));
            pipeline.finish(&mut recorder);
        }
        if output.send(std::mem::take(&mut recorder.records)).is_err() {
            break;
        }
    }
    pipeline.refresh_flow_counters();
    pipeline.summary.clone()
}

/// The reading side: frames split into the workers' shares of the current epoch.
struct Reader {
    shares: Vec<Share>,
    frames: usize,
    bytes: usize,
    /// Frames read so far (the last frame's number).
    number: u64,
    /// Packet time (seconds) of the last tick.
    tick_secs: u64,
}

impl Reader {
    fn new(workers: usize) -> Reader {
        Reader {
            shares: (0..workers).map(|_| Share::default()).collect(),
            frames: 0,
            bytes: 0,
            number: 0,
            tick_secs: 0,
        }
    }

    /// Adds a frame to its worker's share; true when the epoch is full.
    fn add(&mut self, link: LinkType, frame: &Frame<'_>) -> bool {
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

    /// The current epoch's shares, leaving empty ones for the next.
    fn take(&mut self, finish: bool) -> Vec<Share> {
        self.frames = 0;
        self.bytes = 0;
        self.shares
            .iter_mut()
            .map(|s| {
                let mut share = std::mem::take(s);
                share.finish = finish;
                share
            })
            .collect()
    }
}
