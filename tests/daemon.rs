//! The live daemon with real parts: nginx serving on loopback, curl sending benign and
//! hostile requests, `tamperwatch run` capturing on `lo` into its events file and
//! flagged store (seeded with expired alerts that retention must purge), a real
//! Prometheus scraping it, a broken reload, systemd notifications, and the drain on
//! SIGTERM. Start-up failures are checked too: each is one line and exit 1.
//!
//! Live capture needs root (CI runs as root); without it, or without nginx, curl or
//! prometheus on the PATH, a test prints why it is skipped and passes, except under
//! CI=true, where it fails (`support::require`). Every process a
//! test starts is stopped by its PID when the test ends ([`Proc`]'s `Drop`); all
//! traffic stays on 127.0.0.1; every wait is bounded.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A process started by a test, stopped (SIGTERM, then SIGKILL) when dropped.
struct Proc {
    name: &'static str,
    child: Option<Child>,
}

impl Proc {
    fn start(name: &'static str, command: &mut Command) -> Proc {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            name,
            child: Some(child),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -{signal} {} ({})",
            self.pid(),
            self.name
        );
    }

    fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits for the process to exit, at most `limit`, and collects its piped output.
    fn output_within(&mut self, limit: Duration) -> Option<Output> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return self.child.take()?.wait_with_output().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The path of a program on PATH (or in the sbin directories root uses).
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file());
    found
}

/// Why a live test cannot run here, if it cannot.
fn live_skip_reason(tools: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("live capture needs root".to_owned());
    }
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| tool(t).is_none())
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!("not installed: {}", missing.join(", ")))
    }
}

macro_rules! skip_unless_live {
    ($test:expr, $tools:expr) => {
        if let Some(reason) = live_skip_reason($tools) {
            support::require(false, &format!("{}: {reason}", $test));
            return;
        }
    };
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn tamperwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
}

fn repo_rules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read rules dir") {
        let entry = entry.expect("entry");
        // The YAML rules only: the bundled CRS (rules/crs/) stays out of these tests.
        if entry.path().is_dir() {
            continue;
        }
        fs::copy(entry.path(), to.join(entry.file_name())).expect("copy rule file");
    }
}

/// Lets unprivileged nginx workers (and `nobody`) read the directory.
fn make_readable(dir: &Path) {
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(dir).status();
}

/// A tamperwatch config for loopback capture with everything in `dir`.
fn write_config(dir: &Path, site_port: u16, metrics_port: u16, interface: &str) -> PathBuf {
    let rules = dir.join("rules");
    if !rules.exists() {
        copy_dir(&repo_rules(), &rules);
    }
    let config = format!(
        "site:\n  addresses: [127.0.0.1/32]\n  ports: [{site_port}]\n\
         rules: {rules}\n\
         events:\n  path: {events}\n\
         store:\n  path: {store}\n\
         stats:\n  path: {stats}\n\
         capture:\n  interface: {interface}\n  workers: 2\n\
         metrics:\n  listen: 127.0.0.1:{metrics_port}\n",
        rules = rules.display(),
        events = dir.join("events.jsonl").display(),
        store = dir.join("flagged.db").display(),
        stats = dir.join("stats.db").display(),
    );
    let path = dir.join("tamperwatch.yaml");
    fs::write(&path, config).expect("write config");
    path
}

/// One HTTP/1.0 GET on loopback: (status, body), or None if nothing answered.
fn http_get(port: u16, target: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    write!(
        stream,
        "GET {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    // No half-close after the request: Go's HTTP server (Prometheus) takes the closed
    // write side for a client gone and cancels the request, so a query that took a
    // moment came back "query was canceled" (503) and the scrape check failed now and
    // then. HTTP/1.0 with `Connection: close` has the server close after answering.
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn curl(args: &[&str]) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--globoff", "--max-time", "5"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {args:?}: {out:?}");
}

