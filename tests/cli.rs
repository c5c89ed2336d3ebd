//! Bad input at the command line: one clear line on stderr naming the file and the
//! reason, exit code 1 (2 for usage), never a panic or a hang. Malformed captures are
//! hand-built here, since no real software writes them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tamperwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(args)
        .output()
        .expect("run tamperwatch")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A classic pcap file header (microsecond, little-endian) with the given link type.
fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0u8; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

fn record(ts: u32, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&ts.to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&(data.len() as u32).to_le_bytes());
    r.extend_from_slice(&(data.len() as u32).to_le_bytes());
    r.extend_from_slice(data);
    r
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p.to_string_lossy().into_owned()
}

/// Asserts exit 1 with exactly one stderr line that names `path` and says `reason`.
fn assert_refused(out: &Output, path: &str, reason: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.contains(path), "{stderr} should name {path}");
    assert!(stderr.contains(reason), "{stderr} should say {reason}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn refuses_missing_empty_directory_and_non_capture_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.pcap").to_string_lossy().into_owned();
    let empty = write(dir.path(), "empty.pcap", b"");
    let text = write(
        dir.path(),
        "notes.txt",
        b"this is not a capture file at all\n",
    );
    let d = dir.path().to_string_lossy().into_owned();
    for cmd in ["replay", "inspect"] {
        assert_refused(&tamperwatch(&[cmd, &missing]), &missing, "no such file");
        assert_refused(&tamperwatch(&[cmd, &empty]), &empty, "empty file");
        assert_refused(&tamperwatch(&[cmd, &text]), &text, "not a pcap or pcapng");
        assert_refused(&tamperwatch(&[cmd, &d]), &d, "is a directory");
    }
}

#[test]
fn refuses_unknown_link_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "user0.pcap", &pcap_header(147));
    assert_refused(
        &tamperwatch(&["replay", &f]),
        &f,
        "link type 147 is not supported",
    );
}

#[test]
fn truncated_capture_reports_after_processing_whole_packets() {
    let real = std::fs::read(root().join("pcaps/http/get-keepalive.pcap")).expect("capture");
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "cut.pcap", &real[..real.len() - 7]);
    let out = tamperwatch(&["inspect", &f]);
    assert_refused(&out, &f, "truncated");
    // Transactions read before the cut are still printed: nothing read is lost.
    assert!(!out.stdout.is_empty());
}

#[test]
fn garbage_packets_are_counted_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut file = pcap_header(1);
    let mut seed = 0x2545F491u32;
    for i in 0..500u32 {
        let len = (i % 97) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        file.extend_from_slice(&record(i, &data));
    }
    let f = write(dir.path(), "garbage.pcap", &file);
    let out = tamperwatch(&["replay", &f]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("packets            500"), "{summary}");
    assert!(summary.contains("decode errors"), "{summary}");
}

#[test]
fn usage_errors_exit_2_and_help_explains() {
    assert_eq!(tamperwatch(&["replay"]).status.code(), Some(2));
    assert_eq!(tamperwatch(&["frobnicate"]).status.code(), Some(2));
    let help = tamperwatch(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for word in ["replay", "inspect", "rules", "Exit codes"] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
}

#[test]
fn rules_check_names_file_line_and_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &str, &str); 6] = [
        ("bad-yaml.yaml", "- id: 1\n  name: [unclosed\n", "bad-yaml.yaml:"),
        (
            "unknown-op.yaml",
            "- id: 7\n  name: t.x\n  signature: s\n  category: recon\n  severity: 2\n  match: { field: path, containz: a }\n",
            "unknown-op.yaml:1: rule 7: unknown operator \"containz\"",
        ),
        (
            "bad-regex.yaml",
            "\n- id: 8\n  name: t.y\n  signature: s\n  category: recon\n  severity: 2\n  match: { field: path, regex: '(' }\n",
            "bad-regex.yaml:2: rule 8: bad regex",
        ),
        (
            "bad-cidr.yaml",
            "- id: 9\n  name: t.z\n  signature: s\n  category: recon\n  severity: 2\n  match: { field: src, cidr: [10.0.0.0/33] }\n",
            "bad CIDR",
        ),
        (
            "unknown-field.yaml",
            "- id: 10\n  name: t.w\n  signature: s\n  category: recon\n  severity: 2\n  match: { field: colour, equals: red }\n",
            "unknown field \"colour\"",
        ),
        (
            "unknown-key.yaml",
            "- id: 11\n  name: t.v\n  signature: s\n  category: recon\n  severity: 2\n  priority: 5\n  match: { field: path, equals: /x }\n",
            "unknown field `priority`",
        ),
    ];
    for (name, text, want) in cases {
        let f = write(dir.path(), name, text.as_bytes());
        let out = tamperwatch(&["rules", "check", &f]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(want), "{name}: {stderr:?} lacks {want:?}");
    }
    // Duplicate ids across files name both places.
    let sub = dir.path().join("dups");
    std::fs::create_dir(&sub).expect("mkdir");
    let rule = "- id: 42\n  name: NAME\n  signature: s\n  category: recon\n  severity: 2\n  match: { field: path, equals: /x }\n";
    write(&sub, "a.yaml", rule.replace("NAME", "a.one").as_bytes());
    write(&sub, "b.yaml", rule.replace("NAME", "b.two").as_bytes());
    let out = tamperwatch(&["rules", "check", &sub.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("b.yaml:1: duplicate rule id 42") && stderr.contains("a.yaml:1"),
        "{stderr}"
    );
}

#[test]
fn default_rules_and_canonical_config_pass_the_check() {
    let out = tamperwatch(&[
        "rules",
        "check",
        &root().join("rules").to_string_lossy(),
        "--config",
        &root().join("pcaps/site.yaml").to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_config_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "c.yaml",
        b"site:\n  ports: [80]\npolicy:\n  authorised: []\n",
    );
    let pcap = root().join("pcaps/http/get-keepalive.pcap");
    let out = tamperwatch(&["replay", "--config", &f, &pcap.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("c.yaml:4") && stderr.contains("authorised"),
        "{stderr}"
    );
}
