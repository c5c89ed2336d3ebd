//! What an integration test does when it cannot run here (a tool is missing, a mount
//! is refused): it prints why and skips, unless the environment says `CI=true`, where a
//! skipped test would hide a broken runner, so it fails instead. Every such skip in
//! the test suite goes through [`require_tool`] or [`require`].
// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::path::Path;

/// Whether this run is CI (`CI=true` or `CI=1`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Whether the test may go on: `true` if `ok`; otherwise prints `reason` and returns
/// `false` (skip), or panics with it under CI.
pub fn require(ok: bool, reason: &str) -> bool {
    if ok {
        return true;
    }
    assert!(!in_ci(), "CI=true and this test cannot run: {reason}");
    eprintln!("skipped: {reason}");
    false
}

/// Whether `tool` is an executable on PATH (or an existing absolute path); a missing
/// tool skips the test, or fails it under CI.
pub fn require_tool(tool: &str) -> bool {
    require(
        tool_path(tool).is_some(),
        &format!("{tool} is not installed"),
    )
}

/// Where `tool` is: itself if it is a path, else the first PATH entry that has it.
pub fn tool_path(tool: &str) -> Option<std::path::PathBuf> {
    let as_path = Path::new(tool);
    if as_path.is_absolute() {
        return as_path.is_file().then(|| as_path.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs as root (effective uid 0), as live capture needs.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// A process a test started, stopped by its PID when dropped: SIGTERM, up to 5 s to
/// exit, then SIGKILL.
pub struct StopOnDrop(pub std::process::Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

impl StopOnDrop {
    /// Sends SIGTERM and waits up to `limit` for the exit status; panics past it.
    pub fn terminate(&mut self, limit: std::time::Duration) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.0.try_wait() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "process {} did not exit on SIGTERM",
                self.0.id()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// The three network namespaces of `scripts/netns-fragments.sh` (client `PREFIXc`,
/// router `PREFIXr` whose link to the server has a 1280-byte MTU, server `PREFIXs`),
/// removed when dropped, even when the test fails.
pub struct Namespaces {
    prefix: String,
}

impl Namespaces {
    fn script() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/netns-fragments.sh")
    }

    /// Makes the namespaces; panics if the script fails.
    pub fn up(prefix: &str) -> Namespaces {
        let status = std::process::Command::new("bash")
            .arg(Self::script())
            .args(["up", prefix])
            .status()
            .expect("run netns-fragments.sh");
        assert!(status.success(), "netns-fragments.sh up failed");
        Namespaces {
            prefix: prefix.to_owned(),
        }
    }

    /// A command that runs in namespace `which` (`c`, `r` or `s`).
    pub fn exec(&self, which: char) -> std::process::Command {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", &format!("{}{which}", self.prefix)]);
        c
    }
}

impl Namespaces {
    /// The daemon's `/metrics` text, scraped from inside the server namespace on
    /// `127.0.0.1:port`; `None` until it serves.
    pub fn scrape_metrics(&self, port: u16) -> Option<String> {
        self.exec('s')
            .args(["curl", "-s", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{port}/metrics"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Writes `config` to `dir/tamperwatch.yaml` and starts `tamperwatch run` with it in
    /// the server namespace (`ip netns exec` execs it, so the child's PID is the
    /// daemon's); returns once it serves metrics on `port`, panics after `limit`.
    pub fn start_daemon(
        &self,
        dir: &Path,
        config: &str,
        port: u16,
        limit: std::time::Duration,
    ) -> StopOnDrop {
        let config_path = dir.join("tamperwatch.yaml");
        std::fs::write(&config_path, config).expect("write config");
        let daemon = StopOnDrop(
            self.exec('s')
                .arg(env!("CARGO_BIN_EXE_tamperwatch"))
                .args(["run", "--config"])
                .arg(&config_path)
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start daemon"),
        );
        self.wait_for_metrics(port, daemon.0.id(), limit);
        daemon
    }

    /// Waits until the daemon `pid` serves metrics on `port`; panics after `limit`.
    pub fn wait_for_metrics(&self, port: u16, pid: u32, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self.scrape_metrics(port).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "daemon {pid} never served metrics"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Asks a kernel oracle (`scripts/*-oracle.py`): `python3 script server_args...` in
    /// the server namespace says `ready` once its socket is bound, then
    /// `python3 script client_args...` in the client namespace sends. Returns what the
    /// client printed (what it sent) and what the server printed after `ready` (what
    /// its kernel delivered); panics if either fails.
    pub fn ask_oracle(
        &self,
        script: &Path,
        server_args: &[&str],
        client_args: &[&str],
    ) -> (String, String) {
        use std::io::Read;
        let mut server = self
            .exec('s')
            .arg("python3")
            .arg(script)
            .args(server_args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the oracle's server side");
        let mut out = server.stdout.take().expect("server stdout");
        let mut first = [0u8; 6];
        out.read_exact(&mut first).expect("server ready");
        assert_eq!(&first, b"ready\n");
        let sent = self
            .exec('c')
            .arg("python3")
            .arg(script)
            .args(client_args)
            .output()
            .expect("run the oracle's client side");
        assert!(
            sent.status.success(),
            "{}",
            String::from_utf8_lossy(&sent.stderr)
        );
        let mut delivered = String::new();
        out.read_to_string(&mut delivered).expect("server output");
        assert!(server.wait().expect("server exit").success());
        (
            String::from_utf8_lossy(&sent.stdout).into_owned(),
            delivered,
        )
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(Self::script())
            .args(["down", &self.prefix])
            .status();
    }
}

/// The bytes of a hex string (the kernel oracles print what they sent and got in hex).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// A flagged alert as the detector would raise it (a secret-file read from a
/// documentation address), for tests of the sinks.
pub fn sample_alert(flow_id: u64, evidence: String) -> tamperwatch::detect::alert::Alert {
    use tamperwatch::detect::alert::{Alert, AlertRule, Category};
    Alert {
        timestamp: tamperwatch::time::Timestamp::from_secs_micros(1_795_341_600, 0),
        flow_id,
        src: "198.51.100.7:51234".parse().expect("addr"),
        dest: "203.0.113.10:80".parse().expect("addr"),
        rule: AlertRule {
            signature_id: 100_501,
            rule: "recon.secret-file-read".into(),
            signature: "Secret file read".into(),
            category: Category::Recon,
            severity: 2,
        },
        http: None,
        upload: None,
        evidence,
        crs: None,
    }
}

/// The alerts in an events file (JSON lines); none when it is missing, lines that do
/// not parse (one being written) left out.
pub fn read_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The value of the series `name{labels}` (written as in the text) in `/metrics` text.
pub fn metric_value(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