/// Every event in the events file, parsed.
fn events(dir: &Path) -> Vec<serde_json::Value> {
    support::read_events(&dir.join("events.jsonl"))
}

fn url_of(e: &serde_json::Value) -> &str {
    e["http"]["url"].as_str().unwrap_or_default()
}

fn has_event(events: &[serde_json::Value], pred: impl Fn(&serde_json::Value) -> bool) -> bool {
    events.iter().any(pred)
}

/// The value of a sample in Prometheus text format (`name{labels} value`).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

fn start_nginx(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let root = dir.join("www");
    fs::create_dir_all(&root).expect("mkdir www");
    fs::write(root.join("index.html"), "<h1>City of Example</h1>\n").expect("index");
    fs::write(root.join("about.html"), "<p>About</p>\n").expect("about");
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n",
        d = dir.display(),
        root = root.display(),
    );
    let conf_path = dir.join("nginx.conf");
    fs::write(&conf_path, conf).expect("nginx.conf");
    make_readable(dir);
    let nginx = Proc::start(
        "nginx",
        Command::new(tool("nginx").expect("nginx"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let up = wait_for(Duration::from_secs(10), || http_get(port, "/").is_some());
    assert!(up, "nginx did not answer on 127.0.0.1:{port}");
    (nginx, port)
}

fn start_prometheus(dir: &Path, target_port: u16) -> (Proc, u16) {
    let port = free_port();
    let conf = format!(
        // A scrape may wait for a CPU on a loaded 2-core CI machine: a timeout under a
        // second made every scrape fail there, so it is the whole interval.
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n\
         scrape_configs:\n  - job_name: tamperwatch\n    static_configs:\n\
         \x20     - targets: ['127.0.0.1:{target_port}']\n"
    );
    let conf_path = dir.join("prometheus.yml");
    fs::write(&conf_path, conf).expect("prometheus.yml");
    let prometheus = Proc::start(
        "prometheus",
        Command::new(tool("prometheus").expect("prometheus"))
            .arg(format!("--config.file={}", conf_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("prometheus.log")).expect("log")),
    );
    (prometheus, port)
}

/// The sum of every series Prometheus returns for `query`, once it has one.
fn prometheus_value(port: u16, query: &str) -> Option<f64> {
    let (status, body) = http_get(port, &format!("/api/v1/query?query={query}"))?;
    if status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let results = json["data"]["result"].as_array()?;
    if results.is_empty() {
        return None;
    }
    Some(
        results
            .iter()
            .filter_map(|r| r["value"][1].as_str()?.parse::<f64>().ok())
            .sum(),
    )
}

#[test]
fn live_daemon_flags_attacks_feeds_prometheus_survives_a_bad_reload_and_drains() {
    skip_unless_live!(
        "live daemon test",
        &["nginx", "curl", "prometheus", "kill", "chmod"]
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let (_nginx, site_port) = start_nginx(dir);
    let metrics_port = free_port();
    let config = write_config(dir, site_port, metrics_port, "lo");
    // A store already holding alerts from 2012: retention (30 days) purges them at start.
    let expired = seed_expired_alerts(&dir.join("flagged.db"));

    let mut daemon = Proc::start(
        "tamperwatch run",
        tamperwatch()
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("daemon.log")).expect("log")),
    );
    let ready = wait_for(Duration::from_secs(20), || {
        http_get(metrics_port, "/readyz").is_some_and(|(s, _)| s == 200)
    });
    let log = || fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
    assert!(ready, "daemon not ready; log:\n{}", log());

    let site = format!("http://127.0.0.1:{site_port}");
    for path in ["/", "/index.html", "/about.html", "/missing.html"] {
        curl(&[&format!("{site}{path}")]);
    }
    curl(&[
        "-X",
        "PUT",
        "--data-binary",
        "<?php system($_GET['c']); ?>",
        &format!("{site}/shell.php"),
    ]);
    curl(&[&format!("{site}/.env")]);
    curl(&[&format!("{site}/?id=1'%20UNION%20SELECT%20a%20FROM%20b--")]);

    let sent = Instant::now();
    let all_three = |ev: &[serde_json::Value]| {
        has_event(ev, |e| {
            url_of(e) == "/shell.php" && e["http"]["http_method"] == "PUT"
        }) && has_event(ev, |e| url_of(e) == "/.env")
            && has_event(ev, |e| {
                e["alert"]["category"] == "injection" && url_of(e).starts_with("/?id=")
            })
    };
    let flagged = wait_for(Duration::from_secs(2), || all_three(&events(dir)));
    let took = sent.elapsed();
    let seen = events(dir);
    assert!(
        flagged,
        "attack events missing after {took:?}: {seen:#?}\nlog:\n{}",
        log()
    );
    for benign in ["/", "/index.html", "/about.html", "/missing.html"] {
        assert!(
            !has_event(&seen, |e| url_of(e) == benign),
            "benign {benign} flagged: {seen:#?}"
        );
    }
    // Query values are redacted in events (the matched token is the evidence).
    let injection = seen
        .iter()
        .find(|e| e["alert"]["category"] == "injection")
        .map(url_of)
        .unwrap_or_default();
    assert_eq!(
        injection, "/?id=<redacted>",
        "query value leaked into events"
    );

    // The flagged store: the expired rows are gone, the new alerts are committed.
    let mut metrics = String::new();
    let stored = wait_for(Duration::from_secs(10), || {
        metrics = http_get(metrics_port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default();
        sample(&metrics, "tamperwatch_store_purged_rows_total") == Some(expired as f64)
            && sample(&metrics, "tamperwatch_store_rows").is_some_and(|n| n >= 3.0)
    });
    assert!(
        stored,
        "store metrics (expected {expired} purged, >= 3 rows):\n{metrics}"
    );

    // A real Prometheus scrapes the daemon and sees the requests.
    let (_prometheus, prom_port) = start_prometheus(dir, metrics_port);
    let mut requests = None;
    // Prometheus starts slowly on a loaded machine (TSDB set-up), hence the long bound.
    let scraped = wait_for(Duration::from_secs(60), || {
        requests = prometheus_value(prom_port, "tamperwatch_http_requests_total");
        requests.is_some_and(|v| v > 0.0)
    });
    assert!(
        scraped,
        "Prometheus has no tamperwatch_http_requests_total > 0 (got {requests:?}); \
         its scrape targets: {}\nthe daemon's /metrics has:\n{}\nPrometheus log:\n{}",
        http_get(prom_port, "/api/v1/targets")
            .map(|(_, body)| body)
            .unwrap_or_default(),
        http_get(metrics_port, "/metrics")
            .map(|(_, body)| body
                .lines()
                .filter(|l| l.starts_with("tamperwatch_http_requests_total"))
                .collect::<Vec<_>>()
                .join("\n"))
            .unwrap_or_default(),
        fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    );

    // A broken rules file: the reload fails, is counted, and the old rules keep working.
    fs::write(
        dir.join("rules").join("zz-broken.yaml"),
        "- id: 999999\n  name: broken\n  match: [not, a, rule\n",
    )
    .expect("write broken rule");
    daemon.signal("HUP");
    let counted = wait_for(Duration::from_secs(10), || {
        metrics = http_get(metrics_port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default();
        sample(&metrics, "tamperwatch_reloads_total{result=\"error\"}") == Some(1.0)
    });
    assert!(
        counted,
        "reload error not counted:\n{metrics}\nlog:\n{}",
        log()
    );
    assert_eq!(
        sample(&metrics, "tamperwatch_reloads_total{result=\"ok\"}"),
        Some(0.0)
    );
    assert!(
        daemon.is_running(),
        "daemon died on a bad reload:\n{}",
        log()
    );
    assert!(
        log().contains("reload failed"),
        "reload failure not logged:\n{}",
        log()
    );
    curl(&[&format!("{site}/.git/config")]);
    let still_flagging = wait_for(Duration::from_secs(2), || {
        has_event(&events(dir), |e| url_of(e) == "/.git/config")
    });
    assert!(
        still_flagging,
        "old rules stopped working after a bad reload"
    );

    // SIGTERM drains and exits 0; everything flagged is in the file.
    let before = events(dir).len();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exit after SIGTERM: {status:?}\nlog:\n{}",
        log()
    );
    let after = events(dir);
    assert!(after.len() >= before);
    assert!(all_three(&after));
    let kept = stored_alerts(&dir.join("flagged.db"));
    assert!(
        kept.iter().all(|e| e["timestamp"]
            .as_str()
            .is_some_and(|t| !t.starts_with("2012"))),
        "expired alerts survived retention: {kept:#?}"
    );
    assert!(
        all_three(&kept),
        "attacks missing from the store: {kept:#?}"
    );
    assert!(has_event(&kept, |e| url_of(e) == "/.git/config"));
    // The drain flushed the anonymous statistics: requests and flagged events by rule.
    let stats = rusqlite::Connection::open(dir.join("stats.db")).expect("stats db");
    let requests: i64 = stats
        .query_row(
            "SELECT COALESCE(SUM(count), 0) FROM stats WHERE dimension = 'requests_by_content'",
            [],
            |r| r.get(0),
        )
        .expect("requests");
    let flagged: i64 = stats
        .query_row(
            "SELECT COALESCE(SUM(count), 0) FROM stats WHERE dimension = 'flagged'",
            [],
            |r| r.get(0),
        )
        .expect("flagged");
    assert!(
        requests > 0 && flagged > 0,
        "stats: {requests} requests, {flagged} flagged"
    );
    let log = log();
    assert!(log.contains("stopped"), "{log}");
    // No client address in any log line (alerts carry them only in the events file).
    for line in log.lines() {
        assert!(
            !line.contains("127.0.0.1:") || line.contains(&format!("127.0.0.1:{metrics_port}")),
            "address in log line: {line}"
        );
    }
}

/// Puts alerts from a 2012 capture (Zeek's methods.pcap) into a new store; returns how
/// many.
fn seed_expired_alerts(store: &Path) -> usize {
    let trace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps/third_party/zeek/traces/methods.pcap");
    let out = tamperwatch()
        .arg("replay")
        .arg("--rules")
        .arg(repo_rules())
        .arg("--store")
        .arg(store)
        .arg(&trace)
        .output()
        .expect("run replay --store");
    assert!(out.status.success(), "{out:?}");
    let n = stored_alerts(store).len();
    assert!(n > 0, "methods.pcap gave no alerts");
    n
}

/// Every alert in a flagged store, as `flagged export` prints it.
fn stored_alerts(store: &Path) -> Vec<serde_json::Value> {
    let out = tamperwatch()
        .args(["flagged", "export", "--store"])
        .arg(store)
        .output()
        .expect("run flagged export");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Asserts exit 1 with exactly one stderr line saying `reason`, within `limit`.
fn assert_refused(out: &Output, elapsed: Duration, reason: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.contains(reason), "{stderr} should say {reason}");
    assert!(!stderr.contains("panicked"));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// Runs `tamperwatch run --config CONFIG` to its exit (killed, and failing, after 20 s).
fn run_to_exit(mut command: Command) -> (Output, Duration) {
    let started = Instant::now();
    let mut proc = Proc::start(
        "tamperwatch run",
        command.stdout(Stdio::piped()).stderr(Stdio::piped()),
    );
    let out = proc.output_within(Duration::from_secs(20));
    let elapsed = started.elapsed();
    (
        out.expect("tamperwatch run did not exit within 20 s"),
        elapsed,
    )
}

fn run_with(config: &Path) -> Command {
    let mut c = tamperwatch();
    c.arg("run").arg("--config").arg(config);
    c
}

#[test]
fn run_refuses_a_missing_config_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.yaml");
    let (out, took) = run_to_exit(run_with(&missing));
    assert_refused(&out, took, "No such file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.yaml"));
}

#[test]
fn run_refuses_a_nonexistent_interface_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), 8080, free_port(), "twnosuch0");
    let (out, took) = run_to_exit(run_with(&config));
    assert_refused(
        &out,
        took,
        "capture.interface \"twnosuch0\": no such network interface",
    );
}

