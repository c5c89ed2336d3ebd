//! Shared by the CRS harness tests: find the bundled CRS, replay a capture through the
//! real pipeline and evaluate every transaction with a CRS engine.
//!
//! Outcomes are grouped by the client's TCP port, which is how the capture generators
//! (`scripts/make-crs-ftw-pcap.py`, `scripts/make-city-corpus.py`) tell requests apart.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tamperwatch::capture::FileSource;
use tamperwatch::detect::crs::{CrsEngine, CrsOutcome, CrsScratch, CrsSettings};
use tamperwatch::http::HttpTransaction;
use tamperwatch::pipeline::{Pipeline, PipelineSettings, TransactionObserver};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The CRS directory the tests load: `TAMPERWATCH_CRS_DIR`, else the bundled copy.
/// `None` (with a printed reason) when there is none and CI is not set; panics under CI.
pub fn crs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TAMPERWATCH_CRS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("rules/crs"));
    if dir.join("rules").is_dir() {
        return Some(dir);
    }
    let msg = format!("no CRS directory at {} (rules/ missing)", dir.display());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("SKIP: {msg}");
    None
}

/// What one connection (client port) produced.
#[derive(Debug, Default)]
pub struct PortResult {
    /// Transactions with a request seen on this connection.
    pub requests: usize,
    /// Union of the logged rule ids matched in any of them.
    pub ids: Vec<u32>,
    /// The highest inbound score of a transaction on this connection.
    pub max_score: u32,
    /// Transactions whose score reached the threshold.
    pub flagged: usize,
}

/// One evaluated transaction: its client port, method, path (no query) and outcome.
#[derive(Debug)]
pub struct Seen {
    pub port: u16,
    pub method: String,
    pub path: String,
    pub outcome: CrsOutcome,
}

struct Collect<'a> {
    engine: &'a CrsEngine,
    scratch: CrsScratch,
    by_port: HashMap<u16, PortResult>,
    outcomes: Vec<Seen>,
    keep_outcomes: bool,
}

impl TransactionObserver for Collect<'_> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        if txn.request.is_none() {
            return;
        }
        let out = self.engine.evaluate(txn, &mut self.scratch);
        let port = txn.client.port();
        let r = self.by_port.entry(port).or_default();
        r.requests += 1;
        for id in out.matched_ids() {
            if !r.ids.contains(&id) {
                r.ids.push(id);
            }
        }
        r.max_score = r.max_score.max(out.score);
        if out.flagged() {
            r.flagged += 1;
        }
        if self.keep_outcomes {
            let (method, path) = match &txn.request {
                Some(r) => (
                    r.method.clone(),
                    r.uri.split('?').next().unwrap_or("").to_string(),
                ),
                None => (String::new(), String::new()),
            };
            self.outcomes.push(Seen {
                port,
                method,
                path,
                outcome: out,
            });
        }
    }
}

/// Loads the CRS with `settings`.
pub fn load(settings: &CrsSettings) -> CrsEngine {
    match CrsEngine::load(settings) {
        Ok(e) => e,
        Err(e) => panic!("CRS at {} does not load: {e}", settings.path.display()),
    }
}

/// Replays `pcap` through a pipeline and the engine; results per client port, and
/// (when `keep_outcomes`) every outcome in order.
pub fn replay(
    pcap: &Path,
    engine: &CrsEngine,
    keep_outcomes: bool,
) -> (HashMap<u16, PortResult>, Vec<Seen>) {
    let mut source = match FileSource::open(pcap) {
        Ok(s) => s,
        Err(e) => panic!("{}: {e}", pcap.display()),
    };
    let mut observer = Collect {
        engine,
        scratch: CrsScratch::default(),
        by_port: HashMap::new(),
        outcomes: Vec::new(),
        keep_outcomes,
    };
    let mut pipeline = Pipeline::new(PipelineSettings::default());
    if let Err(e) = pipeline.run_source(&mut source, &mut observer, &mut |_| {}) {
        panic!("{}: {e}", pcap.display());
    }
    pipeline.finish(&mut observer);
    (observer.by_port, observer.outcomes)
}
