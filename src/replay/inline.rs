//! `replay --workers 1`: the sharded replay's steps on the calling thread.
//!
//! With one worker, handing frames to a thread only costs: every frame copied into an
//! epoch buffer, two channel hops per epoch, and every transaction allocated on the
//! worker and freed on the reader (the slow path of the system allocator). Here the
//! calling thread reads a frame, runs it through the pipeline straight from the
//! capture's buffer, and hands what the pipeline reports to the serial stage in the
//! order it is reported ([`Direct`], a few dozen at a time): transactions judged
//! exactly as a worker judges them, the other reports as the merge replays them. A worker records in position order (see
//! [`super::record`]: frame items as they come, then the sweep's tick and the flows it
//! ends in id order), so what the merge would sort is already in order and the output
//! is the same as a sharded run's with any worker count (tests/replay_workers.rs),
//! without storing and re-reading every transaction.

use std::net::SocketAddr;

use crate::capture::FileSource;
use crate::decode::PacketView;
use crate::detect::{DetectionStage, Detector, Judgement};
use crate::http::HttpTransaction;
use crate::observe::{Pressure, Summary, TransactionObserver};
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::time::Timestamp;
use crate::tls::ClientHello;

use super::record::{counted_syn, Item};
use super::sharded::{each_frame, feed_other, ShardedError};

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
    let mut direct = Direct::new(detector, stage);
    let mut number = 0u64;
    let mut tick_secs = 0u64;
    let read_result = each_frame(sources, progress, |link, frame| {
        number += 1;
        pipeline.ingest(link, frame, number, &mut direct);
        // As the sharded reader ticks: after the first frame of each new second of
        // packet time (time going backwards sweeps nothing); the tick comes before
        // the flows the sweep ends.
        if frame.ts.secs() > tick_secs {
            tick_secs = frame.ts.secs();
            direct.hold(Item::Tick(frame.ts));
            pipeline.advance(frame.ts, &mut direct);
        }
        Ok(())
    })?;
    pipeline.finish(&mut direct);
    direct.flush();
    pipeline.refresh_flow_counters();
    read_result?;
    Ok(pipeline.summary.clone())
}

/// Transactions judged together: the judge's code (with CRS, most of the program's
/// hot code) runs for a batch at a time instead of between every packet's, so it and
/// the packet path each stay in the instruction cache (cachegrind with this core's
/// 32 KiB L1i: two thirds fewer instruction-cache misses on the short-connection
/// benchmark; benches/README.md has the timings).
pub(super) const JUDGE_BATCH: usize = 16;
/// Reports held at most before they are handed on, whatever they are: a SYN flood
/// reports a SYN per packet and completes no transaction.
const MAX_HELD_REPORTS: usize = 4 * JUDGE_BATCH;

/// The pipeline's observer on one thread: each report goes to the serial stage as the
/// merge of a sharded run hands it over ([`feed_other`]), each transaction judged first
/// as a worker's recorder judges it.
///
/// Reports are held, as the [`Item`]s a worker records, and handed on in batches
/// ([`Direct::flush`]): first every held transaction is judged ([`Detector::judge`]
/// reads no state shared across flows, so when it runs does not matter), then the
/// items go to the stage in the order they came, so the stage sees exactly the
/// sequence an unbatched run gives it (tests/replay_paths.rs compares the alerts with
/// the plain pipeline's).
struct Direct<'a, 's> {
    detector: &'a Detector,
    stage: &'a mut DetectionStage<'s>,
    /// Transactions completed and not yet judged, in order.
    held: Vec<HttpTransaction>,
    /// Every report held, in order; `Item::Transaction(i)` is `held[i]`.
    items: Vec<Item>,
    /// The held transactions' judgements (reused storage).
    judgements: Vec<Judgement>,
}

impl<'a, 's> Direct<'a, 's> {
    fn new(detector: &'a Detector, stage: &'a mut DetectionStage<'s>) -> Self {
        Direct {
            detector,
            stage,
            held: Vec::with_capacity(JUDGE_BATCH),
            items: Vec::with_capacity(MAX_HELD_REPORTS),
            judgements: Vec::with_capacity(JUDGE_BATCH),
        }
    }

    /// Holds `item`, handing everything on once a batch is full.
    fn hold(&mut self, item: Item) {
        self.items.push(item);
        self.flush_if_full();
    }

    fn flush_if_full(&mut self) {
        if self.held.len() >= JUDGE_BATCH || self.items.len() >= MAX_HELD_REPORTS {
            self.flush();
        }
    }

    /// Judges the held transactions, then hands every held item to the stage in
    /// order. Called when a batch is full, before a transaction seen only by
    /// reference, and at the end of the replay.
    fn flush(&mut self) {
        let detector = self.detector;
        self.judgements
            .extend(self.held.iter().map(|txn| detector.judge(txn)));
        let mut judged = self.held.drain(..).zip(self.judgements.drain(..));
        for item in self.items.drain(..) {
            match item {
                Item::Transaction(_) => {
                    if let Some((txn, judgement)) = judged.next() {
                        self.stage.on_judged_transaction(&txn, judgement);
                    }
                }
                other => feed_other(self.stage, other),
            }
        }
    }
}

impl TransactionObserver for Direct<'_, '_> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        self.flush();
        let judgement = self.detector.judge(txn);
        self.stage.on_judged_transaction(txn, judgement);
    }

    fn take_transactions(&mut self, txns: &mut Vec<HttpTransaction>) {
        for txn in txns.drain(..) {
            self.items.push(Item::Transaction(self.held.len()));
            self.held.push(txn);
        }
        self.flush_if_full();
    }

    fn on_client_hello(&mut self, hello: &ClientHello) {
        self.hold(Item::ClientHello(*hello));
    }

    fn on_tcp_packet(&mut self, packet: &PacketView<'_>, now: Timestamp) {
        if let Some((src, dst)) = counted_syn(packet) {
            self.hold(Item::Syn { src, dst, now });
        }
    }

    fn on_pressure(&mut self, kind: Pressure, count: u64, dest: SocketAddr, now: Timestamp) {
        self.hold(Item::Pressure {
            kind,
            count,
            dest,
            now,
        });
    }

    fn on_slow_requests(&mut self, count: u64, server: SocketAddr, now: Timestamp) {
        self.hold(Item::SlowRequests { count, server, now });
    }

    fn on_handshake(&mut self, now: Timestamp) {
        self.hold(Item::Handshake(now));
    }
}
