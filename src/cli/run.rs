//! `tamperwatch run`: the live daemon (see `daemon`), with its log format.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use tamperwatch::daemon;

/// Where the packaged service reads its configuration.
const DEFAULT_CONFIG: &str = "/etc/tamperwatch/tamperwatch.yaml";

/// The flags of `run`.
#[derive(Args)]
pub struct RunArgs {
    /// Site policy and settings (YAML).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Log lines on stderr as readable text or JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    log_format: LogFormatArg,
}

/// `--log-format` values.
#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

/// Runs the daemon until SIGTERM; start-up problems come back as one error.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let log_format = match args.log_format {
        LogFormatArg::Text => daemon::LogFormat::Text,
        LogFormatArg::Json => daemon::LogFormat::Json,
    };
    Ok(daemon::run(
        &args.config,
        daemon::RunOptions { log_format },
    )?)
}
