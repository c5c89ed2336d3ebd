//! Start-up: every check that can fail runs before a thread starts.
//!
//! In order: the configuration, the rules (compiled), the metrics registry and its
//! listener, the live capture (interface, permission, filter, link type) and the
//! events file. Only when all of them succeeded are the workers and the capture thread
//! started, so a bad start leaves nothing running and prints one line.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::TcpListener;

use super::batch::{BatchPool, BATCH_BYTES};
use super::capture::{self, CaptureReport};
use super::fanout::{Fanout, WORKER_QUEUE_BATCHES};
use super::reload::{self, RuleReloader};
use super::sinks::AlertSinks;
use super::worker::{self, WorkerReport, WorkerSetup};
use super::{http, DaemonError};
use crate::capture::{CaptureError, CaptureStop, LiveSettings, LiveSource, PacketSource};
use crate::config::Config;
use crate::detect::shared::SharedDetector;
use crate::detect::threshold::ThresholdTable;
use crate::flow::HeapPool;
use crate::pipeline::{PipelineSettings, SiteScope};
use crate::sink::metrics::{ContentGroups, DetectorCounts, DetectorCountsSource, Metrics};

/// A started daemon: its threads and what the control plane needs to run them.
pub struct Running {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub reloader: Arc<RuleReloader>,
    pub sinks: AlertSinks,
    pub listener: TcpListener,
    pub capture: JoinHandle<Result<CaptureReport, CaptureError>>,
    pub capture_stop: CaptureStop,
    pub workers: Vec<JoinHandle<WorkerReport>>,
    /// What was started, for the log and systemd's status line.
    pub description: String,
}

/// Checks everything, then starts the packet threads.
pub async fn start(config_path: &Path) -> Result<Running, DaemonError> {
    let config = Config::load(config_path)?;
    let thresholds = Arc::new(ThresholdTable::with_budget(config.limits.detector_bytes()));
    let detector = reload::load_detector(&config, &thresholds)?;
    let groups = ContentGroups::new(&config.policy.content_groups);
    let metrics = Arc::new(Metrics::new(groups)?);
    reload::register(&metrics, &detector);
    let rule_count = detector.rule_count();

    let listener = http::bind(config.metrics.listen).await?;
    let live = LiveSettings::for_config(&config);
    let source = LiveSource::open(&live)?;
    // Nothing past this point needs a capability; no other thread exists yet.
    super::privileges::drop_after_capture_open();
    let sinks = AlertSinks::open(&config, Arc::clone(&metrics))?;

    let detector = Arc::new(SharedDetector::new(detector));
    metrics.watch_detector(detector_counts(
        Arc::clone(&thresholds),
        Arc::clone(&detector),
    ));
    let reloader = Arc::new(RuleReloader::new(
        config_path,
        thresholds,
        Arc::clone(&detector),
        Arc::clone(&metrics),
    ));
    let workers = worker_count(config.capture.workers);
    let batch_bytes = BATCH_BYTES.max(usize::try_from(live.snaplen).unwrap_or(0));
    let (pool, recycler) = BatchPool::new(workers * (WORKER_QUEUE_BATCHES + 2), batch_bytes);
    let link = source.link_type();
    let mut settings = PipelineSettings::for_config(&config);
    // Each worker gets its share of the memory budget, no lock to check it, and pools
    // three quarters of its heap share for whichever worker a flood lands on.
    settings.memory_bytes = config.limits.worker_bytes(workers);
    settings.heap_pool = Some(Arc::new(HeapPool::new()));
    if config.capture.filter.is_none() {
        // The derived kernel filter passes every fragment and IPv6 packet; the site's
        // ports are checked after decoding.
        settings.site = Some(SiteScope::of(&config.site));
    }
    let mut queues = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for index in 0..workers {
        let (tx, rx) = sync_channel(WORKER_QUEUE_BATCHES);
        queues.push(tx);
        let setup = WorkerSetup {
            index,
            link,
            settings: settings.clone(),
            detector: Arc::clone(&detector),
            metrics: Arc::clone(&metrics),
            sinks: sinks.for_worker(),
            queue: rx,
            recycler: recycler.clone(),
        };
        handles.push(worker::spawn(setup).map_err(|e| DaemonError::Thread {
            what: "packet worker",
            reason: e.to_string(),
        })?);
    }
    drop(recycler);
    let capture_stop = source.stop_handle();
    let description = describe(&live, workers, rule_count, config.metrics.listen);
    let fanout = Fanout::new(link, queues, pool);
    let capture =
        capture::spawn(source, fanout, Arc::clone(&metrics)).map_err(|e| DaemonError::Thread {
            what: "capture",
            reason: e.to_string(),
        })?;
    Ok(Running {
        config,
        metrics,
        reloader,
        sinks,
        listener,
        capture,
        capture_stop,
        workers: handles,
        description,
    })
}

/// Reads the detector's cap counters at each scrape: the threshold table lives across
/// reloads; the CRS engine's counters restart with each reload.
fn detector_counts(
    thresholds: Arc<ThresholdTable>,
    detector: Arc<SharedDetector>,
) -> DetectorCountsSource {
    Box::new(move || {
        let mut counts = DetectorCounts {
            threshold_windows_dropped: thresholds.dropped(),
            ..DetectorCounts::default()
        };
        if let Some(crs) = detector.load().crs() {
            counts.set_crs(&crs.stats());
        }
        counts
    })
}

/// Workers to start: as configured, or one per core.
pub fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn describe(live: &LiveSettings, workers: usize, rules: usize, listen: SocketAddr) -> String {
    format!(
        "capturing on {} ({} workers, {} rules, metrics on {})",
        live.interface, workers, rules, listen
    )
}
