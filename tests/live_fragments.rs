//! Live: what the kernel fragments and what IPv6 wraps in extension headers still
//! reaches detection in `tamperwatch run` with two workers.
//!
//! Three network namespaces made by `scripts/netns-fragments.sh` (client, a router whose
//! link to the server has a 1280-byte MTU, server): the client's full-size segments,
//! sent with DF cleared, are fragmented by the router's own IP stack, and an IPv6
//! connection carries a Destination Options header on every packet. The daemon captures
//! on the server's interface with the filter it derives from `site:`. Nothing leaves the
//! namespaces; every process is stopped by PID; the namespaces are removed on drop.

mod support;

use std::path::PathBuf;
use std::process::Stdio;

use std::time::{Duration, Instant};
use support::StopOnDrop;

const METRICS_PORT: u16 = 9717;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script_uploads_from(events: &[serde_json::Value], src: &str) -> usize {
    events
        .iter()
        .filter(|e| e["src_ip"] == src && e["alert"]["rule"] == "upload.script-extension")
        .count()
}

#[test]
fn fragmented_and_extension_header_uploads_are_flagged_live_with_two_workers() {
    if !support::require(
        support::is_root(),
        "live capture in network namespaces needs root",
    ) || !support::require_tool("ip")
        || !support::require_tool("python3")
        || !support::require_tool("curl")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = format!("twl{}", std::process::id() % 100_000);
    let ns = support::Namespaces::up(&prefix);
    let fragnet = repo().join("scripts/pcapgen/fragnet.py");

    let _server = StopOnDrop(
        ns.exec('s')
            .args(["python3"])
            .arg(&fragnet)
            .args(["serve", "::", "80"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start server"),
    );
    let events_path = dir.path().join("events.jsonl");
    let config = format!(
        "site:\n  addresses: [10.231.2.2/32, \"fd31:2::2/128\"]\n  ports: [80]\n\
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
    let mut daemon = ns.start_daemon(dir.path(), &config, METRICS_PORT, Duration::from_secs(20));
    let metrics = || ns.scrape_metrics(METRICS_PORT);

    for (case, addr) in [
        ("frag-upload", "10.231.2.2"),
        ("frag-benign", "10.231.2.2"),
        ("dstopts-upload", "fd31:2::2"),
    ] {
        let out = ns
            .exec('c')
            .arg("python3")
            .arg(&fragnet)
            .args(["send", case, addr, "80"])
            .output()
            .expect("run client");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("200 OK"),
            "{case}: {out:?}"
        );
    }

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = support::read_events(&events_path);
        if script_uploads_from(&seen, "10.231.1.2") > 0
            && script_uploads_from(&seen, "fd31:1::2") > 0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "uploads not flagged live: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Workers add their counters to the metrics every REPORT_INTERVAL (1 s), so the
    // counter may trail the events by up to that long: poll, within a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics().expect("metrics");
        let reassembled = support::metric_value(
            &text,
            "tamperwatch_ip_fragments_total{outcome=\"reassembled\"}",
        )
        .unwrap_or(0.0);
        // Each full-size segment of both uploads is one reassembled datagram.
        if reassembled >= 4.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reassembled datagrams: {reassembled}\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let status = daemon.terminate(Duration::from_secs(15));
    assert!(status.success(), "daemon exit: {status:?}");
    let seen = support::read_events(&events_path);
    assert!(
        !seen.iter().any(|e| e["http"]["url"] == "/permits/upload"),
        "the sanctioned PDF upload was flagged: {seen:?}"
    );
}