#[test]
fn run_refuses_a_metrics_port_in_use_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let config = write_config(dir.path(), 8080, port, "lo");
    let (out, took) = run_to_exit(run_with(&config));
    assert_refused(
        &out,
        took,
        &format!("metrics.listen 127.0.0.1:{port}: address already in use"),
    );
    drop(taken);
}

#[test]
fn run_refuses_a_bad_filter_in_one_line() {
    skip_unless_live!("bad filter test", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), 8080, free_port(), "lo");
    let text = fs::read_to_string(&config).expect("config");
    let text = text.replace(
        "  workers: 2\n",
        "  workers: 2\n  filter: \"tcp and prot 80\"\n",
    );
    fs::write(&config, text).expect("write config");
    let (out, took) = run_to_exit(run_with(&config));
    assert_refused(&out, took, "capture.filter \"tcp and prot 80\": ");
}

#[test]
fn run_without_capture_permission_fails_in_one_line() {
    skip_unless_live!("permission test", &["setpriv", "chmod"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), 8080, free_port(), "lo");
    make_readable(dir.path());
    let mut command = Command::new(tool("setpriv").expect("setpriv"));
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("run")
        .arg("--config")
        .arg(&config);
    let (out, took) = run_to_exit(command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Permission denied (os error 13)") && !stderr.contains("capture.") {
        support::require(
            false,
            &format!("permission test: nobody cannot read the test files: {stderr}"),
        );
        return;
    }
    assert_refused(&out, took, "capture.interface \"lo\": permission denied");
}

