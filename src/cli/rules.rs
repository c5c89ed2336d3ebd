//! `tamperwatch rules check`: validates a rule set (and a configuration) the way the
//! daemon would load it, so systemd's `ExecStartPre` catches what `run` would reject.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use tamperwatch::detect::threshold::ThresholdTable;
use tamperwatch::detect::{rules, Detector};

/// The flags of `rules`.
#[derive(Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

/// The `rules` subcommands.
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

/// Runs a `rules` subcommand.
pub fn run(args: &RulesArgs) -> anyhow::Result<()> {
    let RulesCommand::Check { dir, config } = &args.command;
    let config = super::load_config(config.as_deref())?;
    let path = super::rules_path(dir.as_deref(), &config);
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
    // The detector as `run` builds it (policy, CRS): what passes here starts there.
    let started = std::time::Instant::now();
    let detector = Detector::load(&path, &config, Arc::new(ThresholdTable::default()))?;
    if config.crs.enabled {
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
