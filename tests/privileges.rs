//! After start-up the daemon holds no capability, in any of its threads, and capture
//! keeps working: `tamperwatch run` on loopback (as root), then every
//! `/proc/PID/task/*/status` must show empty effective and permitted sets while a
//! request to a test server on 127.0.0.1 is still seen and flagged. Needs root; skips
//! otherwise (fails under CI=true). The daemon is stopped by its PID.

mod support;

use support::StopOnDrop;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn write_config(dir: &Path, site_port: u16, metrics_port: u16) -> PathBuf {
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    let config = format!(
        "site:\n  addresses: [127.0.0.1/32]\n  ports: [{site_port}]\n\
         rules: {rules}\n\
         events:\n  path: {events}\n\
         store:\n  path: {store}\n\
         capture:\n  interface: lo\n  workers: 2\n\
         metrics:\n  listen: 127.0.0.1:{metrics_port}\n",
        rules = rules.display(),
        events = dir.join("events.jsonl").display(),
        store = dir.join("flagged.db").display(),
    );
    let path = dir.join("tamperwatch.yaml");
    fs::write(&path, config).expect("write config");
    path
}

/// One HTTP/1.0 exchange on loopback: the whole response, or None.
fn exchange(port: u16, target: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!(
        "GET {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: privileges-test\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let _ = stream.shutdown(Shutdown::Write);
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    Some(String::from_utf8_lossy(&response).into_owned())
}

fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `(thread id, CapEff, CapPrm)` of every thread of `pid`.
fn thread_capabilities(pid: u32) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.filter_map(Result::ok) {
        let Ok(status) = fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(u64::MAX)
        };
        out.push((
            task.file_name().to_string_lossy().into_owned(),
            field("CapEff:"),
            field("CapPrm:"),
        ));
    }
    out
}

#[test]
fn the_running_daemon_holds_no_capability_and_still_captures() {
    if !support::require(support::is_root(), "live capture needs root") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A tiny site on loopback that answers every request with 404.
    let site = TcpListener::bind("127.0.0.1:0").expect("site listener");
    let site_port = site.local_addr().expect("site addr").port();
    std::thread::spawn(move || {
        for stream in site.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            // Read the whole request head first: closing with unread bytes would
            // reset the connection instead of ending it.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 2048];
            while head.len() < 65_536 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(
                b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let metrics_port = free_port();
    let config = write_config(dir.path(), site_port, metrics_port);
    let daemon = StopOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.path().join("daemon.log")).expect("log"))
            .spawn()
            .expect("start tamperwatch run"),
    );
    let log = || fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(20), || {
            exchange(metrics_port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
        }),
        "daemon never became ready: {}",
        log()
    );

    let threads = thread_capabilities(daemon.0.id());
    assert!(threads.len() >= 3, "threads: {threads:?}");
    for (tid, effective, permitted) in &threads {
        assert_eq!(
            (*effective, *permitted),
            (0, 0),
            "thread {tid} still holds capabilities"
        );
    }

    // Capture still works without them: the request is seen and flagged.
    let answer = exchange(site_port, "/.env").expect("site answers");
    assert!(answer.starts_with("HTTP/1.0 404"), "{answer}");
    let events = dir.path().join("events.jsonl");
    assert!(
        wait_for(Duration::from_secs(10), || {
            fs::read_to_string(&events).is_ok_and(|e| e.contains("/.env"))
        }),
        "no event for the request; log: {}",
        log()
    );
    drop(daemon);
}
