//! `tamperwatch report`: the publishable usage report from the statistics database.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tamperwatch::sink::stats::db::{day_text, today, StatsDb};
use tamperwatch::sink::stats::report;

/// Days in the default period (the last 30 days up to today).
const DEFAULT_PERIOD_DAYS: i64 = 30;

/// Output formats of `report`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Json,
    Csv,
}

/// The flags of `report`.
#[derive(clap::Args)]
pub struct ReportArgs {
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
    format: ReportFormat,
    /// Write to FILE (mode 0600) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Checks `YYYY-MM-DD` and returns it normalised.
fn parse_date(flag: &str, text: &str) -> anyhow::Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(text, format) {
        Ok(d) => Ok(d.to_string()),
        Err(_) => bail!("{flag} {text:?}: not a date (YYYY-MM-DD)"),
    }
}

/// Runs `report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let config = super::load_config(args.config.as_deref())?;
    let path: &Path = args.stats.as_deref().unwrap_or(&config.stats.path);
    let to = match &args.to {
        Some(t) => parse_date("--to", t)?,
        None => day_text(today()),
    };
    let from = match &args.from {
        Some(f) => parse_date("--from", f)?,
        None => day_text(today() - DEFAULT_PERIOD_DAYS + 1),
    };
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    let db = StatsDb::open_read_only(path)?;
    let rows = db.rows(&from, &to)?;
    let r = report::build(&rows, &from, &to, config.stats.min_count);
    let text = match args.format {
        ReportFormat::Html => report::to_html(&r),
        ReportFormat::Json => report::to_json(&r),
        ReportFormat::Csv => report::to_csv(&r),
    };
    match &args.output {
        Some(out) => {
            let mut f = tamperwatch::sink::privacy::create_private(out)
                .with_context(|| format!("report output {}", out.display()))?;
            f.write_all(text.as_bytes())
                .with_context(|| format!("report output {}", out.display()))?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .context("writing the report")?;
        }
    }
    Ok(())
}
