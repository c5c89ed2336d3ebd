//! CRS fidelity: the OWASP CRS v4.28.0 go-ftw regression tests, as go-ftw sends them,
//! through the real pipeline and tamperwatch's CRS engine at the suite's CI settings
//! (blocking paranoia level 4, `tx.arg_length=400`, `tx.total_arg_length=6400`,
//! `tx.max_file_size=64100`, `tx.combined_file_sizes=65535`).
//!
//! `pcaps/third_party/crs-ftw/crs-ftw.pcap` holds one loopback connection per test stage
//! (made by `scripts/make-crs-ftw-pcap.py`); `crs-ftw.json` maps each client port to its
//! rule, test, stage and expectations. A test passes as in go-ftw: every `expect_ids`
//! present, no `no_expect_ids` present (and no id at all for `no_match_regex: [id "\d+"]`).
//! Stages that only check the web server's status or ModSecurity log text are not
//! counted (a passive monitor has neither). Each failing test must be listed in
//! `tests/crs_overrides.yaml` with a reason; an override that now passes fails the test
//! too, so the list stays honest. The pass rate must stay at or above the floors there.

mod crs_common;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use tamperwatch::detect::crs::CrsSettings;

#[derive(Debug, Deserialize)]
struct Sidecar {
    stages: Vec<Stage>,
}

#[derive(Debug, Deserialize)]
struct Stage {
    rule_id: u32,
    test_id: u32,
    family: u32,
    kind: String,
    expect_ids: Vec<u32>,
    no_expect_ids: Vec<u32>,
    no_ids: bool,
    client_port: u16,
}

#[derive(Debug, Deserialize)]
struct Overrides {
    floors: Floors,
    #[serde(default)]
    overrides: Vec<Override>,
}

#[derive(Debug, Deserialize)]
struct Floors {
    /// Overall pass rate, percent.
    overall: f64,
    /// Per family (911, 913, 920, ...), percent.
    #[serde(default)]
    families: BTreeMap<u32, f64>,
}

#[derive(Debug, Deserialize)]
struct Override {
    /// `rule-test`, e.g. `920100-4`.
    test: String,
    reason: String,
}

