//! The subcommands of the `tamperwatch` binary, one file each: their clap flags and
//! the work they do with the library. What several commands share (loading the
//! configuration, finding the rules, the wall clock, the one-line error) is here.

pub mod flagged;
mod import;
pub mod inspect;
pub mod replay;
pub mod report;
pub mod rules;
pub mod run;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tamperwatch::config::{Config, DEFAULT_RULES_DIR};
use tamperwatch::time::Timestamp;

/// The error and its causes on one line, each cause once: library errors often
/// already quote their source in their own message.
pub fn one_line(e: &anyhow::Error) -> String {
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

/// The configuration at `path` (deprecation notes on stderr), or the defaults.
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

/// Now, for the store commands' relative times and retention (never used by a stage).
fn wall_clock() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
}
