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
//! The merged transactions go back to the worker that made them, to be dropped there:
//! freed on the calling thread, their memory went to the other thread's allocator arena
//! and their head strings to the wrong thread's spares, and the calling thread spent a
//! third of its time freeing, the step every worker waits on. Only small batches go
//! back ([`MAX_SPENT_BATCH_BYTES`], [`SPENT_IN_FLIGHT`]): what waits in a queue is
//! outside the memory budget.
//!
//! Each epoch carries every worker's heap limit, which a [`Lender`] decides from the
//! merged epochs: a worker whose flows need more than its even share gets what the
//! others leave unused, as the live daemon's workers borrow from their pool, but in an
//! order that does not depend on thread timing.
//!
//! What can differ with the worker count: the flow table's slots (`max_flows`) and the
//! defragmenter's limits are per worker, and heap is lent a few epochs after it is
//! needed, so a capture that fills them is relieved per shard. Below them, events,
//! store and summary are the same for any count.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::epoch::{Entry, Reader, Share};
use super::lend::Lender;
use super::record::{Item, Position, Recorder, Records};
use crate::capture::{CaptureError, FileSource, Frame, PacketSource};
use crate::decode::LinkType;
use crate::detect::{DetectionStage, Detector};
use crate::flow::budget::heap_share_for;
use crate::http::HttpTransaction;
use crate::observe::{Summary, TransactionObserver};
use crate::pipeline::{Pipeline, PipelineSettings};

pub use super::epoch::{EPOCH_BYTES, EPOCH_FRAMES};
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
            let (spent_tx, spent_rx) = sync_channel::<Vec<HttpTransaction>>(SPENT_IN_FLIGHT);
            let settings = settings.clone();
            let queues = WorkerQueues {
                input: in_rx,
                output: out_tx,
                spent: spent_rx,
            };
            let handle = std::thread::Builder::new()
                .name(format!("tw-replay-{index}"))
                .spawn_scoped(scope, move || work(index, detector, settings, &queues))
                .map_err(ShardedError::Spawn)?;
            inputs.push(in_tx);
            outputs.push((out_rx, spent_tx));
            handles.push(handle);
        }
        let mut reader = Reader::new(workers);
        let heap_share = heap_share_for(settings.max_flows, settings.memory_bytes);
        let mut lender = Lender::new(workers, heap_share, EPOCHS_IN_FLIGHT);
        let mut in_flight = 0usize;
        let mut read_result = Ok(());
        let mut run = || -> Result<(), ShardedError> {
            read_result = each_frame(sources, progress, |link, frame| {
                if reader.add(link, frame) {
                    if in_flight >= EPOCHS_IN_FLIGHT {
                        lender.observe(&merge_epoch(&outputs, stage)?);
                        in_flight -= 1;
                    }
                    send_epoch(&inputs, reader.take(false), lender.next_limits())?;
                    in_flight += 1;
                }
                Ok(())
            })?;
            if in_flight >= EPOCHS_IN_FLIGHT {
                lender.observe(&merge_epoch(&outputs, stage)?);
                in_flight -= 1;
            }
            send_epoch(&inputs, reader.take(true), lender.next_limits())?;
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
    // Bytes read but not yet reported: `progress` is told in steps, not once a frame
    // (a call through `dyn` for every small frame cost more than the bar is worth).
    let mut unreported = 0u64;
    for source in sources.iter_mut() {
        let link = source.link_type();
        loop {
            let frame = match source.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    progress(unreported);
                    return Ok(Err(e));
                }
            };
            unreported += u64::from(frame.wire_len.min(frame.data.len() as u32)) + 16;
            if unreported >= PROGRESS_STEP_BYTES {
                progress(std::mem::take(&mut unreported));
            }
            each(link, &frame)?;
        }
    }
    progress(unreported);
    Ok(Ok(()))
}

/// Bytes read between two reports to the progress callback.
const PROGRESS_STEP_BYTES: u64 = 1 << 20;

/// Hands each worker its share of an epoch, with the heap its flows may hold.
fn send_epoch(
    inputs: &[SyncSender<Share>],
    shares: Vec<Share>,
    heap_limits: Vec<usize>,
) -> Result<(), ShardedError> {
    for (index, ((input, mut share), limit)) in
        inputs.iter().zip(shares).zip(heap_limits).enumerate()
    {
        share.heap_limit = limit;
        input
            .send(share)
            .map_err(|_| ShardedError::WorkerLost(index))?;
    }
    Ok(())
}

/// A worker's end of its queues.
struct WorkerQueues {
    /// Its shares of each epoch.
    input: Receiver<Share>,
    /// What it recorded, epoch by epoch.
    output: SyncSender<Records>,
    /// Its transactions, merged and done with, to drop.
    spent: Receiver<Vec<HttpTransaction>>,
}

