//! `replay --workers 1`: the sharded replay's steps on the calling thread.
//!
//! With one worker, handing frames to a thread only costs: every frame copied into an
//! epoch buffer, two channel hops per epoch, and every transaction allocated on the
//! worker and freed on the reader (the slow path of the system allocator). Here the
//! calling thread reads a frame, runs it through the pipeline straight from the
//! capture's buffer, records what the pipeline reports exactly as a worker does
//! ([`Recorder`], [`Position`]: same ticks, same positions), and feeds the records to
//! the serial stage after each frame, in the order the merge would (a stable sort by
//! position, which is a no-op when the records are already in order). So the output is
//! the same as a sharded run's with any worker count (tests/replay_workers.rs).

use super::record::{Item, Position, Recorder, Records};
use super::sharded::{each_frame, feed_other, ShardedError};
use crate::capture::FileSource;
use crate::detect::{DetectionStage, Detector};
use crate::observe::Summary;
use crate::pipeline::{Pipeline, PipelineSettings};

/// Replays `sources` in order, as one capture, on the calling thread; what
/// [`super::replay_sharded`] does with one worker.
pub(super) fn replay_inline(
    sources: &mut [FileSource],
    settings: &PipelineSettings,
    detector: &Detector,
    stage: &mut DetectionStage<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, ShardedError> {
    let mut pipeline = Pipeline::new(settings.clone());
    let mut recorder = Recorder::new(detector);
    let mut number = 0u64;
    let mut tick_secs = 0u64;
    let read_result = each_frame(sources, progress, |link, frame| {
        number += 1;
        recorder.set_position(Position::frame(number));
        pipeline.ingest(link, frame, number, &mut recorder);
        // As the sharded reader ticks: after the first frame of each new second of
        // packet time (time going backwards sweeps nothing).
        if frame.ts.secs() > tick_secs {
            tick_secs = frame.ts.secs();
            recorder.set_position(Position::expiry(number));
            recorder.push(Item::Tick(frame.ts));
            pipeline.advance(frame.ts, &mut recorder);
        }
        feed(&mut recorder.records, stage);
        Ok(())
    })?;
    recorder.set_position(Position::expiry(u64::MAX));
    pipeline.finish(&mut recorder);
    feed(&mut recorder.records, stage);
    pipeline.refresh_flow_counters();
    read_result?;
    Ok(pipeline.summary.clone())
}

/// Feeds `stage` the records of one frame in position order (stable), leaving
/// `records` empty with its capacity kept.
pub(super) fn feed(records: &mut Records, stage: &mut DetectionStage<'_>) {
    if records.items.is_empty() {
        return;
    }
    let in_order = records.items.windows(2).all(|w| w[0].0 <= w[1].0);
    if !in_order {
        // Never seen (a worker records in position order), but the merge sorts, so
        // this does too.
        records.items.sort_by_key(|(at, _)| *at);
    }
    let mut transactions: Vec<Option<_>> = Vec::new();
    let mut taken = 0usize;
    if !in_order {
        transactions.extend(records.transactions.drain(..).map(Some));
    }
    let mut in_turn = records.transactions.drain(..);
    for (_, item) in records.items.drain(..) {
        match item {
            Item::Transaction(i) => {
                // In order, transaction i is the i-th recorded: take them in turn.
                let next = if in_order && i == taken {
                    taken += 1;
                    in_turn.next()
                } else {
                    transactions.get_mut(i).and_then(Option::take)
                };
                if let Some((txn, judgement)) = next {
                    stage.on_judged_transaction(&txn, judgement);
                }
            }
            other => feed_other(stage, other),
        }
    }
}
