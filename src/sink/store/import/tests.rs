//! Importing files into a store: hosts, idempotence, bad lines, privacy.

use std::fs;
use std::io::Write;

use super::*;
use crate::sink::store::filter::Filters;
use crate::sink::store::tests::upload_alert;
use crate::sink::store::AddressPolicy;

/// EVE lines as a host's event log writes them: `n` upload alerts, flow ids 1..=n.
fn eve_lines(n: u64) -> String {
    (1..=n)
        .map(|i| {
            let mut s = serde_json::to_string(&EveAlert::of(&upload_alert(i))).expect("json");
            s.push('\n');
            s
        })
        .collect()
}

fn store_in(dir: &Path) -> FlaggedStore {
    FlaggedStore::create(&dir.join("fleet.db")).expect("store")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).expect("write");
    p
}

fn host_filter(host: &str) -> Filters {
    Filters {
        host: Some(host.into()),
        ..Filters::default()
    }
}

#[test]
fn importing_the_same_file_twice_stores_each_line_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let file = write(dir.path(), "web1.jsonl", &eve_lines(5));
    let first = store.import_file(&file, None).expect("import");
    assert_eq!(
        (first.lines, first.imported, first.duplicates, first.bad),
        (5, 5, 0, 0)
    );
    let again = store.import_file(&file, None).expect("import again");
    assert_eq!((again.imported, again.duplicates), (0, 5));
    assert_eq!(store.count(&Filters::default()).expect("count"), 5);
    // The same line in another file of the same host is still one row.
    let copy = write(dir.path(), "copy.jsonl", &eve_lines(6));
    let r = store.import_file(&copy, Some("web1")).expect("import copy");
    assert_eq!((r.imported, r.duplicates), (1, 5));
}

#[test]
fn the_same_line_from_two_hosts_is_two_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let a = write(dir.path(), "web1.jsonl", &eve_lines(3));
    let b = write(dir.path(), "web2.example.gov.jsonl", &eve_lines(3));
    store.import_file(&a, None).expect("a");
    store.import_file(&b, None).expect("b");
    assert_eq!(store.count(&host_filter("web1")).expect("web1"), 3);
    assert_eq!(
        store.count(&host_filter("web2.example.gov")).expect("web2"),
        3
    );
    assert_eq!(store.count(&host_filter("web3")).expect("web3"), 0);
    let stats = store.stats(&Filters::default()).expect("stats");
    assert_eq!(
        stats.by_host,
        vec![("web1".to_owned(), 3), ("web2.example.gov".to_owned(), 3)]
    );
    let one = store.stats(&host_filter("web1")).expect("stats");
    assert_eq!(one.by_host, vec![("web1".to_owned(), 3)]);
    let rows = store.list(&host_filter("web1")).expect("list");
    assert!(rows.iter().all(|r| r.host.as_deref() == Some("web1")));
}

#[test]
fn local_alerts_have_no_host_and_are_not_matched_by_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    store.insert(&upload_alert(1)).expect("local");
    let file = write(dir.path(), "web1.jsonl", &eve_lines(1));
    let r = store.import_file(&file, None).expect("import");
    assert_eq!(
        r.imported, 1,
        "a local alert does not block the same imported line"
    );
    let all = store.list(&Filters::default()).expect("list");
    assert_eq!(all.iter().filter(|r| r.host.is_none()).count(), 1);
    assert_eq!(store.count(&host_filter("web1")).expect("count"), 1);
}

#[test]
fn reports_bad_lines_by_number_and_imports_the_rest_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let good = eve_lines(3);
    let mut lines: Vec<&str> = good.lines().collect();
    let truncated = &lines[1][..40].to_owned();
    lines.insert(1, truncated);
    lines.insert(3, "");
    lines.push("\u{0}\u{1}garbage");
    let mut text = lines.join("\n");
    text.push('\n');
    let file = write(dir.path(), "web1.jsonl", &text);
    let r = store.import_file(&file, None).expect("import");
    assert_eq!((r.imported, r.bad), (3, 2), "{r:?}");
    let numbers: Vec<u64> = r.bad_lines.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, vec![2, 6], "blank line 4 is skipped, not bad");
    assert_eq!(store.count(&Filters::default()).expect("count"), 3);
}

