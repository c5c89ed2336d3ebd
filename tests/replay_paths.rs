//! The sharded replay (workers judge, one stage settles in capture order) raises the
//! same alerts, in the same order, as one plain pipeline with the detection stage as
//! its observer, the way the live daemon's workers run. Both sharded paths judge
//! transactions in batches (a one-worker replay holds every other report meanwhile),
//! the plain pipeline one at a time as they complete: equal alerts show the batching
//! changes nothing the stage sees. Captures: the bundled attack and benign ones, or
//! those named in `TW_REPLAY_PATHS_PCAPS` (colon-separated).

use std::path::PathBuf;
use std::sync::Arc;

use tamperwatch::config::Config;
use tamperwatch::detect::alert::Alert;
use tamperwatch::detect::threshold::ThresholdTable;
use tamperwatch::detect::{AlertSink, DetectionStage, Detector, SinkError};
use tamperwatch::pipeline::PipelineSettings;
use tamperwatch::replay;

/// Keeps every alert, rendered.
#[derive(Default)]
struct Collect(Vec<String>);

impl AlertSink for Collect {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.0.push(format!("{alert:?}"));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Captures that fill a worker's share of the memory budget on purpose: with several
/// workers each holds its own share, so what is evicted, and when, is decided per shard
/// (as live): the flow table's slots, the defragmenter's datagrams. `tests/flood_budget.rs`
/// judges them.
const REACHES_WORKER_CAPS: &[&str] = &["flood-upload.pcap", "frag-flood-upload.pcap"];

fn captures() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("TW_REPLAY_PATHS_PCAPS") {
        return list.split(':').map(PathBuf::from).collect();
    }
    let mut all = Vec::new();
    for dir in ["attacks", "benign"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps").join(dir))
            .expect("pcaps dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .filter(|p| {
                !REACHES_WORKER_CAPS
                    .iter()
                    .any(|name| p.file_name().is_some_and(|f| f == *name))
            })
            .collect();
        files.sort();
        all.extend(files);
    }
    all
}

fn config() -> Config {
    let mut config = Config::load(&root().join("pcaps/site.yaml")).expect("site config");
    // The path comparison is about ordering and cross-flow state; CRS is per
    // transaction and only slows the debug build.
    config.crs.enabled = false;
    config
}

fn detector(config: &Config) -> Detector {
    Detector::load(
        &root().join("rules"),
        config,
        Arc::new(ThresholdTable::default()),
    )
    .expect("rules")
}

/// Alerts from one plain pipeline, the detection stage observing it directly.
fn plain(pcaps: &[PathBuf], config: &Config) -> Vec<String> {
    let detector = detector(config);
    let mut sink = Collect::default();
    let mut stage = DetectionStage::new(&detector, vec![&mut sink]);
    let mut sources = replay::open_all(pcaps).expect("open");
    replay::replay(
        &mut sources,
        PipelineSettings::for_config(config),
        &mut stage,
        &mut |_| {},
    )
    .expect("plain replay");
    drop(stage);
    sink.0
}

/// Alerts from the sharded replay on `workers` workers.
fn sharded(pcaps: &[PathBuf], config: &Config, workers: usize) -> Vec<String> {
    let detector = detector(config);
    let mut sink = Collect::default();
    let mut stage = DetectionStage::new(&detector, vec![&mut sink]);
    let mut sources = replay::open_all(pcaps).expect("open");
    replay::replay_sharded(
        &mut sources,
        &PipelineSettings::for_config(config),
        workers,
        &detector,
        &mut stage,
        &mut |_| {},
    )
    .expect("sharded replay");
    drop(stage);
    sink.0
}

#[test]
fn sharded_replay_raises_what_one_plain_pipeline_raises() {
    let config = config();
    let pcaps = captures();
    assert!(!pcaps.is_empty());
    let want = plain(&pcaps, &config);
    let enough = if std::env::var_os("TW_REPLAY_PATHS_PCAPS").is_some() {
        1
    } else {
        10
    };
    assert!(want.len() >= enough, "too few alerts to compare: {want:#?}");
    for workers in [1, 2] {
        let got = sharded(&pcaps, &config, workers);
        assert!(
            got == want,
            "{workers} workers: {} alerts, plain pipeline {}; first difference at {:?}",
            got.len(),
            want.len(),
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
}
