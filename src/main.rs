//! The `tamperwatch` command line: parses arguments and calls the library.

mod report_cmd;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use tamperwatch::config::{Config, DEFAULT_RULES_DIR};
use tamperwatch::detect::threshold::ThresholdTable;
use tamperwatch::detect::{rules, Detector};
use tamperwatch::pipeline::{DetectionStage, PipelineSettings};
use tamperwatch::sink::events::EventLog;
use tamperwatch::sink::inspect::InspectLog;
use tamperwatch::sink::store::report::{self, DEFAULT_LIST_LIMIT};
use tamperwatch::sink::store::{ExportFormat, FilterSpec, FlaggedStore, ImportError, StoreError};
use tamperwatch::sink::AlertSink;
use tamperwatch::time::Timestamp;
use tamperwatch::{daemon, replay};

/// Where the packaged service reads its configuration.
const DEFAULT_CONFIG: &str = "/etc/tamperwatch/tamperwatch.yaml";

/// Passive monitor for a public website: flags unauthorized attempts to upload or change
/// content, keeps only flagged flows' metadata, and exports anonymous statistics.
///
/// Exit codes: 0 ok, 1 bad input or configuration (with a one-line reason), 2 usage.
#[derive(Parser)]
#[command(name = "tamperwatch", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay capture files through detection; print flagged events and a summary.
    ///
    /// Time comes from packet timestamps, so the same captures and rules always give
    /// byte-identical events. Files are processed in order, as one capture.
    Replay {
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
    },
    /// Print the HTTP transactions in capture files as JSON lines (Zeek http.log names).
    ///
    /// A FORENSIC tool for a capture you own: it prints EVERYTHING in the capture, for
    /// every client, flagged or not (addresses, full URLs with query values, user
    /// agents, referrers, file names). It ignores `privacy:`; its output is as sensitive
    /// as the capture itself. Never run it on the live site's traffic to make records.
    Inspect {
        /// pcap or pcapng files, processed in order as one capture.
        #[arg(required = true)]
        pcaps: Vec<PathBuf>,
    },
    /// The anonymous usage report a city can publish, from the statistics database.
    ///
    /// One self-contained HTML page (inline CSS and SVG; no scripts or external
    /// resources), JSON or CSV. Every count below `stats.min_count` (default 10) is shown
    /// as `<10`. Days are UTC; the default period is the last 30 days.
    Report {
        /// Statistics database; default: the config's `stats.path`.
        #[arg(long, value_name = "DB")]
        stats: Option<PathBuf>,
        /// Settings (YAML) for `stats.min_count` and `stats.path`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// First day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day (YYYY-MM-DD), included.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "html")]
        format: report_cmd::ReportFormat,
        /// Write to FILE (mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Monitor a live interface: flag attacks, serve metrics, until SIGTERM.
    ///
    /// SIGHUP reloads rules and policy (a bad reload keeps the old rules) and reopens
    /// the events file; SIGTERM or SIGINT drains open flows and exits 0. Start-up
    /// problems (config, rules, interface, permission, filter, metrics port) print one
    /// line and exit 1 before anything runs.
    Run {
        /// Site policy and settings (YAML).
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Log lines on stderr as readable text or JSON objects.
        #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
        log_format: LogFormatArg,
    },
    /// Query and maintain the flagged store (alerts kept for the retention period).
    Flagged {
        /// The store to read (default: the config's `store.path`).
        #[arg(long, value_name = "DB", global = true)]
        store: Option<PathBuf>,
        /// Configuration whose `store.path` names the store.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: FlaggedCommand,
    },
    /// Rule set commands.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum FlaggedCommand {
    /// Alerts as a table, newest first.
    List {
        #[command(flatten)]
        filters: FilterArgs,
        /// Show at most N alerts [default: 100].
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Every field of one alert.
    Show {
        /// The alert's id, as `list` prints it.
        id: i64,
        /// Only if it was imported from this host.
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
    },
    /// Alerts as EVE JSON lines or CSV, oldest first.
    Export {
        #[command(flatten)]
        filters: FilterArgs,
        /// Export at most N alerts.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// jsonl (EVE events with their id) or csv.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
        format: String,
    },
    /// Alert counts by day, category and rule.
    Stats {
        #[command(flatten)]
        filters: FilterArgs,
    },
    /// Load EVE lines from other hosts into this store (created if missing).
    ///
    /// Each line becomes one row tagged with its host: --host, else the line's own
    /// `host` field, else the file's name without extension (the rsyslog collector
    /// writes HOSTNAME.jsonl). Importing a line twice stores it once. Bad lines are
    /// reported as FILE:LINE and skipped; a file with no EVE alert at all exits 1.
    Import {
        /// The host every line of these files came from.
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        /// Files of EVE JSON lines.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Delete alerts older than the retention period and give the space back.
    Purge {
        /// Keep this many days [default: the config's `retention.days`, else 30].
        #[arg(long, value_name = "N")]
        days: Option<u32>,
    },
}

/// Filters shared by list, export and stats.
#[derive(Args)]
struct FilterArgs {
    /// From this time on: a duration back from now (30m, 24h, 7d) or a UTC date/time
    /// (2026-11-22, 2026-11-22T10:00:00Z).
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Before this time (same forms; a bare date includes that day).
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,
    /// upload, modification, injection, traversal, recon, brute_force, flood or protocol.
    #[arg(long)]
    category: Option<String>,
    /// A rule name or signature id.
    #[arg(long)]
    rule: Option<String>,
    /// A source address or CIDR network.
    #[arg(long, value_name = "CIDR")]
    src: Option<String>,
    /// Only alerts imported from this host (`flagged import`).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
}

impl FilterArgs {
    fn spec(self, limit: Option<u64>) -> FilterSpec {
        FilterSpec {
            since: self.since,
            until: self.until,
            category: self.category,
            rule: self.rule,
            src: self.src,
            host: self.host,
            limit,
        }
    }
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate rules (and a config); print file:line and a reason per error, exit 1.
    Check {
        /// Rules directory or file (default: the config's `rules:`, else /etc/tamperwatch/rules).
        dir: Option<PathBuf>,
        /// Also validate this configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tamperwatch: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, each cause once: library errors often
/// already quote their source in their own message.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Replay {
            config,
            rules,
            events,
            store,
            stats,
            workers,
            pcaps,
        } => run_replay(&ReplayArgs {
            workers: workers.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                usize::from,
            ),
            stats: stats.as_deref(),
            config: config.as_deref(),
            rules: rules.as_deref(),
            events: events.as_deref(),
            store: store.as_deref(),
            pcaps: &pcaps,
        }),
        Command::Inspect { pcaps } => run_inspect(&pcaps),
        Command::Report {
            stats,
            config,
            from,
            to,
            format,
            output,
        } => {
            let cfg = load_config(config.as_deref())?;
            report_cmd::run_report(
                &report_cmd::ReportArgs {
                    stats,
                    from,
                    to,
                    format,
                    output,
                },
                &cfg,
            )
        }
        Command::Run { config, log_format } => {
            let log_format = match log_format {
                LogFormatArg::Text => daemon::LogFormat::Text,
                LogFormatArg::Json => daemon::LogFormat::Json,
            };
            Ok(daemon::run(&config, daemon::RunOptions { log_format })?)
        }
        Command::Rules {
            command: RulesCommand::Check { dir, config },
        } => run_rules_check(dir.as_deref(), config.as_deref()),
        Command::Flagged {
            store,
            config,
            command,
        } => {
            // An explicit --config is read (and must be valid) even with --store: its
            // `retention.days` is what `purge` keeps.
            let loaded = load_config(config.as_deref())?;
            let retention_days = loaded.retention.days;
            let path = store.unwrap_or_else(|| loaded.store.path.clone());
            if let FlaggedCommand::Import { host, files } = &command {
                return run_import(&path, &loaded, host.as_deref(), files);
            }
            match run_flagged(&path, command, retention_days) {
                Err(e)
                    if e.downcast_ref::<StoreError>()
                        .is_some_and(StoreError::is_broken_pipe) =>
                {
                    Ok(())
                }
                other => other,
            }
        }
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => {
            let config = Config::load(p)?;
            for note in config.deprecations() {
                eprintln!("warning: {}: {note}", p.display());
            }
            Ok(config)
        }
        None => Ok(Config::default()),
    }
}