#[test]
fn leaves_an_unfinished_last_line_for_the_next_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let full = eve_lines(2);
    let cut = full.len() - 30;
    let file = write(dir.path(), "web1.jsonl", &full[..cut]);
    let r = store.import_file(&file, None).expect("import");
    assert_eq!((r.imported, r.bad, r.incomplete_tail), (1, 0, true));
    fs::File::options()
        .append(true)
        .open(&file)
        .and_then(|mut f| f.write_all(&full.as_bytes()[cut..]))
        .expect("finish the line");
    let r = store.import_file(&file, None).expect("import again");
    assert_eq!((r.imported, r.duplicates, r.incomplete_tail), (1, 1, false));
}

#[test]
fn a_file_that_is_not_eve_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let file = write(dir.path(), "notes.txt", "dear diary\n{\"a\":1}\n");
    let err = store.import_file(&file, None).expect_err("not EVE");
    assert!(
        matches!(
            err,
            ImportError::NotEve {
                lines: 2,
                first_line: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("notes.txt"), "{err}");
    let binary = write(dir.path(), "x.db", "SQLite format 3\u{0}\u{ff}\n");
    assert!(matches!(
        store.import_file(&binary, None),
        Err(ImportError::NotEve { .. })
    ));
    let empty = write(dir.path(), "empty.jsonl", "");
    assert_eq!(store.import_file(&empty, None).expect("empty").lines, 0);
    let missing = store.import_file(&dir.path().join("gone.jsonl"), None);
    assert!(matches!(missing, Err(ImportError::Read { .. })));
}

#[test]
fn refuses_a_host_name_that_is_not_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let file = write(dir.path(), "web1.jsonl", &eve_lines(1));
    assert!(matches!(
        store.import_file(&file, Some("a/b")),
        Err(ImportError::Host { .. })
    ));
    let odd = write(dir.path(), "web 1.jsonl", &eve_lines(1));
    assert!(matches!(
        store.import_file(&odd, None),
        Err(ImportError::Host { .. })
    ));
}

#[test]
fn trims_imported_payload_fields_before_they_reach_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let mut v: serde_json::Value = serde_json::from_str(eve_lines(1).trim_end()).expect("json");
    v["http"]["url"] = "/login?password=hunter2".into();
    v["http"]["request_body"] = "SECRET-BODY".into();
    v["http"]["cookie"] = "SECRET-COOKIE".into();
    v["evidence"] = format!("{}SECRET-TAIL", "x".repeat(70)).into();
    let file = write(dir.path(), "web1.jsonl", &format!("{v}\n"));
    let r = store.import_file(&file, None).expect("import");
    assert_eq!((r.imported, r.trimmed), (1, 1));
    let path = store.path().to_owned();
    store.close().expect("close");
    let mut bytes = fs::read(&path).expect("db");
    bytes.extend(fs::read(path.with_extension("db-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    for secret in ["hunter2", "SECRET"] {
        assert!(!text.contains(secret), "{secret} on disk");
    }
    assert!(text.contains("/login?password=<redacted>"));
}

#[test]
fn applies_the_stores_address_policy_to_imported_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path()).with_address_policy(AddressPolicy::truncate());
    let file = write(dir.path(), "web1.jsonl", &eve_lines(1));
    store.import_file(&file, None).expect("import");
    let rows = store.list(&Filters::default()).expect("list");
    assert_eq!(rows[0].src_ip, "198.51.100.0");
}

#[test]
fn an_over_long_line_is_one_bad_line_and_the_next_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_in(dir.path());
    let good = eve_lines(2);
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines.insert(
        1,
        format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_LINE_BYTES * 2)),
    );
    let text = format!("{}\r\n", lines.join("\r\n"));
    let file = write(dir.path(), "web1.jsonl", &text);
    let r = store.import_file(&file, None).expect("import");
    assert_eq!((r.lines, r.imported, r.bad), (3, 2, 1), "{r:?}");
    assert_eq!(r.bad_lines[0], (2, LineError::TooLong(MAX_LINE_BYTES)));
}
