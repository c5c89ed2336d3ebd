//! Bad input: a spoofed SYN flood, or a fragment flood, with uploads inside it,
//! replayed under the default memory budget, neither hides the uploads nor grows the
//! process past 128 MiB, and each raises its own site-wide `flood` event.
//!
//! Both captures are real traffic (scripts/pcapgen/flood-upload.sh): hping3
//! `--rand-source` against nginx inside network namespaces, with curl uploading PHP web
//! shells to the site's upload endpoint one second in and near the end.
//! - `pcaps/attacks/flood-upload.pcap`: about 141,000 SYNs from distinct sources in four
//!   seconds. The flood holds more flows than a worker of the default budget has slots,
//!   so the budget's first emergency step (drop data-less flows) must run, and the real
//!   connections must survive it.
//! - `pcaps/attacks/frag-flood-upload.pcap` (`FLOOD=frag`): about 19,500 first
//!   fragments that never complete, from distinct sources, more than the two workers'
//!   defragmenters hold: the rest are refused, and that must be reported.
//! - `pcaps/attacks/slowbody-upload.pcap` (`FLOOD=slowbody`): slowhttptest holding 3,000
//!   request bodies open for 10 s from the uploader's own address, so on one worker;
//!   replayed with a quarter of the default budget, it needs more heap than a fixed
//!   half of it.
//! - `pcaps/attacks/slowloris-upload.pcap` (`FLOOD=slowloris`): slowhttptest holding 200
//!   request heads open for 30 s, a header line every 5 s, from 50 client addresses
//!   (four connections each, so no client floods by itself); the uploads come from
//!   10.231.1.3.

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

/// What a replay of a capture with two workers under the site policy gave.
struct Run {
    summary: String,
    resources: String,
    events: String,
    alerts: Vec<serde_json::Value>,
}

fn replay(capture: &str) -> Run {
    replay_with(capture, &repo().join("pcaps/site.yaml"), 2)
}

/// A replay of a capture with `workers` workers under the configuration at `config`.
fn replay_with(capture: &str, config: &std::path::Path, workers: usize) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .arg("--config")
        .arg(config)
        .arg("--events")
        .arg(&events)
        .args(["--workers", &workers.to_string()])
        .arg(repo().join(capture))
        .output()
        .expect("run tamperwatch replay");
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let resources = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{summary}\n{resources}");
    let events = std::fs::read_to_string(&events).expect("events");
    let alerts = events
        .lines()
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect();
    Run {
        summary,
        resources,
        events,
        alerts,
    }
}

impl Run {
    /// The uploads inside the flood are found, from the real client `uploader`: both
    /// shells.
    fn assert_uploads_found(&self, uploader: &str) {
        let uploads: Vec<&serde_json::Value> = self
            .alerts
            .iter()
            .filter(|a| a["alert"]["category"] == "upload")
            .collect();
        assert!(
            uploads
                .iter()
                .any(|a| a["alert"]["rule"] == "upload.script-extension"
                    && a["src_ip"] == uploader
                    && a["http"]["url"] == "/permits/upload"),
            "no script upload flagged: {}",
            self.events
        );
        let upload_flows: std::collections::BTreeSet<u64> = uploads
            .iter()
            .filter_map(|a| a["flow_id"].as_u64())
            .collect();
        assert!(upload_flows.len() >= 2, "both shells: {upload_flows:?}");
    }

    fn assert_peak_within_budget(&self) {
        let peak = summary_number(&self.resources, "peak memory", "memory ").expect("peak line");
        assert!(
            peak <= MAX_PEAK_RSS_BYTES,
            "peak RSS {} MiB over {} MiB",
            peak >> 20,
            MAX_PEAK_RSS_BYTES >> 20
        );
    }

    /// The events of one rule.
    fn rule(&self, name: &str) -> Vec<&serde_json::Value> {
        self.alerts
            .iter()
            .filter(|a| a["alert"]["rule"] == name)
            .collect()
    }
}

