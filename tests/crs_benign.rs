//! CRS precision on ordinary city-website traffic: `pcaps/precision/city-corpus.pcap`
//! (made by `scripts/make-city-corpus.py` with requests, http.client, curl and wget:
//! searches with SQL-ish English, messages in six languages, pasted code, CMS and
//! analytics cookies, JSON API calls, special-character passwords, permit uploads)
//! through the pipeline and the bundled CRS at paranoia levels 1-4, default settings
//! otherwise. A false alarm is a transaction whose inbound score reaches the threshold
//! (5). Prints false alarms per 1,000 requests per level and which rules caused them;
//! asserts the default (PL1) stays under 1% (10 per 1,000).

mod crs_common;

use std::collections::BTreeMap;

use std::sync::Arc;

use tamperwatch::capture::FileSource;
use tamperwatch::config::Config;
use tamperwatch::detect::crs::CrsSettings;
use tamperwatch::detect::threshold::ThresholdTable;
use tamperwatch::detect::Detector;
use tamperwatch::http::HttpTransaction;
use tamperwatch::pipeline::{Pipeline, PipelineSettings, TransactionObserver};

/// The default configuration must stay under 1% false alarms.
const MAX_DEFAULT_FALSE_ALARMS_PER_1000: f64 = 10.0;
/// The corpus has this many requests at least (scripts/make-city-corpus.py).
const MIN_CORPUS_REQUESTS: usize = 1000;

/// False alarms per paranoia level: `(level, requests, alarms)`, printed as it goes.
fn measure(dir: &std::path::Path) -> Vec<(u8, usize, usize)> {
    let pcap = crs_common::repo().join("pcaps/precision/city-corpus.pcap");
    let verbose = std::env::var_os("CRS_BENIGN_VERBOSE").is_some();
    let mut rows = Vec::new();
    println!("CRS false alarms on the benign city corpus (threshold 5):");
    println!(
        "{:<4} {:>9} {:>8} {:>10}",
        "PL", "requests", "alarms", "per 1,000"
    );
    for pl in 1..=4u8 {
        let mut settings = CrsSettings::new(dir);
        settings.paranoia_level = pl;
        settings.detection_paranoia_level = pl;
        let engine = crs_common::load(&settings);
        let (_, outcomes) = crs_common::replay(&pcap, &engine, true);
        let requests = outcomes.len();
        let mut alarms = 0usize;
        // Rule id -> flagged transactions it scored in.
        let mut causes: BTreeMap<u32, usize> = BTreeMap::new();
        for seen in &outcomes {
            let out = &seen.outcome;
            if !out.flagged() {
                continue;
            }
            alarms += 1;
            let scoring = out.matched.iter().filter(|m| m.score > 0);
            if verbose && pl == 1 {
                // Method, path and rule ids only: never a value.
                let rules: Vec<String> = scoring
                    .clone()
                    .map(|m| format!("{}(+{})", m.id, m.score))
                    .collect();
                println!(
                    "ALARM pl{pl} {} {} score {} {}",
                    seen.method,
                    seen.path,
                    out.score,
                    rules.join(" ")
                );
            }
            for m in scoring {
                *causes.entry(m.id).or_default() += 1;
            }
        }
        let rate = per_1000(alarms, requests);
        println!("{pl:<4} {requests:>9} {alarms:>8} {rate:>10.1}");
        println!("CRS-BENIGN pl={pl} requests={requests} alarms={alarms} per_1000={rate:.1}");
        let mut top: Vec<_> = causes.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let list: Vec<String> = top
            .iter()
            .take(15)
            .map(|(id, n)| format!("{id}x{n}"))
            .collect();
        if !list.is_empty() {
            println!("     rules in alarms: {}", list.join(" "));
        }
        rows.push((pl, requests, alarms));
    }
    rows
}

