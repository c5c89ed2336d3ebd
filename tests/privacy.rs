//! The privacy promise, proved on real traffic (pcaps/privacy/canary.pcap: curl against
//! nginx on loopback). Benign clients and an attacker send the same canary strings in a
//! cookie, Basic and Bearer credentials, a query value, a form field, a JSON body and an
//! uploaded file. After a replay with the events file and the flagged store on, every
//! byte written (database and its WAL/SHM, events, stdout, stderr, an export) is read:
//! no canary may appear, nor any unflagged client's address, while the flagged client
//! is there.

use std::path::PathBuf;
use std::process::Command;

const CANARIES: [&str; 8] = [
    "CANARY_COOKIE_7f3a",
    "CANARY_AUTH_91bc",
    "dXNlcjpDQU5BUllfQVVUSF85MWJj", // base64 of user:CANARY_AUTH_91bc
    "CANARY_BEARER_55de",
    "CANARY_QUERY_2d4e",
    "CANARY_FORM_8a1f",
    "CANARY_JSON_3c9b",
    "CANARY_FILE_6e2d",
];
const UNFLAGGED: [[u8; 4]; 3] = [[127, 0, 0, 10], [127, 0, 0, 11], [127, 0, 0, 12]];
const FLAGGED: &str = "127.0.0.66";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every form an address could take in text or in the store's binary columns.
fn address_forms(a: [u8; 4]) -> Vec<Vec<u8>> {
    let text = format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
    let mut mapped = vec![0u8; 10];
    mapped.extend_from_slice(&[0xff, 0xff]);
    mapped.extend_from_slice(&a);
    let mut compat = vec![0u8; 12];
    compat.extend_from_slice(&a);
    // Text followed by a non-digit, so 127.0.0.1 (the server) never counts as .10-.12.
    vec![
        format!("{text}\"").into_bytes(),
        format!("{text},").into_bytes(),
        format!("{text} ").into_bytes(),
        format!("{text}\n").into_bytes(),
        format!("{text}:").into_bytes(),
        mapped,
        compat,
    ]
}