#[test]
fn run_tells_systemd_ready_pings_the_watchdog_and_says_stopping() {
    skip_unless_live!("sd_notify test", &["sh", "kill"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let config = write_config(dir, free_port(), free_port(), "lo");
    let socket_path = dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // systemd sets WATCHDOG_PID to the service's PID: `exec` keeps the shell's.
    let mut daemon = Proc::start(
        "tamperwatch run",
        Command::new("sh")
            .args([
                "-c",
                "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" run --config \"$1\"",
            ])
            .arg(env!("CARGO_BIN_EXE_tamperwatch"))
            .arg(&config)
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "1000000")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mut messages = Vec::<String>::new();
    let mut receive_until = |done: &dyn Fn(&[String]) -> bool, limit: Duration| {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        while !done(&messages) && Instant::now() < deadline {
            if let Ok(n) = socket.recv(&mut buf) {
                messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        done(&messages)
    };
    let count =
        |m: &[String], what: &str| m.iter().filter(|s| s.lines().any(|l| l == what)).count();
    let ready_and_pinged = receive_until(
        &|m: &[String]| count(m, "READY=1") >= 1 && count(m, "WATCHDOG=1") >= 2,
        Duration::from_secs(20),
    );
    assert!(ready_and_pinged, "notifications so far: {messages:?}");
    daemon.signal("TERM");
    let stopping = receive_until(
        &|m: &[String]| count(m, "STOPPING=1") >= 1,
        Duration::from_secs(10),
    );
    assert!(stopping, "notifications so far: {messages:?}");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[test]
fn the_packaged_example_config_is_valid() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tamperwatch()
        .args(["rules", "check"])
        .arg(root.join("rules"))
        .arg("--config")
        .arg(root.join("systemd/tamperwatch.yaml"))
        .output()
        .expect("run rules check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
