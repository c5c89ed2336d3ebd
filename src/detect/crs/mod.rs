//! The OWASP Core Rule Set, evaluated natively: a SecLang engine for the request phases.
//!
//! [`CrsEngine::load`] reads a CRS v4 directory ([`load`]: `crs-setup.conf`, the
//! operator's `REQUEST-900`/`RESPONSE-999` exclusion files and `rules/REQUEST-*.conf`,
//! with their `.data` lists), parses SecLang ([`parse`]) into rules ([`model`]) and
//! compiles every regex and phrase list once. [`CrsEngine::evaluate`] runs phases 1 and 2
//! over one [`HttpTransaction`]: [`collections`] and [`bodyproc`] build the variables,
//! [`eval`] walks the rules (chains, setvar, skipAfter, ctl, capture) with
//! [`operator`]s over [`transform`]ed values cached per transaction, and the outcome is
//! the inbound anomaly score with every rule that matched. Nothing here writes a value
//! anywhere: the outcome carries rule ids and a capped matched token only.

pub mod bodyproc;
pub mod collections;
pub mod compile;
pub mod eval;
pub mod injection;
pub mod load;
pub mod model;
pub mod operator;
pub mod parse;
pub mod pcre;
pub mod literals;
pub mod prefilter;
pub mod transform;
pub mod validate;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::http::HttpTransaction;

pub use eval::CrsScratch;

/// Values longer than this are cut before transformations (counted), so hostile input
/// cannot make a rule cost more than a bounded, linear amount.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Request body bytes parsed into ARGS_POST / REQUEST_BODY at most.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Arguments (query + body + JSON leaves) kept per transaction at most (counted).
pub const MAX_ARGS: usize = 512;

/// Why the CRS could not be loaded. Every parse error names `file:line`.
#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error("{file}:{line}: {reason}")]
    Parse {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Settings(String),
}

/// One operator exclusion: silence a rule, a tag, or one target of a rule or tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrsExclusion {
    /// A rule id (e.g. 942100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// A rule tag (e.g. `attack-sqli`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// A target to drop from the rule(s) instead of the whole rule (e.g. `ARGS:q`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// How to load the CRS: where it is, paranoia levels, threshold, `tx.*` overrides.
#[derive(Debug, Clone)]
pub struct CrsSettings {
    /// A CRS v4 directory (holding `rules/` and `crs-setup.conf(.example)`).
    pub path: PathBuf,
    /// Blocking paranoia level 1-4 (scores from rules up to this level count).
    pub paranoia_level: u8,
    /// Detection paranoia level (rules up to this level run); at least the blocking one.
    pub detection_paranoia_level: u8,
    /// Inbound anomaly score at which a transaction is flagged.
    pub inbound_threshold: u32,
    /// Extra `tx.name=value` settings, as crs-setup.conf's SecAction 900xxx would set.
    pub tx_overrides: Vec<(String, String)>,
    /// Operator exclusions.
    pub exclusions: Vec<CrsExclusion>,
}

impl CrsSettings {
    /// The defaults: paranoia level 1, threshold 5.
    pub fn new(path: impl Into<PathBuf>) -> CrsSettings {
        CrsSettings {
            path: path.into(),
            paranoia_level: 1,
            detection_paranoia_level: 1,
            inbound_threshold: 5,
            tx_overrides: Vec::new(),
            exclusions: Vec::new(),
        }
    }

    /// The settings CRS's own CI runs its regression tests with: paranoia level 4 and
    /// the argument and file size limits of its docker-compose file.
    pub fn ci(path: impl Into<PathBuf>) -> CrsSettings {
        let mut s = CrsSettings::new(path);
        s.paranoia_level = 4;
        s.detection_paranoia_level = 4;
        s.tx_overrides = [
            ("arg_length", "400"),
            ("total_arg_length", "6400"),
            ("max_file_size", "64100"),
            ("combined_file_sizes", "65535"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        s
    }
}

/// One rule that matched in a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrsMatch {
    pub id: u32,
    /// Paranoia level from the rule's `paranoia-level/N` tag (1 when untagged).
    pub paranoia_level: u8,
    /// 2 critical, 3 error, 4 warning, 5 notice (ModSecurity's numbers); 9 when unset.
    pub severity: u8,
    /// Inbound anomaly points this rule added (0 for bookkeeping rules).
    pub score: u32,
    /// The matched token (at most [`crate::detect::alert::MAX_EVIDENCE_BYTES`]).
    pub evidence: Vec<u8>,
    /// False for `nolog` rules (initialization, bookkeeping).
    pub logged: bool,
}

/// What the CRS made of one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrsOutcome {
    /// The blocking inbound anomaly score (sum of scores up to the blocking level).
    pub score: u32,
    /// The threshold in force (tx.inbound_anomaly_score_threshold).
    pub threshold: u32,
    /// Every rule that matched, in evaluation order.
    pub matched: Vec<CrsMatch>,
}

impl CrsOutcome {
    /// Ids of the logged rules that matched (what go-ftw looks for in a log).
    pub fn matched_ids(&self) -> Vec<u32> {
        self.matched
            .iter()
            .filter(|m| m.logged)
            .map(|m| m.id)
            .collect()
    }

    /// Whether the score reached the threshold.
    pub fn flagged(&self) -> bool {
        self.threshold > 0 && self.score >= self.threshold
    }
}

