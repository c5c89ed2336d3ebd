//! The shipped operations files hold up: the systemd unit's exposure score stays at or
//! below 2.0, and the Prometheus alerting rules, their unit tests, the example scrape
//! config and the Grafana dashboard's queries pass promtool. Skipped, with the reason
//! printed, when the tool is missing (scripts/setup.sh test installs them); under
//! CI=true a missing tool fails the test.

mod support;

use std::path::PathBuf;
use std::process::Command;

fn run_check(script: &str, tool: &str) {
    if !support::require_tool(tool) {
        return;
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = Command::new("bash")
        .arg(&path)
        .output()
        .expect("run check script");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "{script} failed:\n{text}");
}

#[test]
fn systemd_unit_exposure_is_at_most_2() {
    run_check("check-systemd.sh", "systemd-analyze");
}

#[test]
fn prometheus_rules_and_dashboard_queries_are_valid() {
    run_check("check-prometheus-rules.sh", "promtool");
}

/// The central config's relabeling, run as Prometheus runs it (an anchored RE2 regex
/// over `host;address`): a target's own `host` label wins, else the address's name
/// part. promtool checks the syntax only, so the meaning is checked here.
#[test]
fn fleet_scrape_config_labels_every_target_with_its_host() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    let text = std::fs::read_to_string(root.join("prometheus-fleet.yml")).expect("fleet config");
    let config: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let jobs = config["scrape_configs"].as_sequence().expect("jobs");
    assert!(!jobs.is_empty());
    for job in jobs {
        let rule = job["relabel_configs"]
            .as_sequence()
            .and_then(|r| r.iter().find(|r| r["target_label"] == "host"))
            .expect("every job sets host");
        let pattern = rule["regex"].as_str().expect("regex");
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).expect("RE2-compatible");
        let host =
            |labels: &str| -> Option<String> { re.captures(labels).map(|c| c[1].to_owned()) };
        assert_eq!(
            host(";web1.example.gov:9717").as_deref(),
            Some("web1.example.gov")
        );
        assert_eq!(host(";10.20.0.31:9717").as_deref(), Some("10.20.0.31"));
        assert_eq!(
            host(";[2001:db8::31]:9717").as_deref(),
            Some("2001:db8::31")
        );
        assert_eq!(host(";web1").as_deref(), Some("web1"));
        assert_eq!(
            host("permits;permits.example.gov:9717"),
            None,
            "own label kept"
        );
        let relabels_job = job["relabel_configs"]
            .as_sequence()
            .is_some_and(|r| r.iter().any(|r| r["target_label"] == "job"));
        assert!(
            job["job_name"] == "tamperwatch" || relabels_job,
            "the alert rules select job=\"tamperwatch\"; {:?} must relabel it",
            job["job_name"]
        );
    }
    // Every shipped targets file is a file_sd list of targets with string labels.
    let mut files = 0;
    for entry in std::fs::read_dir(root.join("targets")).expect("targets/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("targets file");
        let groups: Vec<serde_yaml::Value> = serde_yaml::from_str(&text).expect("file_sd list");
        for g in &groups {
            let targets = g["targets"].as_sequence().expect("targets");
            assert!(targets
                .iter()
                .all(|t| t.as_str().is_some_and(|t| t.contains(':'))));
            if let Some(labels) = g["labels"].as_mapping() {
                assert!(labels.values().all(|v| v.is_string()), "{}", path.display());
            }
        }
        files += 1;
    }
    assert!(files >= 2);
}
