//! Flow identity in a live run with two packet workers: every connection's events carry
//! a `flow_id` of their own, whichever worker held the connection (issue 12: each
//! worker's flow table used to count from 1, so ids collided across workers).
//!
//! Forty clients on distinct loopback addresses (127.0.0.10-49, which the fan-out
//! spreads over both workers) each send one unauthorized PUT to a Python HTTP server;
//! each PUT is flagged, so the events file holds one event per connection. Needs root
//! (live capture on `lo`), python3, curl and kill; skips otherwise (fails under CI).

mod support;

use support::StopOnDrop;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tamperwatch::flow::FlowKey;

/// Connections made, one per client address.
const CLIENTS: u8 = 40;
/// Packet workers of the daemon under test.
const WORKERS: u64 = 2;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

fn write_config(dir: &Path, site_port: u16, metrics_port: u16) -> PathBuf {
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    let config = format!(
        "site:\n  addresses: [127.0.0.1/32]\n  ports: [{site_port}]\n\
         rules: {rules}\n\
         crs:\n  enabled: false\n\
         events:\n  path: {events}\n\
         store:\n  path: {store}\n\
         capture:\n  interface: lo\n  workers: {WORKERS}\n\
         metrics:\n  listen: 127.0.0.1:{metrics_port}\n",
        rules = rules.display(),
        events = dir.join("events.jsonl").display(),
        store = dir.join("flagged.db").display(),
    );
    let path = dir.join("tamperwatch.yaml");
    fs::write(&path, config).expect("write config");
    path
}

/// The worker the fan-out gives a client's connections to the site (it shards by the
/// address pair, ports left out).
fn worker_of_client(client: IpAddr) -> u64 {
    let site = IpAddr::V4(Ipv4Addr::LOCALHOST);
    FlowKey::new(SocketAddr::new(client, 0), SocketAddr::new(site, 0)).shard_hash() % WORKERS
}

#[test]
fn flow_ids_are_distinct_across_two_live_workers() {
    let missing: Vec<&str> = ["python3", "curl", "kill"]
        .into_iter()
        .filter(|t| support::tool_path(t).is_none())
        .collect();
    let ready = support::is_root() && missing.is_empty();
    if !support::require(
        ready,
        &format!("live flow-id test needs root and {missing:?}"),
    ) {
        return;
    }
    let clients: Vec<IpAddr> = (10..10 + CLIENTS)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
        .collect();
    let workers_used: BTreeSet<u64> = clients.iter().map(|c| worker_of_client(*c)).collect();
    assert_eq!(
        workers_used.len() as u64,
        WORKERS,
        "the clients must span every worker for this test to mean anything"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let site_port = free_port();
    let _server = StopOnDrop(
        Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(site_port.to_string())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 http.server"),
    );
    let up = wait_for(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", site_port)).is_ok()
    });
    assert!(up, "python3 http.server did not listen on {site_port}");

    let metrics_port = free_port();
    let config = write_config(dir, site_port, metrics_port);
    let mut daemon = StopOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("daemon.log")).expect("log"))
            .spawn()
            .expect("start tamperwatch run"),
    );
    let log = || fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
    let listening = wait_for(Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", metrics_port)).is_ok()
    });
    assert!(listening, "daemon not up; log:\n{}", log());
    // The capture opens before the metrics listener; give it a moment to settle.
    std::thread::sleep(Duration::from_millis(500));

    for client in &clients {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "5", "-X", "PUT"])
            .args(["--interface", &client.to_string()])
            .args(["--data-binary", "replacement page"])
            .arg(format!("http://127.0.0.1:{site_port}/index.html"))
            .output()
            .expect("run curl");
        assert!(out.status.success(), "curl from {client}: {out:?}");
    }

    let events_path = dir.join("events.jsonl");
    let events = || -> Vec<serde_json::Value> {
        fs::read_to_string(&events_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|e: &serde_json::Value| e["http"]["http_method"] == "PUT")
            .collect()
    };
    // Events of every client, then SIGTERM drains the rest.
    wait_for(Duration::from_secs(10), || {
        events()
            .iter()
            .filter_map(|e| e["src_ip"].as_str())
            .collect::<BTreeSet<_>>()
            .len()
            == clients.len()
    });
    let term = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let exited = wait_for(Duration::from_secs(10), || {
        matches!(daemon.0.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "daemon did not stop; log:\n{}", log());

    // One flow per client connection: map each flow id to the connections using it.
    let mut connections_of: BTreeMap<u64, BTreeSet<(String, u64)>> = BTreeMap::new();
    for e in events() {
        let id = e["flow_id"].as_u64().expect("flow_id is a number");
        let src = e["src_ip"].as_str().unwrap_or_default().to_owned();
        let port = e["src_port"].as_u64().unwrap_or_default();
        connections_of.entry(id).or_default().insert((src, port));
    }
    let connections: usize = connections_of.values().map(BTreeSet::len).sum();
    assert_eq!(
        connections,
        clients.len(),
        "one flagged connection per client expected: {connections_of:#?}\nlog:\n{}",
        log()
    );
    let shared: Vec<_> = connections_of.iter().filter(|(_, c)| c.len() > 1).collect();
    assert!(
        shared.is_empty(),
        "flow ids shared by several connections: {shared:#?}"
    );
}