/// Batches of spent transactions waiting for their worker, at most; past that the
/// calling thread drops them itself rather than wait.
const SPENT_IN_FLIGHT: usize = 2;
/// A batch holding more than this on the heap is dropped by the calling thread: a
/// flood's transactions (pipelined heads of 127 headers) must not wait in a queue,
/// where they raised the peak by tens of MiB.
const MAX_SPENT_BATCH_BYTES: usize = 2 << 20;

/// A worker's queue of records, and the way back for its spent transactions.
type Output = (Receiver<Records>, SyncSender<Vec<HttpTransaction>>);

/// Takes the oldest epoch's records from every worker and feeds them to `stage` in
/// single-worker order; the transactions then go back to their workers. Returns the
/// most heap each worker's flows held in the epoch.
fn merge_epoch(
    outputs: &[Output],
    stage: &mut DetectionStage<'_>,
) -> Result<Vec<usize>, ShardedError> {
    let mut items: Vec<(Position, usize, Item)> = Vec::new();
    let mut transactions: Vec<Vec<Option<_>>> = Vec::with_capacity(outputs.len());
    let mut spent: Vec<Vec<HttpTransaction>> = Vec::with_capacity(outputs.len());
    let mut peaks = Vec::with_capacity(outputs.len());
    for (index, (output, _)) in outputs.iter().enumerate() {
        let records = output.recv().map_err(|_| ShardedError::WorkerLost(index))?;
        peaks.push(records.peak_heap);
        items.extend(
            records
                .items
                .into_iter()
                .map(|(at, item)| (at, index, item)),
        );
        spent.push(Vec::with_capacity(records.transactions.len()));
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
                    if let Some(batch) = spent.get_mut(worker) {
                        batch.push(txn);
                    }
                }
            }
            other => feed_other(stage, other),
        }
    }
    for ((_, back), batch) in outputs.iter().zip(spent) {
        // A large batch, or one for a worker that is behind or gone, is dropped here.
        if batch.iter().map(HttpTransaction::heap_bytes).sum::<usize>() <= MAX_SPENT_BATCH_BYTES {
            let _ = back.try_send(batch);
        }
    }
    Ok(peaks)
}

/// Feeds `stage` an item that is not a transaction.
pub(super) fn feed_other(stage: &mut DetectionStage<'_>, item: Item) {
    match item {
        // Transactions are stored apart and fed by the caller.
        Item::Transaction(_) => {}
        Item::ClientHello(hello) => stage.on_client_hello(&hello),
        Item::Syn { src, dst, now } => stage.on_syn(src, dst, now),
        Item::Handshake(now) => stage.on_handshake(now),
        Item::Pressure {
            kind,
            count,
            dest,
            now,
        } => stage.on_pressure(kind, count, dest, now),
        Item::SlowRequests { count, server, now } => stage.on_slow_requests(count, server, now),
        Item::Tick(now) => stage.tick(now),
    }
}

/// A worker: runs its shares through its own pipeline, sending back what it recorded,
/// until its queue closes; returns its counters.
fn work(
    index: usize,
    detector: &Detector,
    settings: PipelineSettings,
    queues: &WorkerQueues,
) -> Summary {
    let WorkerQueues {
        input,
        output,
        spent,
    } = queues;
    let mut pipeline = Pipeline::new(settings);
    let mut recorder = Recorder::new(detector);
    while let Ok(share) = input.recv() {
        // Transactions the merge is done with are freed here, where they were made.
        while let Ok(batch) = spent.try_recv() {
            drop(batch);
        }
        pipeline.set_heap_limit(share.heap_limit);
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
        if output
            .send(recorder.take_records(pipeline.take_peak_heap()))
            .is_err()
        {
            break;
        }
    }
    pipeline.refresh_flow_counters();
    pipeline.summary.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::PacketSource;

    /// Progress comes in steps, yet adds up to every frame's bytes, file by file.
    #[test]
    fn progress_adds_up_to_every_frame_in_few_calls() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let paths: Vec<std::path::PathBuf> = [
            "pcaps/http/chunked-request.pcap",
            "pcaps/http/chunked-response.pcap",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        let mut expected = 0u64;
        let mut frames = 0u64;
        for mut source in super::super::open_all(&paths).expect("open") {
            while let Some(frame) = source.next_frame().expect("frame") {
                expected += u64::from(frame.wire_len.min(frame.data.len() as u32)) + 16;
                frames += 1;
            }
        }
        let mut sources = super::super::open_all(&paths).expect("open");
        let (mut told, mut calls) = (0u64, 0u64);
        let mut seen = 0u64;
        let walked = each_frame(
            &mut sources,
            &mut |n| {
                told += n;
                calls += 1;
            },
            |_, _| {
                seen += 1;
                Ok(())
            },
        );
        assert!(matches!(walked, Ok(Ok(()))));
        assert_eq!(seen, frames);
        assert!(frames > 2, "{frames}");
        assert_eq!(told, expected);
        assert!(calls < frames, "{calls} calls for {frames} frames");
    }
}
