//! The events writer on a full disk: a tiny tmpfs is filled while events are written.
//! The file must hold whole EVE lines only (no torn or merged line), the lines written
//! plus the events counted as dropped must equal the events sent, and once space comes
//! back the writer resumes without being told. Needs root (mount); skips otherwise,
//! and fails under CI=true.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tamperwatch::daemon::events::EventWriter;
use tamperwatch::detect::alert::Alert;
use tamperwatch::sink::metrics::{ContentGroups, Metrics};
use tamperwatch::sink::AlertSink;

/// Size of the test filesystem.
const TMPFS_BYTES: usize = 64 * 1024;
/// Bytes of the filler that leaves the events file a few pages.
const FILLER_BYTES: usize = 48 * 1024;

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_BYTES}")])
            .arg("tmpfs")
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs refused: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// An alert whose line spans pages, so a write can stop inside one.
fn alert(flow_id: u64) -> Alert {
    support::sample_alert(flow_id, "/.env".repeat(40))
}

fn dropped(metrics: &Metrics) -> u64 {
    metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("tamperwatch_events_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Flow ids of the file's lines; panics on a line that is not one whole event.
fn flow_ids(path: &PathBuf) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "torn last line");
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one whole event ({e}): {line:.80}"));
            v["flow_id"].as_u64().expect("flow_id")
        })
        .collect()
}

/// Waits until every one of `sent` events is either a line or counted as dropped.
fn settle(path: &PathBuf, metrics: &Metrics, sent: u64) -> (Vec<u64>, u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids = flow_ids(path);
        let lost = dropped(metrics);
        if ids.len() as u64 + lost >= sent || Instant::now() > deadline {
            return (ids, lost);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_full_disk_leaves_whole_lines_counts_drops_and_recovers() {
    let tmpfs = match Tmpfs::mount() {
        Ok(t) => t,
        Err(reason) => {
            support::require(false, &reason);
            return;
        }
    };
    let filler = tmpfs.path().join("filler");
    std::fs::write(&filler, vec![0u8; FILLER_BYTES]).expect("filler");
    let path = tmpfs.path().join("events.jsonl");
    let metrics = Arc::new(Metrics::new(ContentGroups::default()).expect("metrics"));
    let writer = EventWriter::open(
        path.to_str().expect("utf-8"),
        Arc::clone(&metrics),
        tamperwatch::sink::store::AddressPolicy::keep(),
    )
    .expect("open");
    let mut handle = writer.handle().expect("handle");

    // Far more than fits, in bursts so batches of several lines hit the limit.
    let mut sent = 0u64;
    for burst in 0..40u64 {
        for i in 0..10 {
            handle.record(&alert(burst * 10 + i)).expect("record");
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let (ids, lost) = settle(&path, &metrics, sent);
    assert!(!ids.is_empty(), "some events fit");
    assert!(lost > 0, "the disk filled up");
    assert_eq!(
        ids.len() as u64 + lost,
        sent,
        "every event written or counted"
    );
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no event written twice");

    // Space comes back: the writer resumes on its own.
    std::fs::remove_file(&filler).expect("free space");
    for i in 0..20 {
        handle.record(&alert(10_000 + i)).expect("record");
        sent += 1;
    }
    let (after, lost_after) = settle(&path, &metrics, sent);
    assert_eq!(lost_after, lost, "nothing dropped once there is room");
    assert_eq!(after.len(), ids.len() + 20);
    assert!(after[ids.len()..].iter().all(|id| *id >= 10_000));
    drop(handle);
    writer.close();
}
