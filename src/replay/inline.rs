//! `replay --workers 1`: the sharded replay's steps on the calling thread.
//!
//! With one worker, handing frames to a thread only costs: every frame copied into an
//! epoch buffer, two channel hops per epoch, and every transaction allocated on the
//! worker and freed on the reader (the slow path of the system allocator). Here the
//! calling thread reads a frame, runs it through the pipeline straight from the
//! capture's buffer, and hands what the pipeline reports to the serial stage as it is
//! reported ([`Direct`]): transactions judged exactly as a worker judges them, the
//! other reports as the merge replays them. A worker records in position order (see
//! [`super::record`]: frame items as they come, then the sweep's tick and the flows it
//! ends in id order), so what the merge would sort is already in order and the output
//! is the same as a sharded run's with any worker count (tests/replay_workers.rs),
//! without storing and re-reading every transaction.

use std::net::SocketAddr;

use crate::capture::FileSource;
use crate::decode::PacketView;
use crate::detect::{DetectionStage, Detector};
use crate::http::HttpTransaction;
use crate::observe::{Pressure, Summary, TransactionObserver};
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::time::Timestamp;
use crate::tls::ClientHello;

use super::record::counted_syn;
use super::sharded::{each_frame, ShardedError};

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
    let mut direct = Direct { detector, stage };
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
            direct.stage.tick(frame.ts);
            pipeline.advance(frame.ts, &mut direct);
        }
        Ok(())
    })?;
    pipeline.finish(&mut direct);
    pipeline.refresh_flow_counters();
    read_result?;
    Ok(pipeline.summary.clone())
}

/// The pipeline's observer on one thread: each report goes to the serial stage as the
/// merge of a sharded run hands it over ([`super::sharded::feed_other`]), each
/// transaction judged first as a worker's recorder judges it.
struct Direct<'a, 's> {
    detector: &'a Detector,
    stage: &'a mut DetectionStage<'s>,
}

impl TransactionObserver for Direct<'_, '_> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        let judgement = self.detector.judge(txn);
        self.stage.on_judged_transaction(txn, judgement);
    }

    fn take_transactions(&mut self, txns: &mut Vec<HttpTransaction>) {
        for txn in txns.iter() {
            self.on_transaction(txn);
        }
        txns.clear();
    }

    fn on_client_hello(&mut self, hello: &ClientHello) {
        self.stage.on_client_hello(hello);
    }

    fn on_tcp_packet(&mut self, packet: &PacketView<'_>, now: Timestamp) {
        if let Some((src, dst)) = counted_syn(packet) {
            self.stage.on_syn(src, dst, now);
        }
    }

    fn on_pressure(&mut self, kind: Pressure, count: u64, dest: SocketAddr, now: Timestamp) {
        self.stage.on_pressure(kind, count, dest, now);
    }

    fn on_slow_requests(&mut self, count: u64, server: SocketAddr, now: Timestamp) {
        self.stage.on_slow_requests(count, server, now);
    }

    fn on_handshake(&mut self, now: Timestamp) {
        self.stage.on_handshake(now);
    }
}