/// The rules path: flag, then config, then the source tree's rules/, then /etc.
fn rules_path(flag: Option<&Path>, config: &Config) -> PathBuf {
    if let Some(p) = flag.or(config.rules.as_deref()) {
        return p.to_path_buf();
    }
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    if bundled.is_dir() {
        return bundled;
    }
    PathBuf::from(DEFAULT_RULES_DIR)
}

/// What `replay` was asked to do.
struct ReplayArgs<'a> {
    workers: usize,
    stats: Option<&'a Path>,
    config: Option<&'a Path>,
    rules: Option<&'a Path>,
    events: Option<&'a str>,
    store: Option<&'a Path>,
    pcaps: &'a [PathBuf],
}

fn run_replay(args: &ReplayArgs<'_>) -> anyhow::Result<()> {
    let (events, pcaps) = (args.events, args.pcaps);
    let config = load_config(args.config)?;
    let rules_path = rules_path(args.rules, &config);
    let detector = Detector::load(&rules_path, &config, Arc::new(ThresholdTable::default()))?;
    let mut sources = replay::open_all(pcaps)?;
    let mut data_files: Vec<&Path> = Vec::new();
    if let Some(p) = events.filter(|p| *p != "-") {
        data_files.push(Path::new(p));
    }
    if let Some(p) = args.store {
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
    let mut store = match args.store {
        None => None,
        Some(path) => {
            let opened = FlaggedStore::create(path)?.with_address_policy(policy.clone());
            Some(replay::ReplayStore::new(opened))
        }
    };
    let mut stats = match args.stats {
        None => None,
        Some(path) => {
            let db = tamperwatch::sink::stats::db::StatsDb::create(path)?;
            let groups = tamperwatch::sink::metrics::content_group::ContentGroups::new(
                config.policy.content_groups.clone(),
            )?;
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
    let result = replay::replay_sharded(
        &mut sources,
        &PipelineSettings::for_config(&config),
        args.workers,
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
    // With events on stdout, the summary goes to stderr so stdout stays JSON lines.
    let mut report = format!("{summary}");
    report.push_str(&format!(
        "rules loaded       {} from {}\n",
        detector.rule_count(),
        rules_path.display()
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
    if events == Some("-") {
        eprint!("{report}");
    } else {
        print!("{report}");
    }
    Ok(())
}

fn run_inspect(pcaps: &[PathBuf]) -> anyhow::Result<()> {
    let mut sources = replay::open_all(pcaps)?;
    let stdout = std::io::stdout().lock();
    let mut log = InspectLog::new(std::io::BufWriter::new(stdout));
    replay::replay(
        &mut sources,
        PipelineSettings::default(),
        &mut log,
        &mut |_| {},
    )?;
    match log.finish() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing transactions to stdout"),
    }
}

fn run_rules_check(dir: Option<&Path>, config: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let path = rules_path(dir, &config);
    let started = std::time::Instant::now();
    let defs = rules::load(&path)?;
    let count = defs.rules.len();
    if count == 0 {
        return Err(rules::RuleError::Empty { path }.into());
    }
    tamperwatch::detect::ruleset::RuleSet::compile(defs)?;
    println!(
        "{}: {count} rules ok (loaded and compiled in {} ms)",
        path.display(),
        started.elapsed().as_millis()
    );
    if config.crs.enabled {
        let started = std::time::Instant::now();
        let detector = Detector::load(&path, &config, Arc::new(ThresholdTable::default()))?;
        if let Some(crs) = detector.crs() {
            println!(
                "CRS: {} rules ok at paranoia level {} (loaded and compiled in {} ms)",
                crs.rule_count(),
                config.crs.paranoia_level,
                started.elapsed().as_millis()
            );
        } else {
            println!("CRS: not loaded (no crs/ beside the rules; set crs.path)");
        }
    }
    Ok(())
}

fn wall_clock() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
}

fn run_flagged(path: &Path, command: FlaggedCommand, retention_days: u32) -> anyhow::Result<()> {
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::new(stdout);
    // Filters are checked before the store is opened: bad input is reported as such.
    match command {
        FlaggedCommand::List { filters, limit } => {
            let mut f = filters.spec(limit).compile(wall_clock())?;
            let shown = f.limit.unwrap_or(DEFAULT_LIST_LIMIT);
            // One row more than shown tells whether some were left out.
            f.limit = Some(shown.saturating_add(1));
            let mut rows = FlaggedStore::open(path)?.list(&f)?;
            let more = rows.len() as u64 > shown;
            rows.truncate(usize::try_from(shown).unwrap_or(usize::MAX));
            if rows.is_empty() {
                writeln!(out, "no flagged alerts match").map_err(StoreError::Output)?;
            } else {
                report::write_table(&mut out, &rows).map_err(StoreError::Output)?;
            }
            out.flush().map_err(StoreError::Output)?;
            if more {
                eprintln!(
                    "(only the newest {shown} shown: narrow with --since/--until or raise --limit)"
                );
            }
        }
        FlaggedCommand::Show { id, host } => {
            let alert = FlaggedStore::open(path)?.show(id)?;
            if host.is_some() && alert.host != host {
                anyhow::bail!(
                    "flagged store {}: alert {id} was not imported from host {}",
                    path.display(),
                    host.unwrap_or_default()
                );
            }
            report::write_details(&mut out, &alert).map_err(StoreError::Output)?;
            out.flush().map_err(StoreError::Output)?;
        }
        FlaggedCommand::Export {
            filters,
            limit,
            format,
        } => {
            let f = filters.spec(limit).compile(wall_clock())?;
            let format = format.parse::<ExportFormat>().map_err(anyhow::Error::msg)?;
            FlaggedStore::open(path)?.export(&f, format, &mut out)?;
        }
        FlaggedCommand::Stats { filters } => {
            let f = filters.spec(None).compile(wall_clock())?;
            let stats = FlaggedStore::open(path)?.stats(&f)?;
            report::write_stats(&mut out, &stats).map_err(StoreError::Output)?;
            out.flush().map_err(StoreError::Output)?;
        }
        // Handled by `run_import` before the store is opened here.
        FlaggedCommand::Import { .. } => {}
        FlaggedCommand::Purge { days } => {
            let days = days.unwrap_or(retention_days);
            let mut store = FlaggedStore::open(path)?;
            let before = store.disk_bytes();
            let purged = store.purge_older_than(wall_clock(), days)?;
            let after = store.disk_bytes();
            writeln!(
                out,
                "purged {purged} alerts older than {days} days; {}: {before} -> {after} bytes",
                path.display()
            )
            .map_err(StoreError::Output)?;
            out.flush().map_err(StoreError::Output)?;
        }
    }
    Ok(())
}

/// `flagged import`: every file, one summary line each on stdout, bad lines on stderr
/// as FILE:LINE. A file that cannot be imported (unreadable, not EVE) is named and
/// skipped, and the exit is 1 once all files are done.
fn run_import(
    path: &Path,
    config: &Config,
    host: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    // Imported lines follow the same address policy as local alerts.
    let policy = tamperwatch::sink::privacy::address_policy(config, &[path])?;
    let mut store = FlaggedStore::create(path)?.with_address_policy(policy);
    let mut failed = Vec::new();
    for file in files {
        match store.import_file(file, host) {
            Ok(r) => {
                for (line, reason) in &r.bad_lines {
                    eprintln!("{}:{line}: {reason}", file.display());
                }
                let unnamed = r.bad.saturating_sub(r.bad_lines.len() as u64);
                if unnamed > 0 {
                    eprintln!("{}: and {unnamed} more bad lines", file.display());
                }
                let tail = if r.incomplete_tail {
                    ", last line incomplete (left for the next import)"
                } else {
                    ""
                };
                println!(
                    "{}: {} lines: {} imported, {} already stored, {} bad, {} trimmed{tail}",
                    file.display(),
                    r.lines,
                    r.imported,
                    r.duplicates,
                    r.bad,
                    r.trimmed
                );
            }
            Err(ImportError::Store(e)) => return Err(e.into()),
            Err(e) => {
                eprintln!("tamperwatch: {e}");
                failed.push(file.display().to_string());
            }
        }
    }
    store.close()?;
    if !failed.is_empty() {
        anyhow::bail!("not imported: {}", failed.join(", "));
    }
    Ok(())
}

/// A progress bar on stderr for long replays, only when stderr is a terminal.
fn progress_bar(total_bytes: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() || total_bytes < 64 << 20 {
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
