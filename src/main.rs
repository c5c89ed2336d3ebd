//! The `tamperwatch` command line: parses the arguments, hands the command to its
//! module in `cli/`, and turns the outcome into an exit code (0 ok, 1 bad input or
//! configuration with a one-line reason, 2 usage, which clap prints itself).

mod cli;

/// mimalloc: faster than glibc malloc for the many small, short-lived allocations of
/// short flows (measured in benches/README.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

/// The subcommands; each one's flags and work live in `cli/<command>.rs`.
#[derive(Subcommand)]
enum Command {
    /// Replay capture files through detection; print flagged events and a summary.
    ///
    /// Time comes from packet timestamps, so the same captures and rules always give
    /// byte-identical events. Files are processed in order, as one capture.
    Replay(cli::replay::ReplayArgs),
    /// Print the HTTP transactions in capture files as JSON lines (Zeek http.log names).
    ///
    /// A FORENSIC tool for a capture you own: it prints EVERYTHING in the capture, for
    /// every client, flagged or not (addresses, full URLs with query values, user
    /// agents, referrers, file names). It ignores `privacy:`; its output is as sensitive
    /// as the capture itself. Never run it on the live site's traffic to make records.
    Inspect(cli::inspect::InspectArgs),
    /// The anonymous usage report a city can publish, from the statistics database.
    ///
    /// One self-contained HTML page (inline CSS and SVG; no scripts or external
    /// resources), JSON or CSV. Every count below `stats.min_count` (default 10) is shown
    /// as `<10`. Days are UTC; the default period is the last 30 days.
    Report(cli::report::ReportArgs),
    /// Monitor a live interface: flag attacks, serve metrics, until SIGTERM.
    ///
    /// SIGHUP reloads rules and policy (a bad reload keeps the old rules) and reopens
    /// the events file; SIGTERM or SIGINT drains open flows and exits 0. Start-up
    /// problems (config, rules, interface, permission, filter, metrics port) print one
    /// line and exit 1 before anything runs.
    Run(cli::run::RunArgs),
    /// Query and maintain the flagged store (alerts kept for the retention period).
    Flagged(cli::flagged::FlaggedArgs),
    /// Rule set commands.
    Rules(cli::rules::RulesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Replay(args) => cli::replay::run(&args),
        Command::Inspect(args) => cli::inspect::run(&args),
        Command::Report(args) => cli::report::run(&args),
        Command::Run(args) => cli::run::run(&args),
        Command::Flagged(args) => cli::flagged::run(args),
        Command::Rules(args) => cli::rules::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tamperwatch: {}", cli::one_line(&e));
            ExitCode::from(1)
        }
    }
}