/// The default configuration end to end: the bundled rules and CRS (PL1, threshold 5)
/// in a Detector with `pcaps/precision/city-site.yaml`'s policy. Returns (requests, transactions with
/// at least one alert, of them with a CRS alert).
fn default_configuration() -> (usize, usize, usize) {
    struct Count<'a> {
        detector: &'a Detector,
        alerts: Vec<tamperwatch::detect::alert::Alert>,
        requests: usize,
        alarmed: usize,
        crs: usize,
        by_rule: BTreeMap<String, usize>,
    }
    impl TransactionObserver for Count<'_> {
        fn on_transaction(&mut self, txn: &HttpTransaction) {
            if txn.request.is_none() {
                return;
            }
            self.requests += 1;
            self.alerts.clear();
            self.detector.evaluate(txn, &mut self.alerts);
            if !self.alerts.is_empty() {
                self.alarmed += 1;
                if self.alerts.iter().any(|a| a.crs.is_some()) {
                    self.crs += 1;
                }
                for a in &self.alerts {
                    *self.by_rule.entry(a.rule.rule.clone()).or_default() += 1;
                }
            }
        }
    }
    let repo = crs_common::repo();
    let config = match Config::load(&repo.join("pcaps/precision/city-site.yaml")) {
        Ok(c) => c,
        Err(e) => panic!("pcaps/precision/city-site.yaml: {e}"),
    };
    let detector = match Detector::load(
        &repo.join("rules"),
        &config,
        Arc::new(ThresholdTable::default()),
    ) {
        Ok(d) => d,
        Err(e) => panic!("rules: {e}"),
    };
    assert!(detector.crs().is_some(), "CRS is not on by default");
    let pcap = repo.join("pcaps/precision/city-corpus.pcap");
    let mut source = match FileSource::open(&pcap) {
        Ok(s) => s,
        Err(e) => panic!("{}: {e}", pcap.display()),
    };
    let mut count = Count {
        detector: &detector,
        alerts: Vec::new(),
        requests: 0,
        alarmed: 0,
        crs: 0,
        by_rule: BTreeMap::new(),
    };
    let mut pipeline = Pipeline::new(PipelineSettings::for_config(&config));
    if let Err(e) = pipeline.run_source(&mut source, &mut count, &mut |_| {}) {
        panic!("{}: {e}", pcap.display());
    }
    pipeline.finish(&mut count);
    let rate = per_1000(count.alarmed, count.requests);
    println!(
        "default configuration (bundled rules + CRS PL1, pcaps/precision/city-site.yaml): {} requests, {} alarmed ({} by CRS), {rate:.1} per 1,000",
        count.requests, count.alarmed, count.crs
    );
    let rules: Vec<String> = count
        .by_rule
        .iter()
        .map(|(r, n)| format!("{r}x{n}"))
        .collect();
    println!("     alerts by rule: {}", rules.join(" "));
    println!(
        "CRS-BENIGN pl=default requests={} alarms={} per_1000={rate:.1}",
        count.requests, count.alarmed
    );
    (count.requests, count.alarmed, count.crs)
}

fn per_1000(alarms: usize, requests: usize) -> f64 {
    if requests == 0 {
        return 0.0;
    }
    1000.0 * alarms as f64 / requests as f64
}

#[test]
fn crs_false_alarms_per_paranoia_level() {
    let Some(dir) = crs_common::crs_dir() else {
        return;
    };
    let rows = measure(&dir);
    let (requests, _, _) = default_configuration();
    assert_eq!(
        requests, rows[0].1,
        "the Detector and the engine saw different requests"
    );
    for &(pl, requests, _) in &rows {
        assert!(
            requests >= MIN_CORPUS_REQUESTS,
            "PL{pl}: only {requests} requests replayed from the corpus"
        );
    }
    // A higher level runs every rule of the lower ones and counts their scores, so a
    // transaction flagged at PL n is flagged at PL n+1.
    for w in rows.windows(2) {
        assert!(
            w[1].2 >= w[0].2,
            "PL{} flags fewer transactions ({}) than PL{} ({})",
            w[1].0,
            w[1].2,
            w[0].0,
            w[0].2
        );
    }
}

/// The target of issue 8: the default configuration (bundled rules and CRS at PL1,
/// threshold 5, `pcaps/precision/city-site.yaml` policy and its operator exclusions)
/// under 1% false alarms. Without the site's two exclusions (password fields, the
/// feedback form's pasted code) it is 19.8 per 1,000; see docs/crs.md.
#[test]
fn default_configuration_stays_under_one_percent() {
    if crs_common::crs_dir().is_none() {
        return;
    }
    let (requests, alarmed, _) = default_configuration();
    let rate = per_1000(alarmed, requests);
    assert!(
        rate < MAX_DEFAULT_FALSE_ALARMS_PER_1000,
        "default configuration raises {rate:.1} false alarms per 1,000 benign requests"
    );
}