/// Counters a running engine keeps, one per cap so an operator sees which limit bites
/// (read through [`CrsEngine::stats`] by metrics).
#[derive(Debug, Default)]
pub struct CrsStats {
    /// Every cap below, summed.
    pub caps_hit: AtomicU64,
    /// Names or values cut at [`MAX_VALUE_BYTES`] before transformations.
    pub values_cut: AtomicU64,
    /// Arguments dropped past [`MAX_ARGS`].
    pub args_dropped: AtomicU64,
    /// Request bodies cut at [`MAX_BODY_BYTES`] or with bytes the capture did not hold.
    pub bodies_cut: AtomicU64,
    /// Values transformed again because the per-transaction cache of transformed values
    /// was full (4 MiB).
    pub transform_cache_full: AtomicU64,
    /// Rule matches not recorded because a transaction had 256 already.
    pub matches_dropped: AtomicU64,
    /// Times a worker's memo of values rules did not match (16,384 values) or its table
    /// of TX names (4,096) was full and started over.
    pub memo_resets: AtomicU64,
    /// Transactions whose body did not parse (REQBODY_ERROR, e.g. JSON deeper than 64).
    pub eval_errors: AtomicU64,
    /// Transactions evaluated.
    pub evaluated: AtomicU64,
}

/// A copy of [`CrsStats`] at one moment, in plain numbers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CrsStatsSnapshot {
    pub caps_hit: u64,
    pub values_cut: u64,
    pub args_dropped: u64,
    pub bodies_cut: u64,
    pub transform_cache_full: u64,
    pub matches_dropped: u64,
    pub memo_resets: u64,
    pub eval_errors: u64,
    pub evaluated: u64,
}

impl CrsStats {
    /// Adds one transaction's caps.
    pub(crate) fn record(
        &self,
        caps: collections::CapCounts,
        uncached: u64,
        matches_dropped: u64,
        memo_resets: u64,
        body_error: bool,
    ) {
        let add = |c: &AtomicU64, n: u64| {
            if n > 0 {
                c.fetch_add(n, Ordering::Relaxed);
            }
        };
        add(&self.values_cut, caps.values_cut);
        add(&self.args_dropped, caps.args_dropped);
        add(&self.bodies_cut, caps.body_cut);
        add(&self.transform_cache_full, uncached);
        add(&self.matches_dropped, matches_dropped);
        add(&self.memo_resets, memo_resets);
        add(&self.eval_errors, u64::from(body_error));
        add(
            &self.caps_hit,
            caps.total() + uncached + matches_dropped + memo_resets,
        );
    }

    /// The counters now.
    pub fn snapshot(&self) -> CrsStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CrsStatsSnapshot {
            caps_hit: get(&self.caps_hit),
            values_cut: get(&self.values_cut),
            args_dropped: get(&self.args_dropped),
            bodies_cut: get(&self.bodies_cut),
            transform_cache_full: get(&self.transform_cache_full),
            matches_dropped: get(&self.matches_dropped),
            memo_resets: get(&self.memo_resets),
            eval_errors: get(&self.eval_errors),
            evaluated: get(&self.evaluated),
        }
    }
}

/// A loaded, compiled CRS ready to evaluate transactions from many threads.
#[derive(Debug)]
pub struct CrsEngine {
    pub(crate) program: eval::Program,
    /// Counters.
    pub stats: CrsStats,
}

impl CrsEngine {
    /// Loads and compiles the CRS described by `settings`.
    pub fn load(settings: &CrsSettings) -> Result<CrsEngine, CrsError> {
        let rules = load::load(settings)?;
        let program = eval::Program::compile(rules, settings)?;
        Ok(CrsEngine {
            program,
            stats: CrsStats::default(),
        })
    }

    /// The engine's counters (caps hit by kind, transactions evaluated).
    pub fn stats(&self) -> CrsStatsSnapshot {
        self.stats.snapshot()
    }

    /// Number of rules (chain starters) compiled.
    pub fn rule_count(&self) -> usize {
        self.program.rule_count()
    }

    /// Rule links with an operator, links gated by literals, and distinct gate literals:
    /// how much of the rule set the literal prefilter can skip (for timing reports).
    pub fn gate_counts(&self) -> (usize, usize, usize) {
        self.program.gate_counts()
    }

    /// Rules whose outcome is fixed at load (never match, always match): the
    /// paranoia-level guards folded away (for timing reports).
    pub fn folded_counts(&self) -> (usize, usize) {
        self.program.folded_counts()
    }

    /// The `msg` of rule `id`, if it has one.
    pub fn rule_msg(&self, id: u32) -> Option<&str> {
        self.program.rule_msg(id)
    }

    /// Runs phases 1 and 2 over `txn` (which must carry a request; an empty outcome
    /// otherwise). `scratch` is reused between calls to avoid allocating.
    /// Hand the outcome back with [`CrsScratch::recycle`] to reuse its buffers.
    pub fn evaluate(&self, txn: &HttpTransaction, scratch: &mut CrsScratch) -> CrsOutcome {
        let mut out = CrsOutcome {
            matched: scratch.take_matched(),
            ..CrsOutcome::default()
        };
        if txn.request.is_none() {
            return out;
        }
        self.stats.evaluated.fetch_add(1, Ordering::Relaxed);
        self.program.run(txn, scratch, &mut out, &self.stats);
        out
    }
}

#[cfg(test)]
mod speed_tests;
#[cfg(test)]
mod setvar_tests;
#[cfg(test)]
pub(crate) mod tests;
