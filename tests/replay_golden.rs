//! Replay every bundled capture through the default rules and the canonical site
//! policy, and compare the flagged events with the golden files committed beside the
//! captures (`NAME.events.jsonl`). Any difference fails; benign captures' golden files
//! are empty, so a false positive fails too. A capture without its golden file fails,
//! and so does one whose golden file is not committed to git. `UPDATE_GOLDEN=1`
//! rewrites the files (review the diff before committing).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn replay_events(pcap: &Path) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(["replay", "--config"])
        .arg(root().join("pcaps/site.yaml"))
        .arg("--rules")
        .arg(root().join("rules"))
        .args(["--events", "-"])
        // Pinned: output is the same for any worker count only below the per-worker
        // caps, and the flood captures reach them (each worker holds its share).
        .args(["--workers", "2"])
        .arg(pcap)
        .output()
        .expect("run tamperwatch");
    assert!(
        out.status.success(),
        "replay {} failed: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn captures() -> Vec<PathBuf> {
    let mut all = Vec::new();
    for dir in ["attacks", "benign", "privacy", "http", "tcp", "evasion"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps").join(dir))
            .expect("pcaps dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        files.sort();
        all.extend(files);
    }
    all
}

#[test]
fn events_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    let captures = captures();
    assert!(captures.len() >= 20, "bundled captures missing");
    for pcap in &captures {
        let got = replay_events(pcap);
        let golden = pcap.with_extension("events.jsonl");
        if update {
            std::fs::write(&golden, &got).expect("write golden");
            continue;
        }
        let want = match std::fs::read(&golden) {
            Ok(want) => want,
            Err(e) => {
                mismatches.push(format!(
                    "{}: no golden file {} ({e}); make it with UPDATE_GOLDEN=1, review it, commit it",
                    pcap.display(),
                    golden.display()
                ));
                continue;
            }
        };
        if got != want {
            mismatches.push(format!(
                "{}: {} events, golden has {}",
                pcap.display(),
                got.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(),
                want.split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "events differ from golden files:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn every_capture_has_its_golden_file_committed() {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--", "pcaps"])
        .current_dir(root())
        .output();
    let tracked = match listed {
        Ok(out) if out.status.success() => out.stdout,
        _ => {
            support::require(
                false,
                "not a git checkout (or no git): cannot list committed files",
            );
            return;
        }
    };
    let tracked: std::collections::BTreeSet<PathBuf> = tracked
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root().join(String::from_utf8_lossy(p).as_ref()))
        .collect();
    let uncommitted: Vec<String> = captures()
        .iter()
        .map(|pcap| pcap.with_extension("events.jsonl"))
        .filter(|golden| !tracked.contains(golden))
        .map(|golden| golden.display().to_string())
        .collect();
    assert!(
        uncommitted.is_empty(),
        "golden files missing from git (UPDATE_GOLDEN=1, review, git add):\n{}",
        uncommitted.join("\n")
    );
}

#[test]
fn benign_traffic_raises_no_event() {
    for pcap in captures().iter().filter(|p| {
        let p = p.to_string_lossy();
        p.contains("/benign/") || p.contains("/http/") || p.ends_with("-benign.pcap")
    }) {
        let events = replay_events(pcap);
        assert!(
            events.is_empty(),
            "{} raised: {}",
            pcap.display(),
            String::from_utf8_lossy(&events)
        );
    }
}

#[test]
fn replay_is_byte_identical_across_runs() {
    let pcap = root().join("pcaps/attacks/script-upload.pcap");
    let first = replay_events(&pcap);
    assert!(!first.is_empty());
    assert_eq!(first, replay_events(&pcap));
}

#[test]
fn every_category_is_detected_on_real_attack_traffic() {
    let mut seen = std::collections::BTreeSet::new();
    for pcap in captures().iter().filter(|p| {
        let p = p.to_string_lossy();
        p.contains("/attacks/") || (p.contains("/evasion/") && !p.ends_with("-benign.pcap"))
    }) {
        for line in String::from_utf8_lossy(&replay_events(pcap)).lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("event JSON");
            seen.insert(
                v["alert"]["category"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    for c in [
        "upload",
        "modification",
        "injection",
        "traversal",
        "recon",
        "brute_force",
        "flood",
        "protocol",
    ] {
        assert!(
            seen.contains(c),
            "no {c} event from the attack captures; saw {seen:?}"
        );
    }
}
