//! The control plane: signals, timers, the metrics endpoint, and the drain at exit.
//!
//! It runs on a single-threaded tokio runtime beside the packet threads and does no
//! packet work. SIGHUP reloads rules and policy (and reopens the events file);
//! SIGTERM or SIGINT drains: stop the capture, let each worker finish its flows
//! (flushing open transactions through detection), close the sinks, exit 0. A packet
//! thread that stops on its own (an interface that went away, a panic) also drains,
//! and exits 1 so systemd restarts the service. Timers: the systemd watchdog (pinged
//! only while every packet thread runs), the visitor day rollover and threshold
//! sweep every [`HOUSEKEEPING_INTERVAL`], and retention at start and every
//! [`RETENTION_INTERVAL`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use super::capture::CaptureReport;
use super::http::{self, MetricsEndpoint};
use super::notify::Notifier;
use super::sinks::AlertSinks;
use super::startup::Running;
use super::worker::WorkerReport;
use super::DaemonError;
use crate::capture::live::wall_clock;
use crate::pipeline::Summary;

/// How often packet threads are checked (and the watchdog considered).
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// How often the visitor day and threshold windows are brought up to the clock.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(30);
/// How often expired flagged records are purged.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// The signals the daemon handles, installed before start-up so none is lost.
pub struct Signals {
    hangup: Signal,
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Installs the handlers (SIGHUP, SIGTERM, SIGINT).
    pub fn install() -> Result<Signals, DaemonError> {
        let install = |kind| {
            signal(kind)
                .map_err(|e| DaemonError::Runtime(format!("installing signal handlers: {e}")))
        };
        Ok(Signals {
            hangup: install(SignalKind::hangup())?,
            terminate: install(SignalKind::terminate())?,
            interrupt: install(SignalKind::interrupt())?,
        })
    }
}

/// Why the main loop ended.
enum Exit {
    Signal(&'static str),
    ThreadStopped,
}

/// Runs the daemon until a signal or a failure, then drains it.
pub async fn supervise(
    running: Running,
    mut signals: Signals,
    notifier: Notifier,
) -> Result<(), DaemonError> {
    let Running {
        config,
        metrics,
        reloader,
        sinks,
        listener,
        capture,
        capture_stop,
        workers,
        description,
    } = running;

    let ready = Arc::new(AtomicBool::new(false));
    let endpoint = Arc::new(MetricsEndpoint::new(
        Arc::clone(&metrics),
        Arc::clone(&ready),
    ));
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, endpoint, async move {
        let _ = server_stopped.await;
    }));

    let sinks = Arc::new(sinks);
    let days = config.retention.days;
    let mut purge = Some(spawn_purge(&sinks, days));
    let mut stats_flush: Option<tokio::task::JoinHandle<()>> = None;
    ready.store(true, Ordering::Release);
    notifier.ready(&description);
    tracing::info!(
        filter = %config.capture_filter(),
        "started: {description}"
    );

    let mut health = ticker(HEALTH_INTERVAL, HEALTH_INTERVAL);
    let mut housekeeping = ticker(HOUSEKEEPING_INTERVAL, HOUSEKEEPING_INTERVAL);
    let mut retention = ticker(RETENTION_INTERVAL, RETENTION_INTERVAL);
    let mut watchdog = notifier
        .watchdog_interval()
        .map(|every| ticker(Duration::ZERO, every));

    let exit = loop {
        tokio::select! {
            _ = signals.terminate.recv() => break Exit::Signal("SIGTERM"),
            _ = signals.interrupt.recv() => break Exit::Signal("SIGINT"),
            _ = signals.hangup.recv() => {
                notifier.reloading();
                let r = Arc::clone(&reloader);
                match tokio::task::spawn_blocking(move || r.reload()).await {
                    Ok(Ok(rules)) => tracing::info!(rules, "reloaded rules and policy"),
                    Ok(Err(e)) => tracing::error!(error = %e, "reload failed; the previous rules keep running"),
                    Err(e) => tracing::error!(error = %e, "reload task failed; the previous rules keep running"),
                }
                sinks.reopen();
                notifier.ready(&description);
            }
            _ = health.tick() => {
                if capture.is_finished() || workers.iter().any(JoinHandle::is_finished) {
                    break Exit::ThreadStopped;
                }
                sinks.publish_store_metrics();
            }
            _ = tick(&mut watchdog) => {
                if !capture.is_finished() && !workers.iter().any(JoinHandle::is_finished) {
                    notifier.watchdog();
                }
            }
            _ = housekeeping.tick() => {
                let now = wall_clock();
                metrics.roll_over_day(now);
                reloader.detector().load().sweep(now);
                // Off the runtime thread (a slow disk must not delay signals), one at a time.
                if stats_flush.as_ref().map_or(true, tokio::task::JoinHandle::is_finished) {
                    let flushing = Arc::clone(&sinks);
                    stats_flush = Some(tokio::task::spawn_blocking(move || flushing.flush_stats()));
                }
            }
            _ = retention.tick() => {
                // One purge at a time; a slow one just delays the next.
                if purge.as_ref().map_or(true, tokio::task::JoinHandle::is_finished) {
                    purge = Some(spawn_purge(&sinks, days));
                }
            }
        }
    };

    match exit {
        Exit::Signal(name) => tracing::info!("{name}: draining"),
        Exit::ThreadStopped => tracing::error!("a packet thread stopped; draining"),
    }
    ready.store(false, Ordering::Release);
    notifier.stopping();
    capture_stop.stop();
    let capture_result = join(capture, "capture").await;
    let mut reports = Vec::with_capacity(workers.len());
    let mut outcome: Result<(), DaemonError> = Ok(());
    for (i, handle) in workers.into_iter().enumerate() {
        match join(handle, "packet worker").await {
            Ok(report) => reports.push(report),
            Err(e) => {
                tracing::error!(worker = i, error = %e, "worker failed");
                outcome = Err(e);
            }
        }
    }
    // Workers are gone, so no handle holds the sinks open: close commits everything.
    if let Some(p) = purge.take() {
        let _ = p.await;
    }
    if let Some(f) = stats_flush.take() {
        let _ = f.await;
    }
    match Arc::try_unwrap(sinks) {
        Ok(sinks) => {
            let _ = tokio::task::spawn_blocking(move || sinks.close()).await;
        }
        // Unreachable (the purge task was awaited); dropping still closes each sink.
        Err(_) => tracing::warn!("sinks still shared at exit"),
    }
    let _ = stop_server.send(());
    let _ = server.await;

    let capture_report = match capture_result {
        Ok(Ok(report)) => Some(report),
        Ok(Err(e)) => {
            outcome = Err(DaemonError::Capture(e));
            None
        }
        Err(e) => {
            outcome = Err(e);
            None
        }
    };
    log_totals(capture_report, &reports);
    if outcome.is_ok() && matches!(exit, Exit::ThreadStopped) {
        outcome = Err(DaemonError::Stopped {
            what: "a packet thread",
        });
    }
    outcome
}

