//! `tamperwatch flagged import`: EVE lines from other hosts into this host's flagged
//! store, one summary line per file on stdout and each bad line as FILE:LINE on stderr.

use std::path::{Path, PathBuf};

use tamperwatch::config::Config;
use tamperwatch::sink::store::{FlaggedStore, ImportError};

/// Imports every file; a file that cannot be imported (unreadable, not EVE) is named
/// and skipped, and the exit is 1 once all files are done.
pub(super) fn run(
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