#[test]
fn a_syn_flood_with_an_upload_inside_finds_the_upload_within_the_budget() {
    let run = replay("pcaps/attacks/flood-upload.pcap");
    // The flood was large enough to need the emergency steps, and they took only
    // flows that never carried data.
    let dropped =
        summary_number(&run.resources, "memory budget", "pressure: ").expect("budget line");
    assert!(
        dropped > 10_000,
        "data-less flows dropped: {dropped}\n{}",
        run.summary
    );
    let established = summary_number(&run.resources, "memory budget", "(0 bytes), ");
    assert_eq!(established, Some(0), "{}", run.summary);
    run.assert_uploads_found("10.231.1.2");
    // The flood itself is reported, site-wide.
    assert!(
        run.alerts.iter().any(|a| a["alert"]["category"] == "flood"),
        "no flood event: {}",
        run.events
    );
    run.assert_peak_within_budget();
}

#[test]
fn a_fragment_flood_is_reported_once_and_hides_no_upload() {
    let run = replay("pcaps/attacks/frag-flood-upload.pcap");
    // The defragmenters were full and refused fragments: counted in the summary.
    let refused = summary_number(&run.summary, "ip fragments", "timed out, ").expect("fragments");
    assert!(
        refused > 1_000,
        "fragments refused: {refused}\n{}",
        run.summary
    );
    // One event for the episode, naming no address at either end (later fragments
    // carry no ports, so which end is the site's is unknown).
    let pressure = run.rule("flood.fragment-pressure");
    assert_eq!(pressure.len(), 1, "{}", run.events);
    for end in ["src_ip", "dest_ip"] {
        assert_eq!(pressure[0][end], "0.0.0.0", "{}", run.events);
    }
    assert_eq!(pressure[0]["alert"]["category"], "flood");
    // Spoofed single fragments open no connection: no other flood event.
    assert_eq!(
        run.alerts
            .iter()
            .filter(|a| a["alert"]["category"] == "flood")
            .count(),
        1,
        "{}",
        run.events
    );
    run.assert_uploads_found("10.231.1.2");
    run.assert_peak_within_budget();
}

#[test]
fn a_distributed_slowloris_is_reported_once_and_hides_no_upload() {
    let run = replay("pcaps/attacks/slowloris-upload.pcap");
    // One event for the episode, naming no client; the server held is named.
    let slow = run.rule("flood.slow-requests");
    assert_eq!(slow.len(), 1, "{}", run.events);
    assert_eq!(slow[0]["src_ip"], "0.0.0.0", "{}", run.events);
    assert_eq!(slow[0]["dest_ip"], "10.231.2.2", "{}", run.events);
    assert_eq!(slow[0]["dest_port"], 8080, "{}", run.events);
    // Raised once the heads had been arriving for 20 s (slowhttptest opened them in
    // the flood's first two seconds, the first upload came one second in), not before;
    // and by the next burst of header lines after that (every 5 s): a sweep runs when
    // packets come.
    let first = run
        .alerts
        .first()
        .and_then(|a| a["timestamp"].as_str())
        .expect("events");
    let at = slow[0]["timestamp"].as_str().expect("timestamp");
    let secs = |t: &str| -> u32 {
        let hms = &t[11..19];
        hms.split(':')
            .fold(0, |s, p| s * 60 + p.parse::<u32>().expect("time"))
    };
    let after = secs(at) - secs(first);
    assert!(
        (19..=26).contains(&after),
        "raised {after} s after the first upload"
    );
    // No client floods by itself: no other flood event.
    let floods = run
        .alerts
        .iter()
        .filter(|a| a["alert"]["category"] == "flood")
        .count();
    assert_eq!(floods, 1, "{}", run.events);
    run.assert_uploads_found("10.231.1.3");
    run.assert_peak_within_budget();
}

