//! `tamperwatch flagged`: query and maintain the flagged store (list, show, export,
//! stats, import, purge). Filters are checked before the store is opened, so bad input
//! is reported as such; a closed stdout (`| head`) ends a listing quietly.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use tamperwatch::sink::store::report::{self, DEFAULT_LIST_LIMIT};
use tamperwatch::sink::store::{ExportFormat, FilterSpec, FlaggedStore, StoreError};

/// The flags of `flagged`.
#[derive(Args)]
pub struct FlaggedArgs {
    /// The store to read (default: the config's `store.path`).
    #[arg(long, value_name = "DB", global = true)]
    store: Option<PathBuf>,
    /// Configuration whose `store.path` names the store.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: FlaggedCommand,
}

/// The `flagged` subcommands.
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
    /// The store's filter, not yet checked.
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

/// Runs a `flagged` subcommand.
pub fn run(args: FlaggedArgs) -> anyhow::Result<()> {
    // An explicit --config is read (and must be valid) even with --store: its
    // `retention.days` is what `purge` keeps.
    let loaded = super::load_config(args.config.as_deref())?;
    let retention_days = loaded.retention.days;
    let path = args.store.unwrap_or_else(|| loaded.store.path.clone());
    if let FlaggedCommand::Import { host, files } = &args.command {
        return super::import::run(&path, &loaded, host.as_deref(), files);
    }
    match query(&path, args.command, retention_days) {
        Err(e)
            if e.downcast_ref::<StoreError>()
                .is_some_and(StoreError::is_broken_pipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The store commands other than `import`.
fn query(path: &Path, command: FlaggedCommand, retention_days: u32) -> anyhow::Result<()> {
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::new(stdout);
    let now = super::wall_clock();
    match command {
        FlaggedCommand::List { filters, limit } => {
            let mut f = filters.spec(limit).compile(now)?;
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
            let f = filters.spec(limit).compile(now)?;
            let format = format.parse::<ExportFormat>().map_err(anyhow::Error::msg)?;
            FlaggedStore::open(path)?.export(&f, format, &mut out)?;
        }
        FlaggedCommand::Stats { filters } => {
            let f = filters.spec(None).compile(now)?;
            let stats = FlaggedStore::open(path)?.stats(&f)?;
            report::write_stats(&mut out, &stats).map_err(StoreError::Output)?;
            out.flush().map_err(StoreError::Output)?;
        }
        // Handled by `import::run` before the store is opened here.
        FlaggedCommand::Import { .. } => {}
        FlaggedCommand::Purge { days } => {
            let days = days.unwrap_or(retention_days);
            let mut store = FlaggedStore::open(path)?;
            let before = store.disk_bytes();
            let purged = store.purge_older_than(now, days)?;
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
