//! CRS engine cost per transaction over a capture, without the rest of the pipeline.
//!
//! `cargo run --release --example crs_pcap PCAP [CRS_DIR] [PL] [ROUNDS]`
//! (`CRS_EXCLUDE=920450,920440` excludes rules by id: what they cost is the
//! difference). The capture's
//! HTTP transactions are collected once (decode, reassembly, HTTP), then each round
//! evaluates all of them in capture order with a fresh scratch (a cold memo, as one
//! replay worker has) and reports the thread CPU time per transaction, plus the costliest
//! shapes of request (wall time in the first round, as schedstat is updated only at
//! scheduler ticks). A measuring tool, not a test: it asserts nothing. It is far less
//! noisy than the paired replays of `scripts/bench-crs.sh` (GNU time counts 10 ms steps),
//! so it is the one to use when comparing two versions of the engine.

use std::path::Path;

use tamperwatch::capture::FileSource;
use tamperwatch::detect::crs::{CrsEngine, CrsScratch, CrsSettings};
use tamperwatch::http::HttpTransaction;
use tamperwatch::observe::TransactionObserver;
use tamperwatch::pipeline::{Pipeline, PipelineSettings};

/// Keeps every finished transaction.
#[derive(Default)]
struct Keep(Vec<HttpTransaction>);

impl TransactionObserver for Keep {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        self.0.push(txn.clone());
    }
    fn take_transaction(&mut self, txn: HttpTransaction) {
        self.0.push(txn);
    }
}

/// CPU time this thread has run, in ns (Linux schedstat).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A coarse shape of a request, to see where the time goes.
fn shape(t: &HttpTransaction) -> String {
    let Some(r) = &t.request else {
        return "no request".into();
    };
    let query = if r.uri.contains('?') { "+query" } else { "" };
    let cookie = if r
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("cookie"))
    {
        "+cookie"
    } else {
        ""
    };
    let body = if t.body_prefix.is_empty() {
        ""
    } else {
        "+body"
    };
    format!("{}{query}{cookie}{body}", r.method)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pcap = args
        .next()
        .unwrap_or_else(|| "bench-data/bench.pcap".into());
    let dir = args.next().unwrap_or_else(|| "rules/crs".into());
    let pl: u8 = args.next().and_then(|p| p.parse().ok()).unwrap_or(1);
    let rounds: usize = args.next().and_then(|p| p.parse().ok()).unwrap_or(5);
    let mut source = match FileSource::open(Path::new(&pcap)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut pipeline = Pipeline::new(PipelineSettings::default());
    let mut keep = Keep::default();
    if let Err(e) = pipeline.run_source(&mut source, &mut keep, &mut |_| {}) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    pipeline.finish(&mut keep);
    let txns = keep.0;
    let mut s = CrsSettings::new(&dir);
    s.paranoia_level = pl;
    s.detection_paranoia_level = pl;
    if let Ok(ids) = std::env::var("CRS_EXCLUDE") {
        for id in ids.split(',').filter_map(|x| x.parse().ok()) {
            s.exclusions.push(tamperwatch::detect::crs::CrsExclusion {
                id: Some(id),
                tag: None,
                target: None,
            });
        }
    }
    let engine = match CrsEngine::load(&s) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("{pcap}: {} transactions, PL{pl}", txns.len());
    let mut per_round = Vec::new();
    let mut by_shape: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut score_sum = 0u64;
    for round in 0..rounds {
        let mut scratch = CrsScratch::default();
        let start = cpu_ns();
        let mut scores = 0u64;
        for t in &txns {
            let c0 = std::time::Instant::now();
            scores += u64::from(engine.evaluate(t, &mut scratch).score);
            if round == 0 {
                let e = by_shape.entry(shape(t)).or_default();
                e.0 += 1;
                e.1 += c0.elapsed().as_nanos() as u64;
            }
        }
        let us = (cpu_ns() - start) as f64 / 1e3 / txns.len().max(1) as f64;
        score_sum = scores;
        if round > 0 {
            per_round.push(us);
        }
        println!("round {round}: {us:.2} µs CPU/txn");
    }
    per_round.sort_by(f64::total_cmp);
    if let Some(m) = per_round.get(per_round.len() / 2) {
        println!("median of timed rounds (the first, which also times shapes, left out): {m:.2} µs CPU/txn");
    }
    println!("score sum {score_sum}");
    for (shape, (n, ns)) in by_shape {
        println!(
            "  {shape:24} {n:6} txns {:8.2} µs each",
            ns as f64 / 1e3 / n as f64
        );
    }
}
