//! `replay --workers N` gives the same output for any N (issue 10): the events file,
//! the flagged store's contents and the summary are byte-identical for 1, 2 and 3
//! workers, over bundled captures whose flows do spread over several workers (a
//! distributed SYN flood, a flash crowd, IP fragments, several clients) and over the
//! evasion captures replayed as one capture.

use std::path::{Path, PathBuf};
use std::process::Command;

use tamperwatch::capture::{FileSource, PacketSource};
use tamperwatch::pipeline::shard::worker_of;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tamperwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
}

/// What one replay produced.
#[derive(Debug, PartialEq, Eq)]
struct Output {
    events: Vec<u8>,
    store: Vec<u8>,
    summary: Vec<u8>,
}

fn replay(pcaps: &[PathBuf], workers: usize, dir: &Path) -> Output {
    let events = dir.join(format!("events-{workers}.jsonl"));
    let store = dir.join(format!("flagged-{workers}.db"));
    let out = tamperwatch()
        .arg("replay")
        .arg("--config")
        .arg(root().join("pcaps/site.yaml"))
        .arg("--rules")
        .arg(root().join("rules"))
        .arg("--events")
        .arg(&events)
        .arg("--store")
        .arg(&store)
        .arg("--workers")
        .arg(workers.to_string())
        .args(pcaps)
        .output()
        .expect("run tamperwatch replay");
    assert!(
        out.status.success(),
        "replay --workers {workers} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export = tamperwatch()
        .args(["flagged", "export", "--store"])
        .arg(&store)
        .output()
        .expect("run tamperwatch flagged export");
    assert!(export.status.success(), "export: {export:?}");
    Output {
        events: std::fs::read(&events).expect("events file"),
        store: export.stdout,
        summary: out.stdout,
    }
}

/// How many of `workers` workers the frames of `pcaps` are spread over.
fn workers_used(pcaps: &[PathBuf], workers: usize) -> usize {
    let mut used = vec![0u64; workers];
    for pcap in pcaps {
        let mut source = FileSource::open(pcap).expect("open capture");
        let link = source.link_type();
        while let Some(frame) = source.next_frame().expect("read capture") {
            used[worker_of(link, frame.data, workers)] += 1;
        }
    }
    used.iter().filter(|&&n| n > 0).count()
}

fn assert_same_for_any_worker_count(pcaps: &[PathBuf]) {
    assert_eq!(
        workers_used(pcaps, 2),
        2,
        "these captures must spread over both workers for the test to mean anything"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let one = replay(pcaps, 1, dir.path());
    assert!(
        one.events.iter().filter(|&&b| b == b'\n').count() >= 5,
        "too few events to compare: {}",
        String::from_utf8_lossy(&one.events)
    );
    for workers in [2, 3] {
        let many = replay(pcaps, workers, dir.path());
        assert!(
            one.events == many.events,
            "events differ between 1 and {workers} workers:\n--- 1\n{}\n--- {workers}\n{}",
            String::from_utf8_lossy(&one.events),
            String::from_utf8_lossy(&many.events)
        );
        assert!(
            one.store == many.store,
            "flagged store differs between 1 and {workers} workers"
        );
        assert_eq!(
            String::from_utf8_lossy(&one.summary),
            String::from_utf8_lossy(&many.summary),
            "summary differs between 1 and {workers} workers"
        );
    }
}

fn pcap(name: &str) -> PathBuf {
    root().join("pcaps").join(name)
}

#[test]
fn attacks_floods_and_fragments_give_the_same_output_for_any_worker_count() {
    assert_same_for_any_worker_count(&[
        pcap("attacks/syn-flood-distributed.pcap"),
        pcap("benign/flash-crowd.pcap"),
        pcap("privacy/canary.pcap"),
        pcap("evasion/ip-fragments.pcap"),
        pcap("attacks/scanner.pcap"),
        pcap("attacks/bruteforce.pcap"),
        pcap("attacks/script-upload.pcap"),
    ]);
}

#[test]
fn evasion_captures_as_one_capture_give_the_same_output_for_any_worker_count() {
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps/evasion"))
        .expect("pcaps/evasion")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 10, "evasion captures missing");
    assert_same_for_any_worker_count(&pcaps);
}