fn read<T: serde::de::DeserializeOwned>(path: &std::path::Path, yaml: bool) -> T {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let parsed = if yaml {
        serde_yaml::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    };
    match parsed {
        Ok(v) => v,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

#[test]
fn crs_regression_tests_pass_on_the_wire() {
    let Some(dir) = crs_common::crs_dir() else {
        return;
    };
    let base = crs_common::repo().join("pcaps/third_party/crs-ftw");
    let sidecar: Sidecar = read(&base.join("crs-ftw.json"), false);
    let overrides: Overrides = read(&crs_common::repo().join("tests/crs_overrides.yaml"), true);
    // CRS's CI (tests/docker-compose.yml upstream) also sets these two; the tests of
    // 920360 (argument name length) and 920380 (number of arguments) rely on them.
    let mut settings = CrsSettings::ci(&dir);
    for (k, v) in [("arg_name_length", "100"), ("max_num_args", "255")] {
        if !settings.tx_overrides.iter().any(|(name, _)| name == k) {
            settings.tx_overrides.push((k.to_string(), v.to_string()));
        }
    }
    let engine = crs_common::load(&settings);
    let (by_port, _) = crs_common::replay(&base.join("crs-ftw.pcap"), &engine, false);

    // Per test: checkable stages, and whether each passed.
    let mut tests: BTreeMap<(u32, u32), (u32, bool)> = BTreeMap::new();
    let mut unseen = 0usize;
    let mut not_checkable: BTreeSet<(u32, u32)> = BTreeSet::new();
    let verbose = std::env::var_os("CRS_FTW_VERBOSE").is_some();
    for st in &sidecar.stages {
        let key = (st.rule_id, st.test_id);
        if st.kind != "ids" {
            not_checkable.insert(key);
            continue;
        }
        let empty = crs_common::PortResult::default();
        let got = by_port.get(&st.client_port).unwrap_or(&empty);
        if got.requests == 0 {
            unseen += 1;
        }
        let expected_all = st.expect_ids.iter().all(|id| got.ids.contains(id));
        let forbidden_any = st.no_expect_ids.iter().any(|id| got.ids.contains(id));
        let silent_ok = !st.no_ids || got.ids.is_empty();
        let passed = expected_all && !forbidden_any && silent_ok;
        if !passed && verbose {
            let mut ids = got.ids.clone();
            ids.sort_unstable();
            println!(
                "FAIL {}-{} expect {:?} no_expect {:?} no_ids {} requests {} got {:?}",
                st.rule_id,
                st.test_id,
                st.expect_ids,
                st.no_expect_ids,
                st.no_ids,
                got.requests,
                ids
            );
        }
        let e = tests.entry(key).or_insert((st.family, true));
        e.1 &= passed;
    }
    for k in tests.keys() {
        not_checkable.remove(k);
    }

    let listed: BTreeMap<&str, &str> = overrides
        .overrides
        .iter()
        .map(|o| (o.test.as_str(), o.reason.as_str()))
        .collect();
    let mut fam: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    let mut seen_names = BTreeSet::new();
    for (&(rule, test), &(family, ok)) in &tests {
        let name = format!("{rule}-{test}");
        let e = fam.entry(family).or_default();
        e.1 += 1;
        if ok {
            e.0 += 1;
            if listed.contains_key(name.as_str()) {
                stale.push(name.clone());
            }
        } else if !listed.contains_key(name.as_str()) {
            unexpected.push(name.clone());
        }
        seen_names.insert(name);
    }
    for name in listed.keys() {
        if !seen_names.contains(*name) {
            stale.push(format!("{name} (no such checkable test)"));
        }
    }

    let (mut passed, mut total) = (0usize, 0usize);
    println!("CRS go-ftw request-phase tests (PL4, CI settings), by rule family:");
    println!(
        "{:<8} {:>7} {:>7} {:>8}",
        "family", "passed", "tests", "rate"
    );
    let mut low = Vec::new();
    for (f, (p, t)) in &fam {
        let rate = 100.0 * *p as f64 / *t as f64;
        println!("{f:<8} {p:>7} {t:>7} {rate:>7.2}%");
        println!("CRS-FTW family={f} passed={p} tests={t} rate={rate:.2}");
        if let Some(floor) = overrides.floors.families.get(f) {
            if rate + 1e-9 < *floor {
                low.push(format!("family {f}: {rate:.2}% < floor {floor}%"));
            }
        }
        passed += p;
        total += t;
    }
    let rate = if total == 0 {
        0.0
    } else {
        100.0 * passed as f64 / total as f64
    };
    println!("{:<8} {passed:>7} {total:>7} {rate:>7.2}%", "overall");
    println!("CRS-FTW family=overall passed={passed} tests={total} rate={rate:.2}");
    println!(
        "not counted: {} tests with only status/log-text checks; {} checkable stages produced no transaction",
        not_checkable.len(),
        unseen
    );
    if rate + 1e-9 < overrides.floors.overall {
        low.push(format!(
            "overall: {rate:.2}% < floor {}%",
            overrides.floors.overall
        ));
    }

    assert!(
        total > 2000,
        "only {total} checkable tests: the capture or sidecar is wrong"
    );
    assert!(
        unexpected.is_empty(),
        "{} failing tests are not in tests/crs_overrides.yaml (run with CRS_FTW_VERBOSE=1): {}",
        unexpected.len(),
        unexpected.join(" ")
    );
    assert!(
        stale.is_empty(),
        "overrides that now pass; remove them from tests/crs_overrides.yaml: {}",
        stale.join(" ")
    );
    assert!(
        low.is_empty(),
        "pass rate under its floor: {}",
        low.join("; ")
    );
}
