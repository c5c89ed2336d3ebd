//! Every one of Zeek's 87 HTTP test captures (pcaps/third_party/zeek/traces, BSD-3)
//! replays with no panic and no hang, and all of them together in bounded memory.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak resident memory allowed for replaying all traces in one process.
const MAX_RSS_KIB: u64 = 256 * 1024;
/// A single small trace taking longer than this is a hang.
const PER_TRACE_LIMIT: Duration = Duration::from_secs(30);

fn traces() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps/third_party/zeek/traces");
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("traces")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    all.sort();
    all
}

#[test]
fn every_trace_replays_without_panic_or_hang() {
    let traces = traces();
    assert_eq!(traces.len(), 87);
    for t in &traces {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
            .arg("replay")
            .arg(t)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if started.elapsed() > PER_TRACE_LIMIT {
                let _ = child.kill();
                panic!("{} hung", t.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let out = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", t.display());
        // Exit 1 is allowed only with a one-line reason (e.g. a truncated trace).
        assert!(
            status.code() == Some(0) || (status.code() == Some(1) && stderr.lines().count() == 1),
            "{}: {status:?} {stderr}",
            t.display()
        );
    }
}

#[test]
fn all_traces_together_stay_in_bounded_memory() {
    let time = PathBuf::from("/usr/bin/time");
    if !support::require(
        time.exists(),
        "/usr/bin/time (GNU time) is not installed; scripts/test.sh installs it",
    ) {
        return;
    }
    let out = Command::new(time)
        .arg("-f")
        .arg("maxrss_kib=%M")
        .arg(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .args(traces())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time output");
    println!("peak RSS over all 87 traces: {rss} KiB");
    assert!(rss < MAX_RSS_KIB, "peak RSS {rss} KiB");
}
