//! Live: a spoofed-source SYN flood against the site while real uploads go through it.
//! `tamperwatch run` (two workers, the default 64 MiB budget, the bundled rules and
//! the CRS) must stay within issue 10's 128 MiB for the whole process, raise one
//! site-wide half-open surge naming nobody, drop data-less flows to make room (the
//! budget's first step), and still flag both web shells uploaded during the flood.
//!
//! Three network namespaces made by `scripts/netns-fragments.sh` (client, router,
//! server). hping3 in the client namespace sends SYNs from random spoofed sources; the
//! router forwards them (reverse-path filter off) and has no route back, so the
//! server's SYN-ACKs to spoofed addresses go nowhere: nothing leaves the namespaces.
//! The flood is bounded by count and by `timeout`; every process is stopped by PID; the
//! namespaces are removed on drop.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::StopOnDrop;

const METRICS_PORT: u16 = 9718;
/// Issue 10: the whole process, rules and CRS included, under the default budget.
const MAX_PEAK_RSS_KIB: u64 = 128 * 1024;
/// Spoofed SYNs sent at most (hping3 `-c`), one every 10 µs at most: more than the
/// two workers' flow tables hold, so the budget has to make room.
const FLOOD_SYNS: u32 = 300_000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rule(e: &serde_json::Value) -> &str {
    e["alert"]["rule"].as_str().unwrap_or_default()
}

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_live_spoofed_syn_flood_stays_in_budget_and_hides_no_upload() {
    if !support::require(
        support::is_root(),
        "live capture in network namespaces needs root",
    ) || !support::require_tool("ip")
        || !support::require_tool("python3")
        || !support::require_tool("curl")
        || !support::require_tool("hping3")
        || !support::require_tool("timeout")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = format!("twf{}", std::process::id() % 100_000);
    let ns = support::Namespaces::up(&prefix);
    let router = format!("{prefix}r");
    let rp_filter_off = Command::new("ip")
        .args(["netns", "exec", &router, "sysctl", "-qw"])
        .args([
            "net.ipv4.conf.all.rp_filter=0".to_owned(),
            "net.ipv4.conf.default.rp_filter=0".to_owned(),
            format!("net.ipv4.conf.{prefix}r0.rp_filter=0"),
        ])
        .status()
        .expect("sysctl");
    assert!(rp_filter_off.success(), "router rp_filter");

    let fragnet = repo().join("scripts/pcapgen/fragnet.py");
    let _server = StopOnDrop(
        ns.exec('s')
            .arg("python3")
            .arg(&fragnet)
            .args(["serve", "10.231.2.2", "80"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start server"),
    );
    let events_path = dir.path().join("events.jsonl");
    let config = format!(
        "site:\n  addresses: [10.231.2.2/32]\n  ports: [80]\n\
         policy:\n  upload_endpoints:\n    - path: /permits/upload\n      extensions: [pdf]\n\
         rules: {rules}\n\
         events:\n  path: {events}\n\
         store:\n  path: {store}\n\
         capture:\n  interface: {prefix}s0\n  workers: 2\n\
         metrics:\n  listen: 127.0.0.1:{METRICS_PORT}\n",
        rules = repo().join("rules").display(),
        events = events_path.display(),
        store = dir.path().join("flagged.db").display(),
    );
    let mut daemon = ns.start_daemon(dir.path(), &config, METRICS_PORT, Duration::from_secs(30));
    let pid = daemon.0.id();
    let metrics = || ns.scrape_metrics(METRICS_PORT);

    let shell = dir.path().join("shell.php");
    fs::write(&shell, "<?php system($_GET['c']); ?>\n").expect("write shell");
    let pdf = dir.path().join("permit.pdf");
    fs::write(
        &pdf,
        b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
    )
    .expect("pdf");
    let upload = |name: &str, form: String| {
        let out = ns
            .exec('c')
            .args(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["--max-time", "20", "-H", "Expect:", "-F", &form])
            .arg("http://10.231.2.2/permits/upload")
            .output()
            .expect("curl");
        let code = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(code, "200", "{name}: upload through the flood: {out:?}");
    };

    let mut flood = StopOnDrop(
        ns.exec('c')
            .args([
                "timeout", "-s", "INT", "10", "hping3", "-q", "-S", "-p", "80",
            ])
            .args(["--rand-source", "-i", "u10", "-c", &FLOOD_SYNS.to_string()])
            .arg("10.231.2.2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hping3"),
    );
    let mut peak_seen_kib = 0;
    let sample = |peak: &mut u64| {
        *peak = (*peak).max(status_kib(pid, "VmRSS:").unwrap_or(0));
    };
    std::thread::sleep(Duration::from_secs(1));
    sample(&mut peak_seen_kib);
    upload(
        "shell.php",
        format!("file=@{};type=application/x-php", shell.display()),
    );
    upload(
        "permit.pdf",
        format!("file=@{};type=application/pdf", pdf.display()),
    );
    std::thread::sleep(Duration::from_secs(1));
    sample(&mut peak_seen_kib);
    upload(
        "shell.phtml",
        format!(
            "file=@{};filename=shell.phtml;type=application/octet-stream",
            shell.display()
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while flood.0.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "hping3 did not stop");
        sample(&mut peak_seen_kib);
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(flood);

    // Both shells flagged, from the real client.
    let deadline = Instant::now() + Duration::from_secs(15);
    let shells = |seen: &[serde_json::Value]| {
        seen.iter()
            .filter(|e| e["src_ip"] == "10.231.1.2" && rule(e) == "upload.script-extension")
            .count()
    };
    while shells(&support::read_events(&events_path)) < 2 {
        assert!(
            Instant::now() < deadline,
            "uploads not flagged during the flood: {:?}",
            support::read_events(&events_path)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The budget's first step made room; workers report every second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (received, dropped, dataless) = loop {
        let text = metrics().expect("metrics");
        let dataless = support::metric_value(
            &text,
            "tamperwatch_memory_pressure_flows_dropped_total{step=\"dataless\"}",
        )
        .unwrap_or(0.0);
        let received = support::metric_value(&text, "tamperwatch_capture_packets_received_total")
            .unwrap_or(0.0);
        let dropped = support::metric_value(&text, "tamperwatch_capture_packets_dropped_total")
            .unwrap_or(0.0);
        if dataless > 0.0 {
            break (received, dropped, dataless);
        }
        assert!(
            Instant::now() < deadline,
            "no data-less flow dropped: the flood never filled the flow tables\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let hwm = status_kib(pid, "VmHWM:").expect("VmHWM");
    eprintln!(
        "live flood: {received} packets captured ({dropped} dropped), {dataless} data-less \
         flows dropped, \
         peak RSS {} MiB (highest sample {} MiB)",
        hwm / 1024,
        peak_seen_kib / 1024
    );
    assert!(
        hwm <= MAX_PEAK_RSS_KIB,
        "peak RSS {hwm} KiB over {MAX_PEAK_RSS_KIB} KiB"
    );

    let status = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "daemon exit: {status:?}");

    let seen = support::read_events(&events_path);
    let surges: Vec<_> = seen
        .iter()
        .filter(|e| rule(e) == "flood.half-open-surge")
        .collect();
    assert_eq!(surges.len(), 1, "one half-open surge episode: {seen:?}");
    // Every site-wide flood event once: the two workers report the same episode, each
    // with its own packets' times, and must not open it twice.
    for e in seen.iter().filter(|e| e["src_ip"] == "0.0.0.0") {
        let same = seen.iter().filter(|o| rule(o) == rule(e)).count();
        assert_eq!(
            same,
            1,
            "{} raised {same} times in one episode: {seen:?}",
            rule(e)
        );
    }
    // Nobody but the real client is named: the flood events carry no address.
    for e in &seen {
        let src = e["src_ip"].as_str().unwrap_or_default();
        assert!(
            src == "10.231.1.2" || src == "0.0.0.0",
            "an event names a spoofed source: {e}"
        );
    }
    assert!(
        !seen.iter().any(|e| e["upload"]["filename"] == "permit.pdf"),
        "the sanctioned PDF upload was flagged: {seen:?}"
    );
}
