//! A packet worker: one thread owning a [`Pipeline`] and a [`DetectionStage`].
//!
//! It receives frame batches from its queue, runs every frame through the pipeline,
//! and gives each batch back to the pool. Flow state is its own (the fan-out sends both
//! directions of a flow here); the detector is read from the shared holder per
//! transaction, so a reload applies from the next one. When the queue is quiet for
//! [`IDLE_TICK`] it expires idle flows by the wall clock; about every
//! [`REPORT_INTERVAL`] it adds its counters to the metrics. When the capture thread
//! closes the queue it finishes every open flow (flushing their transactions through
//! detection), reports, flushes its sinks and returns its totals.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::batch::{BatchRecycler, FrameBatch};
use super::sinks::WorkerSinks;
use crate::capture::live::wall_clock;
use crate::decode::LinkType;
use crate::detect::shared::SharedDetector;
use crate::pipeline::{DetectionStage, Pipeline, PipelineSettings, Summary};
use crate::sink::metrics::Metrics;

/// Quiet time after which a worker expires idle flows without a packet.
pub const IDLE_TICK: Duration = Duration::from_millis(500);
/// How often a worker adds its counters to the metrics.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Everything one worker needs.
pub struct WorkerSetup {
    pub index: usize,
    pub link: LinkType,
    pub settings: PipelineSettings,
    pub detector: Arc<SharedDetector>,
    pub metrics: Arc<Metrics>,
    pub sinks: WorkerSinks,
    pub queue: Receiver<FrameBatch>,
    pub recycler: BatchRecycler,
}

/// What a worker did, returned when it stops.
#[derive(Debug, Default, Clone)]
pub struct WorkerReport {
    pub summary: Summary,
    pub alerts: u64,
    pub sink_errors: u64,
}

/// Starts the worker thread.
pub fn spawn(setup: WorkerSetup) -> std::io::Result<JoinHandle<WorkerReport>> {
    std::thread::Builder::new()
        .name(format!("tw-worker-{}", setup.index))
        .spawn(move || run(setup))
}

fn run(setup: WorkerSetup) -> WorkerReport {
    let WorkerSetup {
        index,
        link,
        settings,
        detector,
        metrics,
        mut sinks,
        queue,
        recycler,
    } = setup;
    let mut pipeline = Pipeline::new(settings);
    let mut metrics_observer = Arc::clone(&metrics);
    let stats = sinks.stats();
    let mut observer = crate::sink::stats::StatsTee {
        inner: &mut metrics_observer,
        stats,
    };
    let mut stage = DetectionStage::new(&*detector, sinks.as_sinks());
    stage.also = Some(&mut observer);
    let mut reported = Summary::default();
    let mut last_report = Instant::now();
    loop {
        match queue.recv_timeout(IDLE_TICK) {
            Ok(batch) => {
                for (number, frame) in batch.numbered_frames() {
                    pipeline.process_numbered(link, &frame, number, &mut stage);
                }
                recycler.give_back(batch);
            }
            Err(RecvTimeoutError::Timeout) => pipeline.advance(wall_clock(), &mut stage),
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_report.elapsed() >= REPORT_INTERVAL {
            report(&mut pipeline, &metrics, &mut reported);
            last_report = Instant::now();
        }
    }
    pipeline.finish(&mut stage);
    report(&mut pipeline, &metrics, &mut reported);
    if let Err(e) = stage.flush() {
        tracing::error!(worker = index, error = %e, "flushing sinks");
    }
    WorkerReport {
        summary: pipeline.summary.clone(),
        alerts: stage.alert_count(),
        sink_errors: stage.sink_errors,
    }
}

/// Adds what the pipeline counted since the last report to the metrics.
fn report(pipeline: &mut Pipeline, metrics: &Metrics, reported: &mut Summary) {
    pipeline.refresh_flow_counters();
    metrics.observe_summary_delta(reported, &pipeline.summary);
    *reported = pipeline.summary.clone();
}
