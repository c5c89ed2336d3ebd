//! Live: a slow-body flood from one address, which the daemon's sharding by address
//! pair puts on one worker. With the memory budget's heap split evenly, that worker
//! evicted established flows once it passed its own share while the other workers'
//! heap stood idle (the same flood on two workers, fixed shares: 2,113 of 3,000
//! connections evicted).
//! The workers now pool three quarters of their heap shares (`src/flow/heap_pool.rs`):
//! the flooded worker must borrow past what a fixed share allows, evict nothing, and
//! still flag a web shell sent by the same client meanwhile.
//!
//! Three network namespaces made by `scripts/netns-fragments.sh`; slowhttptest runs in
//! the client namespace against a sink that reads and never answers, bounded by its
//! own `-l` and by `timeout`; every process is stopped by PID; the namespaces are
//! removed on drop.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::StopOnDrop;
use tamperwatch::flow::budget::heap_share_for;
use tamperwatch::flow::heap_pool::{MIN_GRANT_BYTES, OWN_SHARE_DIVISOR};
use tamperwatch::flow::{LimitsConfig, DEFAULT_MAX_FLOWS};

const METRICS_PORT: u16 = 9719;
/// A small budget, so that a few thousand slow bodies pass a fixed share.
const BUDGET_BYTES: u64 = 16 << 20;
/// Slow-body connections from the one client address.
const SLOW_CONNECTIONS: u32 = 3_000;
/// Workers: with three, a worker may borrow up to two and a half of its heap share,
/// so the flood can pass one share by a wide margin and still leave the pool room (with
/// two, between one share and 1.75, too narrow for a flood's run-to-run spread).
const WORKERS: usize = 3;
/// How long slowhttptest holds them (its `-l`).
const HOLD_SECS: u64 = 18;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rule(e: &serde_json::Value) -> &str {
    e["alert"]["rule"].as_str().unwrap_or_default()
}

