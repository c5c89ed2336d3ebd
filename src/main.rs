//! The `tamperwatch` command line: parses arguments and calls the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use tamperwatch::pipeline::{NullObserver, PipelineSettings};
use tamperwatch::replay;
use tamperwatch::sink::inspect::InspectLog;
use tamperwatch::sink::store::report::{self, DEFAULT_LIST_LIMIT};
use tamperwatch::sink::store::{
    ExportFormat, FilterSpec, FlaggedStore, StoreError, DEFAULT_RETENTION_DAYS, DEFAULT_STORE_PATH,
};
use tamperwatch::time::Timestamp;

/// Passive monitor for a public website: flags unauthorized attempts to upload or change
/// content, keeps only flagged flows' metadata, and exports anonymous statistics.
#[derive(Parser)]
#[command(name = "tamperwatch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay capture files through the full pipeline and print a summary.
    ///
    /// Time comes from packet timestamps, so a replay is deterministic.
    Replay {
        /// pcap or pcapng files, processed in order as one capture.
        #[arg(required = true)]
        pcaps: Vec<PathBuf>,
    },
    /// Print the HTTP transactions in capture files as JSON lines (Zeek http.log names).
    Inspect {
        /// pcap or pcapng files, processed in order as one capture.
        #[arg(required = true)]
        pcaps: Vec<PathBuf>,
    },
    /// Query and maintain the flagged store (alerts kept for the retention period).
    Flagged {
        /// The store to read.
        #[arg(long, value_name = "DB", global = true, default_value = DEFAULT_STORE_PATH)]
        store: PathBuf,
        #[command(subcommand)]
        command: FlaggedCommand,
    },
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
    /// Delete alerts older than the retention period and give the space back.
    Purge {
        /// Keep this many days.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_RETENTION_DAYS)]
        days: u32,
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
}

impl FilterArgs {
    fn spec(self, limit: Option<u64>) -> FilterSpec {
        FilterSpec {
            since: self.since,
            until: self.until,
            category: self.category,
            rule: self.rule,
            src: self.src,
            limit,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tamperwatch: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Replay { pcaps } => run_replay(&pcaps),
        Command::Inspect { pcaps } => run_inspect(&pcaps),
        Command::Flagged { store, command } => match run_flagged(&store, command) {
            Err(e)
                if e.downcast_ref::<StoreError>()
                    .is_some_and(StoreError::is_broken_pipe) =>
            {
                Ok(())
            }
            other => other,
        },
    }
}

fn run_replay(pcaps: &[PathBuf]) -> anyhow::Result<()> {
    let mut sources = replay::open_all(pcaps)?;
    let total: u64 = sources.iter().map(|s| s.file_bytes).sum();
    let bar = progress_bar(total);
    let mut progress = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n)
        }
    };
    let summary = replay::replay(
        &mut sources,
        PipelineSettings::default(),
        &mut NullObserver,
        &mut progress,
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print!("{summary}");
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

/// The wall clock, read here at the edge only; the library is handed `now`.
fn wall_clock() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
}

fn run_flagged(path: &Path, command: FlaggedCommand) -> anyhow::Result<()> {
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
        FlaggedCommand::Show { id } => {
            let alert = FlaggedStore::open(path)?.show(id)?;
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
        FlaggedCommand::Purge { days } => {
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
