//! Issue 12 item 1: one raw → compiled configuration, checked in one place. A config
//! that `rules check --config` (systemd's `ExecStartPre`) accepts also starts `run` and
//! `replay`; one it rejects is rejected by every command with the same line.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest a command may take here before it is stopped and the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary to its exit; stops it by PID and fails past [`COMMAND_LIMIT`].
fn tamperwatch(args: &[&str]) -> Output {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tamperwatch");
    let started = Instant::now();
    while started.elapsed() < COMMAND_LIMIT {
        if child.try_wait().expect("poll tamperwatch").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("tamperwatch {args:?} did not exit within {COMMAND_LIMIT:?}");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

/// Every entry point that reads `--config`, as argument lists.
fn entry_points(config: &str, dir: &Path) -> Vec<(&'static str, Vec<String>)> {
    let rules = repo().join("rules").display().to_string();
    let pcap = repo()
        .join("pcaps/http/chunked-request.pcap")
        .display()
        .to_string();
    let store = dir.join("flagged.db").display().to_string();
    let stats = dir.join("stats.db").display().to_string();
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    vec![
        (
            "rules check",
            own(&["rules", "check", &rules, "--config", config]),
        ),
        (
            "replay",
            own(&["replay", "--config", config, "--rules", &rules, &pcap]),
        ),
        ("run", own(&["run", "--config", config])),
        (
            "flagged",
            own(&["flagged", "--config", config, "--store", &store, "list"]),
        ),
        (
            "report",
            own(&["report", "--config", config, "--stats", &stats]),
        ),
    ]
}

/// Configurations every command must refuse, with the reason each must give. The
/// content-group ones were accepted by `rules check` and refused by `run` before.
fn bad_configs() -> Vec<(&'static str, String, &'static str)> {
    let long_prefix = format!("/{}", "a".repeat(256));
    let many: String = (0..65).map(|i| format!("    /g{i}/: g{i}\n")).collect();
    vec![
        (
            "label",
            "policy:\n  content_groups:\n    /x/: \"Bad Label\"\n".to_owned(),
            "must match [a-z0-9_]+",
        ),
        (
            "long prefix",
            format!("policy:\n  content_groups:\n    {long_prefix}: long\n"),
            "is longer than 256 bytes",
        ),
        (
            "too many groups",
            format!("policy:\n  content_groups:\n{many}"),
            "at most 64 groups",
        ),
        (
            "memory budget",
            "limits:\n  memory_bytes: 1024\n".to_owned(),
            "limits.memory_bytes: 1024 is outside",
        ),
        (
            "address mode",
            "privacy:\n  source_address: scramble\n".to_owned(),
            "privacy.source_address: \"scramble\" is not one of keep, truncate, hash",
        ),
        (
            "modes disagree",
            "privacy:\n  source_address: hash\nstore:\n  source_address: keep\n".to_owned(),
            "disagree",
        ),
        (
            "paranoia",
            "crs:\n  paranoia_level: 7\n".to_owned(),
            "crs.paranoia_level: must be 1-4",
        ),
        (
            "snaplen",
            "capture:\n  snaplen: 20\n".to_owned(),
            "capture.snaplen",
        ),
        (
            "method",
            "policy:\n  authorized:\n    - sources: [10.0.0.0/8]\n      methods: [put]\n      paths: [/a/]\n".to_owned(),
            "must be an upper-case token",
        ),
        (
            "unknown key",
            "site:\n  ports: [80]\n  colour: blue\n".to_owned(),
            "colour",
        ),
    ]
}

#[test]
fn every_command_refuses_a_bad_config_with_the_same_line() {
    for (name, yaml, reason) in bad_configs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write(dir.path(), "bad.yaml", &yaml);
        let mut lines = Vec::new();
        for (command, args) in entry_points(&config, dir.path()) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = tamperwatch(&args);
            let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
            assert_eq!(out.status.code(), Some(1), "{name} / {command}: {stderr}");
            assert!(stderr.contains(reason), "{name} / {command}: {stderr}");
            assert!(stderr.contains("bad.yaml"), "{name} / {command}: {stderr}");
            lines.push((command, stderr));
        }
        let (first, line) = &lines[0];
        for (command, other) in &lines[1..] {
            assert_eq!(other, line, "{name}: {command} and {first} differ");
        }
        assert!(
            !dir.path().join("flagged.db").exists(),
            "{name}: a refused config created the store"
        );
    }
}

/// Configurations at the edge of what is allowed; `rules check` accepts them, so
/// `replay` must run them and `run` must get past configuration and rules (to the
/// capture interface, which here does not exist).
fn good_configs(dir: &Path) -> Vec<(&'static str, String)> {
    let rules = repo().join("rules").display().to_string();
    let key_dir = dir.join("keys");
    std::fs::create_dir_all(&key_dir).expect("key dir");
    let key = key_dir.join("address.key").display().to_string();
    let prefix = format!("/{}", "a".repeat(255));
    let many: String = (0..62).map(|i| format!("    /g{i}/: g{i}\n")).collect();
    let common = format!(
        "rules: {rules}\ncapture:\n  interface: twnosuch0\nmetrics:\n  listen: 127.0.0.1:0\n"
    );
    vec![
        ("empty", common.clone() + "crs:\n  enabled: false\n"),
        (
            "64 groups, 256-byte prefix, other",
            format!(
                "{common}crs:\n  enabled: false\npolicy:\n  content_groups:\n{many}    {prefix}: long\n    /legacy/: other\n"
            ),
        ),
        (
            "hash mode with CRS",
            format!("{common}privacy:\n  source_address: hash\n  address_key: {key}\n  key_rotation_days: 30\n"),
        ),
        (
            "deprecated store mode",
            format!("{common}crs:\n  enabled: false\nstore:\n  source_address: truncate\n"),
        ),
    ]
}

#[test]
fn a_config_rules_check_accepts_starts_replay_and_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, yaml) in good_configs(dir.path()) {
        let case = tempfile::tempdir_in(dir.path()).expect("case dir");
        let config = write(case.path(), "good.yaml", &yaml);
        let points = entry_points(&config, case.path());
        let run = |label: &str| {
            let (_, args) = points
                .iter()
                .find(|(c, _)| *c == label)
                .expect("entry point");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tamperwatch(&args)
        };
        let check = run("rules check");
        assert!(
            check.status.success(),
            "{name}: rules check: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let events = case.path().join("events.jsonl").display().to_string();
        let rules = repo().join("rules").display().to_string();
        let pcap = repo().join("pcaps/http/chunked-request.pcap");
        let replay = tamperwatch(&[
            "replay",
            "--config",
            &config,
            "--rules",
            &rules,
            "--events",
            &events,
            &pcap.display().to_string(),
        ]);
        assert!(
            replay.status.success(),
            "{name}: replay: {}",
            String::from_utf8_lossy(&replay.stderr)
        );
        let live = run("run");
        let stderr = String::from_utf8_lossy(&live.stderr);
        assert_eq!(live.status.code(), Some(1), "{name}: run: {stderr}");
        assert!(
            stderr.contains("capture.interface \"twnosuch0\": no such network interface"),
            "{name}: run stopped before the capture: {stderr}"
        );
    }
}
