//! `tamperwatch replay`: capture files through detection into the events log, the
//! flagged store and the statistics database, then a summary. Time comes from the
//! packets, so the same captures and rules give byte-identical events.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use tamperwatch::detect::threshold::ThresholdTable;
use tamperwatch::detect::Detector;
use tamperwatch::pipeline::{DetectionStage, PipelineSettings};
use tamperwatch::replay;
use tamperwatch::sink::events::EventLog;
use tamperwatch::sink::store::FlaggedStore;
use tamperwatch::sink::AlertSink;

/// Captures smaller than this replay without a progress bar.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// The flags of `replay`.
#[derive(Args)]
pub struct ReplayArgs {
    /// Site policy and settings (YAML). Without it, nobody may change content.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rules directory (or one file); default: the config's `rules:`, else the
    /// bundled rules/ when run from the source tree, else /etc/tamperwatch/rules.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Write flagged events as JSON lines to FILE, or "-" for stdout.
    #[arg(long, value_name = "FILE|-")]
    events: Option<String>,
    /// Also keep flagged events in this flagged store (SQLite; created if missing).
    #[arg(long, value_name = "DB")]
    store: Option<PathBuf>,
    /// Also record anonymous usage statistics in this database (see `report`).
    #[arg(long, value_name = "DB")]
    stats: Option<PathBuf>,
    /// Packet workers (default: one per core). The output is the same for any count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: Option<u16>,
    /// pcap or pcapng files.
    #[arg(required = true)]
    pcaps: Vec<PathBuf>,
}

/// Runs `replay`: with events on stdout, the summary goes to stderr.
pub fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let events = args.events.as_deref();
    let config = super::load_config(args.config.as_deref())?;
    let rules_path = super::rules_path(args.rules.as_deref(), &config);
    let thresholds = ThresholdTable::with_budget(config.limits.detector_bytes());
    let detector = Detector::load(&rules_path, &config, Arc::new(thresholds))?;
    let mut sources = replay::open_all(&args.pcaps)?;
    let mut data_files: Vec<&Path> = Vec::new();
    if let Some(p) = events.filter(|p| *p != "-") {
        data_files.push(Path::new(p));
    }
    if let Some(p) = args.store.as_deref() {
        data_files.push(p);
    }
    let policy = tamperwatch::sink::privacy::address_policy(&config, &data_files)?;
    let mut event_log: Option<EventLog<Box<dyn std::io::Write>>> = match events {
        None => None,
        Some("-") => Some(
            EventLog::new(
                Box::new(std::io::BufWriter::new(std::io::stdout())) as Box<dyn std::io::Write>
            )
            .with_address_policy(policy.clone()),
        ),
        Some(path) => {
            let file = tamperwatch::sink::privacy::create_private(Path::new(path))
                .with_context(|| format!("events file {path}"))?;
            Some(
                EventLog::new(Box::new(std::io::BufWriter::new(file)) as Box<dyn std::io::Write>)
                    .with_address_policy(policy.clone()),
            )
        }
    };
    let mut store = match args.store.as_deref() {
        None => None,
        Some(path) => {
            let opened = FlaggedStore::create(path)?.with_address_policy(policy.clone());
            Some(replay::ReplayStore::new(opened))
        }
    };
    let mut stats = match args.stats.as_deref() {
        None => None,
        Some(path) => {
            let db = tamperwatch::sink::stats::db::StatsDb::create(path)?;
            let groups = tamperwatch::sink::metrics::content_group::ContentGroups::new(
                &config.policy.content_groups,
            );
            Some(tamperwatch::sink::stats::StatsRecorder::new(
                db,
                groups,
                config.stats.retention_days,
            ))
        }
    };
    let mut stats_sink = stats.clone();
    let mut sinks: Vec<&mut dyn AlertSink> = Vec::new();
    if let Some(s) = stats_sink.as_mut() {
        sinks.push(s);
    }
    if let Some(log) = event_log.as_mut() {
        sinks.push(log);
    }
    if let Some(s) = store.as_mut() {
        sinks.push(s);
    }
    let mut stage = DetectionStage::new(&detector, sinks);
    let total: u64 = sources.iter().map(|s| s.file_bytes).sum();
    let bar = progress_bar(total);
    let mut progress = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n)
        }
    };
    let mut no_inner = tamperwatch::pipeline::NullObserver;
    let mut tee = tamperwatch::sink::stats::StatsTee {
        inner: &mut no_inner,
        stats: stats.clone(),
    };
    stage.also = Some(&mut tee);
    let workers = args.workers.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    // Each shard holds its share of the budget, as the daemon's workers do.
    let settings = PipelineSettings {
        memory_bytes: config.limits.worker_bytes(workers),
        ..PipelineSettings::for_config(&config)
    };
    let result = replay::replay_sharded(
        &mut sources,
        &settings,
        workers,
        &detector,
        &mut stage,
        &mut progress,
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    stage.flush().context("flushing events and store")?;
    if let Some(s) = stats.take() {
        s.flush()?;
    }
    let summary = result?;
    let alerts = stage.alert_count();
    let by_category = stage.alerts_by_category;
    let sink_errors = stage.sink_errors;
    drop(stage);
    drop(event_log);
    let mut report = format!("{summary}");
    report.push_str(&format!(
        "rules loaded       {} from {}\n",
        detector.rule_count(),
        rules_path.display()
    ));
    report.push_str(&format!(
        "detector state     {} observations dropped at the cap\n",
        detector.threshold_drops()
    ));
    report.push_str(&format!("flagged events     {alerts}\n"));
    for (c, n) in tamperwatch::detect::alert::Category::ALL
        .iter()
        .zip(by_category)
    {
        if n > 0 {
            report.push_str(&format!("  {:<24} {n}\n", c.as_str()));
        }
    }
    if let Some(s) = &store {
        report.push_str(&format!("stored             {} rows\n", s.stored));
    }
    if sink_errors > 0 {
        report.push_str(&format!("sink write errors  {sink_errors}\n"));
    }
    // How this run used memory: on stderr, because it depends on the worker count and
    // the machine, and the report above must not.
    let mut resources = summary.memory_line();
    if let Some(peak) = tamperwatch::flow::budget::peak_rss_bytes() {
        resources.push_str(&format!(
            "peak memory        {peak} bytes resident (VmHWM)\n"
        ));
    }
    eprint!("{resources}");
    if events == Some("-") {
        eprint!("{report}");
    } else {
        print!("{report}");
    }
    Ok(())
}

/// A progress bar on stderr for long replays, only when stderr is a terminal.
fn progress_bar(total_bytes: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() || total_bytes < PROGRESS_MIN_BYTES {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total_bytes);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}
