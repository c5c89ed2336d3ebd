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
