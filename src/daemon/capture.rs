//! The capture thread: reads the live source and fans frames out to the workers.
//!
//! Each read hands over what libpcap has buffered (at most [`DISPATCH_MAX_FRAMES`]).
//! When a read drains the buffer, every open batch is sent at once — nothing more is
//! coming for now, so nothing waits — and the thread sleeps in `poll(2)` until packets
//! arrive or the read timeout passes, then checks for a stop. Under sustained load
//! reads come back full and batches are sent when full or after
//! [`super::fanout::BATCH_MAX_WAIT`]. About every [`STATS_INTERVAL`] libpcap's counters
//! and the queue drops go to the metrics. On stop, the open batches are sent and the
//! queues closed, which tells the workers to finish.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::fanout::Fanout;
use crate::capture::{CaptureError, CaptureStats, CaptureStop, LiveSource};
use crate::sink::metrics::Metrics;

/// Frames handled per read, at most, so housekeeping runs under sustained load too.
pub const DISPATCH_MAX_FRAMES: usize = 1024;
/// How often capture counters are published.
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// What the capture saw, returned when it stops.
#[derive(Debug, Default, Clone, Copy)]
pub struct CaptureReport {
    pub stats: CaptureStats,
    pub queue_drops: u64,
}

/// Starts the capture thread.
pub fn spawn(
    source: LiveSource,
    fanout: Fanout,
    metrics: Arc<Metrics>,
) -> std::io::Result<JoinHandle<Result<CaptureReport, CaptureError>>> {
    std::thread::Builder::new()
        .name("tw-capture".into())
        .spawn(move || run(source, fanout, &metrics))
}

fn run(
    mut source: LiveSource,
    mut fanout: Fanout,
    metrics: &Metrics,
) -> Result<CaptureReport, CaptureError> {
    let stop: CaptureStop = source.stop_handle();
    let mut published = CaptureReport::default();
    let mut last_stats = Instant::now();
    let result = loop {
        if stop.is_stopped() {
            break Ok(());
        }
        let read = source.dispatch(DISPATCH_MAX_FRAMES, |frame| fanout.route(&frame));
        let handled = match read {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        let drained = handled < DISPATCH_MAX_FRAMES;
        fanout.flush_due(drained);
        if handled == 0 {
            if let Err(e) = source.wait() {
                break Err(e);
            }
        }
        if last_stats.elapsed() >= STATS_INTERVAL {
            last_stats = Instant::now();
            if let Err(e) = publish(&mut source, &fanout, metrics, &mut published) {
                tracing::warn!(error = %e, "reading capture statistics");
            }
        }
    };
    fanout.flush_all();
    if let Err(e) = publish(&mut source, &fanout, metrics, &mut published) {
        tracing::warn!(error = %e, "reading capture statistics");
    }
    // Dropping the fan-out closes the worker queues: the workers finish.
    drop(fanout);
    result.map(|()| published)
}

/// Sets the capture counters and adds new queue drops to the metrics.
fn publish(
    source: &mut LiveSource,
    fanout: &Fanout,
    metrics: &Metrics,
    published: &mut CaptureReport,
) -> Result<(), CaptureError> {
    let drops = fanout.queue_drops();
    metrics.add_queue_drops(drops.saturating_sub(published.queue_drops));
    published.queue_drops = drops;
    let stats = source.stats()?;
    metrics.set_capture_stats(stats.received, stats.dropped, stats.if_dropped);
    published.stats = stats;
    Ok(())
}
