//! Bad input: a spoofed SYN flood with uploads inside it, replayed under the default
//! memory budget, neither hides the uploads nor grows the process past 128 MiB.
//!
//! `pcaps/attacks/flood-upload.pcap` is real traffic (scripts/pcapgen/flood-upload.sh):
//! hping3 `--rand-source` against nginx inside network namespaces, about 141,000 SYNs
//! from distinct sources in four seconds, with curl uploading PHP web shells to the
//! site's upload endpoint one second in and near the end. The flood holds more flows
//! than a worker of the default budget has slots, so the budget's first emergency
//! step (drop data-less flows) must run, and the real connections must survive it.

use std::path::PathBuf;
use std::process::Command;

/// The whole process, rules and CRS included, under the default budget (issue 10).
const MAX_PEAK_RSS_BYTES: u64 = 128 << 20;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The number after `label` on the summary line starting with it.
fn summary_number(summary: &str, line_start: &str, after: &str) -> Option<u64> {
    let line = summary.lines().find(|l| l.starts_with(line_start))?;
    let rest = &line[line.find(after)? + after.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn a_syn_flood_with_an_upload_inside_finds_the_upload_within_the_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .arg("--config")
        .arg(repo().join("pcaps/site.yaml"))
        .arg("--events")
        .arg(&events)
        .args(["--workers", "2"])
        .arg(repo().join("pcaps/attacks/flood-upload.pcap"))
        .output()
        .expect("run tamperwatch replay");
    let summary = String::from_utf8_lossy(&out.stdout);
    let resources = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{summary}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The flood was large enough to need the emergency steps, and they took only
    // flows that never carried data.
    let dropped = summary_number(&resources, "memory budget", "pressure: ").expect("budget line");
    assert!(
        dropped > 10_000,
        "data-less flows dropped: {dropped}\n{summary}"
    );
    let established = summary_number(&resources, "memory budget", "(0 bytes), ");
    assert_eq!(established, Some(0), "{summary}");

    // The uploads inside the flood are found, from the real client.
    let text = std::fs::read_to_string(&events).expect("events");
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect();
    let uploads: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| a["alert"]["category"] == "upload")
        .collect();
    assert!(
        uploads
            .iter()
            .any(|a| a["alert"]["rule"] == "upload.script-extension"
                && a["src_ip"] == "10.231.1.2"
                && a["http"]["url"] == "/permits/upload"),
        "no script upload flagged: {text}"
    );
    let upload_flows: std::collections::BTreeSet<u64> = uploads
        .iter()
        .filter_map(|a| a["flow_id"].as_u64())
        .collect();
    assert!(upload_flows.len() >= 2, "both shells: {upload_flows:?}");
    // The flood itself is reported, site-wide.
    assert!(
        alerts.iter().any(|a| a["alert"]["category"] == "flood"),
        "no flood event: {text}"
    );

    let peak = summary_number(&resources, "peak memory", "memory ").expect("peak line");
    assert!(
        peak <= MAX_PEAK_RSS_BYTES,
        "peak RSS {} MiB over {} MiB",
        peak >> 20,
        MAX_PEAK_RSS_BYTES >> 20
    );
}