#[test]
fn nothing_private_and_no_unflagged_client_is_written_anywhere() {
    // The canaries really are on the wire, from flagged and unflagged clients alike.
    let capture = std::fs::read(root().join("pcaps/privacy/canary.pcap")).expect("capture");
    // (The Basic credential is on the wire only base64-encoded; its decoded form is still
    // checked below, in case anything ever decoded and wrote it.)
    for canary in CANARIES.iter().filter(|c| **c != "CANARY_AUTH_91bc") {
        assert!(
            contains(&capture, canary.as_bytes()),
            "{canary} missing from the capture"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("flagged.db");
    let events = dir.path().join("events.jsonl");
    let replay = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .arg("--config")
        .arg(root().join("pcaps/site.yaml"))
        .arg("--rules")
        .arg(root().join("rules"))
        .arg("--events")
        .arg(&events)
        .arg("--store")
        .arg(&db)
        .arg(root().join("pcaps/privacy/canary.pcap"))
        .output()
        .expect("replay");
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let export = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(["flagged", "export", "--format", "csv", "--store"])
        .arg(&db)
        .output()
        .expect("export");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );

    let mut written: Vec<(String, Vec<u8>)> = vec![
        ("replay stdout".into(), replay.stdout),
        ("replay stderr".into(), replay.stderr),
        ("export stdout".into(), export.stdout),
        ("export stderr".into(), export.stderr),
    ];
    for entry in std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
    {
        let bytes = std::fs::read(entry.path()).expect("read output file");
        written.push((entry.file_name().to_string_lossy().into_owned(), bytes));
    }
    assert!(written.iter().any(|(n, _)| n == "flagged.db"));

    for (name, bytes) in &written {
        for canary in CANARIES {
            assert!(
                !contains(bytes, canary.as_bytes()),
                "{canary} written to {name}"
            );
        }
        for addr in UNFLAGGED {
            for form in address_forms(addr) {
                assert!(
                    !contains(bytes, &form),
                    "unflagged client {addr:?} written to {name}"
                );
            }
        }
    }
    let events_text = std::fs::read_to_string(&events).expect("events");
    assert!(
        events_text.contains(FLAGGED),
        "the flagged client must be recorded"
    );
    assert!(
        events_text.contains("<redacted>"),
        "query values must be redacted, not dropped"
    );
    let csv = written
        .iter()
        .find(|(n, _)| n == "export stdout")
        .map(|(_, b)| b.clone())
        .unwrap_or_default();
    assert!(
        contains(&csv, FLAGGED.as_bytes()),
        "the store must hold the flagged client"
    );
}

/// Personal data placed *inside* attack values, next to the payload
/// (pcaps/privacy/canary-in-attack.pcap, made by scripts/pcapgen/canary-in-attack.sh).
const INNER_CANARIES: [&str; 3] = ["canary-email@x.test", "123-45-6789", "555-0199-4242"];

/// Every form a canary could be written in: as is, percent-encoded, base64.
fn canary_forms(canary: &str) -> Vec<Vec<u8>> {
    let mut forms = vec![canary.as_bytes().to_vec()];
    let pct: String = canary
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect();
    forms.push(pct.into_bytes());
    forms.push(base64(canary.as_bytes()).into_bytes());
    forms
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    out
}

/// Lowercased, and percent-decoded (`%41` → `A`, `+` → space), so encoded copies match.
fn normalised(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out.to_ascii_lowercase()
}

fn tw(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(args)
        .output()
        .expect("run tamperwatch")
}

#[test]
fn canaries_inside_attack_values_reach_no_sink_events_store_stats_or_report() {
    let pcap = root().join("pcaps/privacy/canary-in-attack.pcap");
    let capture = std::fs::read(&pcap).expect("capture");
    let wire = normalised(&capture);
    for c in INNER_CANARIES {
        assert!(
            contains(&wire, c.as_bytes()),
            "{c} missing from the capture"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, events, stats) = (
        dir.path().join("flagged.db"),
        dir.path().join("events.jsonl"),
        dir.path().join("stats.db"),
    );
    let config = root().join("pcaps/site.yaml");
    let replay = tw(&[
        "replay".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--events".as_ref(),
        events.as_os_str(),
        "--store".as_ref(),
        db.as_os_str(),
        "--stats".as_ref(),
        stats.as_os_str(),
        pcap.as_os_str(),
    ]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let mut written: Vec<(String, Vec<u8>)> = vec![
        ("replay stdout".into(), replay.stdout),
        ("replay stderr".into(), replay.stderr),
    ];
    let export = tw(&[
        "flagged".as_ref(),
        "export".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--store".as_ref(),
        db.as_os_str(),
    ]);
    written.push(("export".into(), export.stdout));
    for format in ["html", "json", "csv"] {
        let out = dir.path().join(format!("report.{format}"));
        let r = tw(&[
            "report".as_ref(),
            "--stats".as_ref(),
            stats.as_os_str(),
            "--from".as_ref(),
            "2000-01-01".as_ref(),
            "--to".as_ref(),
            "2099-12-31".as_ref(),
            "--format".as_ref(),
            format.as_ref(),
            "--output".as_ref(),
            out.as_os_str(),
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        written.push((format!("report {format} stderr"), r.stderr));
    }
    for entry in std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
    {
        let bytes = std::fs::read(entry.path()).expect("read output file");
        written.push((entry.file_name().to_string_lossy().into_owned(), bytes));
    }
    for name in [
        "flagged.db",
        "events.jsonl",
        "stats.db",
        "report.html",
        "report.json",
        "report.csv",
    ] {
        assert!(written.iter().any(|(n, _)| n == name), "{name} not written");
    }
    for (name, bytes) in &written {
        let plain = normalised(bytes);
        for canary in INNER_CANARIES {
            for form in canary_forms(canary) {
                let form = form.to_ascii_lowercase();
                assert!(
                    !contains(&plain, &form) && !contains(&bytes.to_ascii_lowercase(), &form),
                    "{canary} (as {}) written to {name}",
                    String::from_utf8_lossy(&form)
                );
            }
        }
    }
    // The attacks were flagged: the check above is not vacuous.
    let events_text = std::fs::read_to_string(&events).expect("events");
    assert!(events_text.lines().count() >= 6, "{events_text}");
    assert!(events_text.contains("injection.sql-union"));
    assert!(events_text.contains('…'), "wildcard spans must be elided");
}