#[test]
fn a_slow_body_flood_from_one_address_is_judged_on_two_workers_as_on_one() {
    // A budget a quarter of the default: the 3,000 slow bodies from the uploader's own
    // address hold more heap than a fixed half of it, and they all meet in one worker.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("site-16mib.yaml");
    let site = std::fs::read_to_string(repo().join("pcaps/site.yaml")).expect("site.yaml");
    std::fs::write(
        &config,
        format!("{site}\nlimits:\n  memory_bytes: 16777216\n"),
    )
    .expect("write config");
    let capture = "pcaps/attacks/slowbody-upload.pcap";
    let one = replay_with(capture, &config, 1);
    let two = replay_with(capture, &config, 2);
    // The heap the idle worker does not use is lent (between epochs, so the output
    // does not depend on thread timing): nothing is evicted, and the run is the one
    // worker's, byte for byte.
    let evicted = summary_number(&two.resources, "memory budget", "(0 bytes), ");
    assert_eq!(evicted, Some(0), "{}", two.resources);
    assert_eq!(two.events, one.events);
    assert_eq!(two.summary, one.summary);
    assert!(
        two.summary
            .contains("flows              3006 (0 picked up mid-stream"),
        "{}",
        two.summary
    );
    two.assert_uploads_found("10.231.1.2");
    two.assert_peak_within_budget();
}

/// Counts what the pipeline reports of refused fragments.
#[derive(Default)]
struct PressureLog(
    Vec<(
        tamperwatch::observe::Pressure,
        u64,
        tamperwatch::time::Timestamp,
    )>,
);

impl tamperwatch::observe::TransactionObserver for PressureLog {
    fn on_transaction(&mut self, _txn: &tamperwatch::http::HttpTransaction) {}
    fn on_pressure(
        &mut self,
        kind: tamperwatch::observe::Pressure,
        count: u64,
        _dest: std::net::SocketAddr,
        now: tamperwatch::time::Timestamp,
    ) {
        self.0.push((kind, count, now));
    }
}

#[test]
fn refused_fragments_are_reported_at_once_then_at_most_once_a_second() {
    use tamperwatch::capture::{FileSource, PacketSource};
    use tamperwatch::observe::Pressure;
    use tamperwatch::pipeline::{Pipeline, PipelineSettings};

    let config =
        tamperwatch::config::Config::load(&repo().join("pcaps/site.yaml")).expect("config");
    let mut pipeline = Pipeline::new(PipelineSettings::for_config(&config));
    let mut source =
        FileSource::open(&repo().join("pcaps/attacks/frag-flood-upload.pcap")).expect("capture");
    let link = source.link_type();
    let mut log = PressureLog::default();
    while let Some(frame) = source.next_frame().expect("frame") {
        pipeline.process_frame(link, &frame, &mut log);
    }
    pipeline.finish(&mut log);

    let refused = pipeline.summary.fragments.refused();
    // One worker holds fewer datagrams than the flood opens.
    assert!(refused > 10_000, "refused: {refused}");
    let reports = &log.0;
    assert!(reports
        .iter()
        .all(|(kind, ..)| *kind == Pressure::Fragments));
    // The first refusal is reported as it happens...
    assert_eq!(reports.first().map(|r| r.1), Some(1), "{reports:?}");
    // ...then no two reports fall in one second of packet time (the flood lasts about
    // four seconds after the defragmenter fills)...
    for pair in reports.windows(2) {
        assert!(pair[1].2.secs() > pair[0].2.secs(), "{reports:?}");
    }
    assert!(reports.len() >= 2 && reports.len() <= 6, "{reports:?}");
    // ...and the reports add up to every refusal but those of the last second.
    let reported: u64 = reports.iter().map(|r| r.1).sum();
    assert!(
        reported <= refused && refused - reported < 5_000,
        "{reported} of {refused}"
    );
}