/// Purges expired flagged records off the runtime thread.
fn spawn_purge(sinks: &Arc<AlertSinks>, days: u32) -> tokio::task::JoinHandle<()> {
    let sinks = Arc::clone(sinks);
    tokio::task::spawn_blocking(move || sinks.purge_expired(wall_clock(), days))
}

/// Waits for a thread without blocking the runtime.
async fn join<T: Send + 'static>(
    handle: JoinHandle<T>,
    what: &'static str,
) -> Result<T, DaemonError> {
    match tokio::task::spawn_blocking(move || handle.join()).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_panic)) => Err(DaemonError::Panicked { what }),
        Err(e) => Err(DaemonError::Runtime(format!(
            "joining the {what} thread: {e}"
        ))),
    }
}

fn ticker(first_after: Duration, every: Duration) -> Interval {
    let mut i = interval_at(Instant::now() + first_after, every);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

/// Ticks an optional timer; never completes when there is none.
async fn tick(timer: &mut Option<Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// One line of totals at exit (counts only, no addresses).
fn log_totals(capture: Option<CaptureReport>, workers: &[WorkerReport]) {
    let mut total = Summary::default();
    let mut alerts = 0;
    let mut sink_errors = 0;
    for w in workers {
        total.packets += w.summary.packets;
        total.transactions += w.summary.transactions;
        total.flows += w.summary.flows;
        alerts += w.alerts;
        sink_errors += w.sink_errors;
    }
    let c = capture.unwrap_or_default();
    tracing::info!(
        packets = total.packets,
        flows = total.flows,
        transactions = total.transactions,
        alerts,
        sink_errors,
        received = c.stats.received,
        kernel_drops = c.stats.dropped,
        interface_drops = c.stats.if_dropped,
        queue_drops = c.queue_drops,
        "stopped"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_timer_never_fires() {
        let mut none: Option<Interval> = None;
        let fired = tokio::time::timeout(Duration::from_millis(50), tick(&mut none)).await;
        assert!(fired.is_err());
    }

    #[tokio::test]
    async fn a_present_timer_fires_after_its_first_delay() {
        let mut some = Some(ticker(Duration::from_millis(10), Duration::from_secs(60)));
        let fired = tokio::time::timeout(Duration::from_secs(5), tick(&mut some)).await;
        assert!(fired.is_ok());
    }
}
