//! The `tamperwatch` command line: parses arguments and calls the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use tamperwatch::pipeline::{NullObserver, PipelineSettings};
use tamperwatch::replay;
use tamperwatch::sink::inspect::InspectLog;

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