#[test]
fn a_slow_body_flood_from_one_address_borrows_the_other_workers_heap_and_evicts_nothing() {
    if !support::require(
        support::is_root(),
        "live capture in network namespaces needs root",
    ) || !support::require_tool("ip")
        || !support::require_tool("python3")
        || !support::require_tool("curl")
        || !support::require_tool("slowhttptest")
        || !support::require_tool("timeout")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = format!("twp{}", std::process::id() % 100_000);
    let ns = support::Namespaces::up(&prefix);
    for (which, setting) in [
        ('s', "net.core.somaxconn=4096"),
        ('s', "net.ipv4.tcp_max_syn_backlog=8192"),
        ('c', "net.ipv4.ip_local_port_range=10000 65000"),
    ] {
        let ok = ns.exec(which).args(["sysctl", "-qw", setting]).status();
        assert!(ok.is_ok_and(|s| s.success()), "sysctl {setting}");
    }
    let _sink = StopOnDrop(
        ns.exec('s')
            .arg("python3")
            .arg(repo().join("scripts/pcapgen/pipeline-flood.py"))
            .args(["sink", "10.231.2.2", "80"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start sink"),
    );
    let events_path = dir.path().join("events.jsonl");
    let config = format!(
        "site:\n  addresses: [10.231.2.2/32]\n  ports: [80]\n\
         rules: {rules}\n\
         limits:\n  memory_bytes: {BUDGET_BYTES}\n\
         events:\n  path: {events}\n\
         store:\n  path: {store}\n\
         capture:\n  interface: {prefix}s0\n  workers: {WORKERS}\n\
         metrics:\n  listen: 127.0.0.1:{METRICS_PORT}\n",
        rules = repo().join("rules").display(),
        events = events_path.display(),
        store = dir.path().join("flagged.db").display(),
    );
    let mut daemon = ns.start_daemon(dir.path(), &config, METRICS_PORT, Duration::from_secs(30));

    let flood_started = Instant::now();
    let mut flood = StopOnDrop(
        ns.exec('c')
            .args(["timeout", "-s", "INT", &(HOLD_SECS + 20).to_string()])
            .args(["slowhttptest", "-B", "-c", &SLOW_CONNECTIONS.to_string()])
            .args([
                "-r", "1000", "-i", "2", "-x", "16", "-s", "1000000", "-t", "POST",
            ])
            .args(["-l", &HOLD_SECS.to_string()])
            .args(["-u", "http://10.231.2.2/upload.php"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slowhttptest"),
    );
    // The connections open at 1,000 a second; then a web shell from the same address,
    // so on the flooded worker.
    std::thread::sleep(Duration::from_secs(5));
    let shell = dir.path().join("shell.php");
    fs::write(&shell, "<?php system($_GET['c']); ?>\n").expect("write shell");
    let upload = ns
        .exec('c')
        .args([
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            "3",
            "-H",
            "Expect:",
        ])
        .arg("-F")
        .arg(format!("file=@{};type=application/x-php", shell.display()))
        .arg("http://10.231.2.2/uploads/")
        .status()
        .expect("curl");
    // The sink never answers: curl gives up, the request was on the wire.
    assert!(upload.code().is_some(), "curl: {upload:?}");
    // Sampled while every connection is held (they are open within 3 s; the last
    // samples come 6 s before the hold ends): slowhttptest then closes them all at
    // once, a burst a debug build's worker queue does not always take whole (its
    // drops are counted), and the loans it leaves open are the unit tests' subject.
    let mut most_borrowed = 0f64;
    let (mut evicted, mut exhausted) = (0f64, 0f64);
    let held_until = flood_started + Duration::from_secs(HOLD_SECS - 6);
    while Instant::now() < held_until {
        if let Some(text) = ns.scrape_metrics(METRICS_PORT) {
            let value = |name: &str| support::metric_value(&text, name).unwrap_or(0.0);
            most_borrowed = most_borrowed.max(value("tamperwatch_memory_borrowed_bytes"));
            evicted = value("tamperwatch_flows_evicted_total");
            exhausted = value("tamperwatch_memory_pressure_steps_total{step=\"pool_exhausted\"}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while flood.0.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "slowhttptest did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(flood);

    // The flooded worker's flows held more heap than a fixed even share allows: it
    // borrows so that they hold at most three quarters of its limit (own quarter plus
    // loan), in whole grants, so a loan past 4/3 of a share, less its own quarter, plus
    // a grant means they passed the share.
    let worker_bytes = LimitsConfig {
        memory_bytes: BUDGET_BYTES,
    }
    .worker_bytes(WORKERS);
    let heap_share = heap_share_for(DEFAULT_MAX_FLOWS, worker_bytes);
    let own = heap_share / OWN_SHARE_DIVISOR;
    let grant = (WORKERS * (heap_share - own) / 64).max(MIN_GRANT_BYTES);
    let past_a_share = heap_share * 4 / 3 - own + grant;
    eprintln!(
        "live pool: most borrowed {most_borrowed} bytes (past a fixed share from \
         {past_a_share}); {evicted} flows evicted; the pool short {exhausted} times"
    );
    assert!(
        most_borrowed > past_a_share as f64,
        "the flood never took a worker's flows past a fixed heap share ({most_borrowed} \
         bytes borrowed, {past_a_share} needed): it tests nothing"
    );
    // The pool running short is counted, not failed: borrowing what is left keeps
    // the flows within the limit, and only then would anything be evicted.
    assert_eq!(
        evicted, 0.0,
        "flows evicted with heap left in the pool ({exhausted} times short)"
    );

    let status = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "daemon exit: {status:?}");
    let seen = support::read_events(&events_path);
    assert!(
        seen.iter()
            .any(|e| e["src_ip"] == "10.231.1.2" && rule(e) == "upload.script-extension"),
        "the web shell sent during the flood was not flagged: {seen:?}"
    );
}
