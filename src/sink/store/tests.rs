//! Store behaviour: round trips, filters, opening errors, retention, the writer, privacy.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::*;
use crate::detect::alert::{redact_query, AlertHttp, AlertRule, AlertUpload, Category};
use crate::http::{FileKind, Header, HttpTransaction, RequestHead, ResponseHead, UploadPart};
use crate::sink::events::EveAlert;
use crate::sink::AlertSink;

/// 2026-11-22T10:00:00Z
pub(crate) const NOON_ISH: Timestamp = Timestamp(1_795_341_600 * Timestamp::MICROS_PER_SEC);
const HOUR: i64 = 3_600 * Timestamp::MICROS_PER_SEC;
const DAY: i64 = 24 * HOUR;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test socket address")
}

/// An upload alert from 198.51.100.7, `n` hours before [`NOON_ISH`], flow id `n`.
pub(crate) fn upload_alert(n: u64) -> Alert {
    Alert {
        timestamp: Timestamp(NOON_ISH.0 - i64::try_from(n).expect("small") * HOUR),
        flow_id: n,
        src: addr("198.51.100.7:51234"),
        dest: addr("203.0.113.10:80"),
        rule: AlertRule {
            signature_id: 100_101,
            rule: "upload.script-extension".into(),
            signature: "Script file uploaded".into(),
            category: Category::Upload,
            severity: 1,
        },
        http: Some(AlertHttp {
            hostname: Some("www.example.gov".into()),
            url: "/permits/upload".into(),
            http_method: "POST".into(),
            status: Some(200),
            http_user_agent: Some("curl/8.5.0".into()),
            length: 0,
        }),
        upload: Some(AlertUpload {
            filename: Some("shell.php".into()),
            content_type: Some("image/jpeg".into()),
            detected: "php".into(),
            size: 1234,
        }),
        evidence: ".php".into(),
        crs: None,
    }
}

/// A traversal alert without upload, from `src`, at `ts`.
fn traversal_alert(src: &str, ts: Timestamp) -> Alert {
    Alert {
        timestamp: ts,
        flow_id: 77,
        src: addr(src),
        dest: addr("203.0.113.10:8080"),
        rule: AlertRule {
            signature_id: 100_401,
            rule: "traversal.dot-dot".into(),
            signature: "Path traversal".into(),
            category: Category::Traversal,
            severity: 2,
        },
        http: Some(AlertHttp {
            hostname: None,
            url: "/../../etc/passwd".into(),
            http_method: "GET".into(),
            status: None,
            http_user_agent: None,
            length: 0,
        }),
        upload: None,
        evidence: "../".into(),
        crs: None,
    }
}

/// A TCP-level alert with no HTTP metadata at all.
fn flood_alert(ts: Timestamp) -> Alert {
    Alert {
        timestamp: ts,
        flow_id: u64::MAX,
        src: addr("[2001:db8:1234:5678::9]:40000"),
        dest: addr("[2001:db8::10]:80"),
        rule: AlertRule {
            signature_id: 100_701,
            rule: "flood.syn".into(),
            signature: "SYN flood".into(),
            category: Category::Flood,
            severity: 2,
        },
        http: None,
        upload: None,
        evidence: String::new(),
        crs: None,
    }
}

fn new_store(dir: &Path) -> (FlaggedStore, PathBuf) {
    let path = dir.join("flagged.db");
    (FlaggedStore::create(&path).expect("create store"), path)
}

fn all() -> Filters {
    Filters::default()
}

#[test]
fn round_trips_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = new_store(dir.path());
    let alerts = [
        upload_alert(1),
        traversal_alert("198.51.100.8:1000", NOON_ISH),
        flood_alert(Timestamp(NOON_ISH.0 + 1)),
    ];
    for a in &alerts {
        let id = store.insert(a).expect("insert");
        let back = store.show(id).expect("show");
        assert_eq!(&back.alert, a);
        assert_eq!(back.src_ip, a.src.ip().to_string());
        assert_eq!(back.src_mode, AddressMode::Keep);
    }
    assert_eq!(store.count(&all()).expect("count"), 3);
}

#[test]
fn keeps_ids_after_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, path) = new_store(dir.path());
    let id = store.insert(&upload_alert(3)).expect("insert");
    store.close().expect("close");
    let store = FlaggedStore::open(&path).expect("reopen");
    assert_eq!(store.show(id).expect("show").alert, upload_alert(3));
}

#[test]
fn reports_a_missing_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = new_store(dir.path());
    let err = store.show(42).expect_err("nothing stored");
    assert!(err.to_string().ends_with("no alert with id 42"), "{err}");
}

#[test]
fn lists_newest_first_and_applies_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = new_store(dir.path());
    let batch: Vec<Alert> = (0..10).map(upload_alert).collect();
    store.insert_batch(&batch).expect("batch");
    store
        .insert(&traversal_alert("192.0.2.50:1000", NOON_ISH))
        .expect("insert");
    store
        .insert(&flood_alert(Timestamp(NOON_ISH.0 - 30 * HOUR)))
        .expect("insert");

    let listed = store.list(&all()).expect("list");
    assert_eq!(listed.len(), 12);
    assert!(listed
        .windows(2)
        .all(|w| w[0].alert.timestamp >= w[1].alert.timestamp));

    let spec = |f: FilterSpec| f.compile(NOON_ISH).expect("valid filter");
    let count = |f: &Filters| store.list(f).expect("list").len();
    let since_3h = spec(FilterSpec {
        since: Some("3h".into()),
        ..FilterSpec::default()
    });
    // upload 0..=3 hours back, and the traversal at NOON_ISH.
    assert_eq!(count(&since_3h), 5);
    let until = spec(FilterSpec {
        until: Some("2026-11-21".into()),
        ..FilterSpec::default()
    });
    assert_eq!(
        count(&until),
        1,
        "only the flood, 30 h back, is on the 21st"
    );
    let category = spec(FilterSpec {
        category: Some("traversal".into()),
        ..FilterSpec::default()
    });
    assert_eq!(count(&category), 1);
    let by_id = spec(FilterSpec {
        rule: Some("100101".into()),
        ..FilterSpec::default()
    });
    assert_eq!(count(&by_id), 10);
    let by_name = spec(FilterSpec {
        rule: Some("flood.syn".into()),
        ..FilterSpec::default()
    });
    assert_eq!(count(&by_name), 1);
    let net = spec(FilterSpec {
        src: Some("198.51.100.0/24".into()),
        ..FilterSpec::default()
    });
    assert_eq!(count(&net), 10);
    let v6 = spec(FilterSpec {
        src: Some("2001:db8:1234::/48".into()),
        ..FilterSpec::default()
    });
    assert_eq!(count(&v6), 1);
    let one = spec(FilterSpec {
        src: Some("192.0.2.50".into()),
        ..FilterSpec::default()
    });
    assert_eq!(count(&one), 1);
    let limited = spec(FilterSpec {
        limit: Some(4),
        ..FilterSpec::default()
    });
    assert_eq!(count(&limited), 4);
    let combined = spec(FilterSpec {
        since: Some("5h".into()),
        category: Some("upload".into()),
        src: Some("198.51.100.7".into()),
        ..FilterSpec::default()
    });
    assert_eq!(count(&combined), 6);
}

#[test]
fn counts_by_day_category_and_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = new_store(dir.path());
    let batch: Vec<Alert> = (0..12).map(upload_alert).collect();
    store.insert_batch(&batch).expect("batch");
    store
        .insert(&flood_alert(Timestamp(NOON_ISH.0 - 30 * HOUR)))
        .expect("insert");
    let stats = store.stats(&all()).expect("stats");
    assert_eq!(stats.total, 13);
    assert_eq!(
        stats.by_day,
        vec![("2026-11-21".to_owned(), 2), ("2026-11-22".to_owned(), 11)],
        "hours 0..=10 back are on the 22nd; 11 and 30 back on the 21st"
    );
    assert_eq!(
        stats.by_category,
        vec![(Category::Upload, 12), (Category::Flood, 1)]
    );
    assert_eq!(stats.by_rule[0].rule, "upload.script-extension");
    assert_eq!(stats.by_rule[0].count, 12);
    let mut text = Vec::new();
    report::write_stats(&mut text, &stats).expect("write");
    let text = String::from_utf8(text).expect("utf-8");
    assert!(text.contains("2026-11-21"), "{text}");
    assert!(
        text.contains("brute_force") || text.contains("flood"),
        "{text}"
    );
}

#[test]
fn exports_eve_lines_with_the_row_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = new_store(dir.path());
    let alert = upload_alert(2);
    let id = store.insert(&alert).expect("insert");
    let mut out = Vec::new();
    let n = store
        .export(&all(), ExportFormat::Jsonl, &mut out)
        .expect("export");
    assert_eq!(n, 1);
    let mut line: serde_json::Value = serde_json::from_slice(&out).expect("one json line");
    let obj = line.as_object_mut().expect("object");
    assert_eq!(obj.remove("id"), Some(serde_json::json!(id)));
    let eve = serde_json::to_value(EveAlert::of(&alert)).expect("eve");
    assert_eq!(line, eve, "the event log's own serialisation");
    // and the text itself, minus the id, is the event log's line.
    let text = String::from_utf8(out).expect("utf-8");
    let eve_text = serde_json::to_string(&EveAlert::of(&alert)).expect("eve text");
    assert_eq!(text.trim_end(), format!("{{\"id\":{id},{}", &eve_text[1..]));
}

#[test]
fn exports_csv_with_a_header_and_quoted_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = new_store(dir.path());
    let mut alert = upload_alert(0);
    if let Some(h) = alert.http.as_mut() {
        h.http_user_agent = Some("Mozilla/5.0 (X11, \"evil\")".into());
    }
    if let Some(u) = alert.upload.as_mut() {
        u.filename = Some("=cmd|' /C calc'!A0.php".into());
    }
    store.insert(&alert).expect("insert");
    store.insert(&flood_alert(NOON_ISH)).expect("insert");
    let mut out = Vec::new();
    store
        .export(&all(), ExportFormat::Csv, &mut out)
        .expect("export");
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], report::CSV_COLUMNS.join(","));
    assert!(
        lines[1].contains(",\"Mozilla/5.0 (X11, \"\"evil\"\")\","),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(",'=cmd|' /C calc'!A0.php,"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2].split(',').count(),
        report::CSV_COLUMNS.len(),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "", "ends with a line break");
}

#[test]
fn prints_an_aligned_table_and_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = new_store(dir.path());
    store.insert(&upload_alert(1)).expect("insert");
    let mut alert = traversal_alert("192.0.2.50:1000", NOON_ISH);
    if let Some(h) = alert.http.as_mut() {
        h.url = "/\u{1b}[2Jx".into();
    }
    store.insert(&alert).expect("insert");
    let rows = store.list(&all()).expect("list");
    let mut out = Vec::new();
    report::write_table(&mut out, &rows).expect("table");
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let col = |line: &str, word: &str| line.find(word).expect(word);
    assert_eq!(col(lines[0], "CATEGORY"), col(lines[1], "traversal"));
    assert_eq!(col(lines[0], "CATEGORY"), col(lines[2], "upload"));
    assert!(lines[2].contains("2026-11-22 09:00:00"), "{text}");
    assert!(!text.contains('\u{1b}'), "no terminal escapes: {text}");

    let mut out = Vec::new();
    report::write_details(&mut out, &rows[1]).expect("details");
    let text = String::from_utf8(out).expect("utf-8");
    for field in [
        "flow_id",
        "src_ip",
        "signature_id",
        "http.url",
        "http.http_user_agent",
        "upload.filename",
        "upload.size",
        "evidence",
    ] {
        assert!(text.contains(field), "{field} missing: {text}");
    }
}

#[test]
fn lays_out_an_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.db");
    fs::write(&path, b"").expect("touch");
    let mut store = FlaggedStore::open(&path).expect("an empty file is an empty database");
    store.insert(&upload_alert(0)).expect("insert");
    drop(store);
    let conn = Connection::open(&path).expect("raw");
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, schema::SCHEMA_VERSION);
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal");
    assert_eq!(journal, "wal");
    let vacuum: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .expect("auto_vacuum");
    assert_eq!(vacuum, 2, "INCREMENTAL");
}

#[test]
fn makes_the_file_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, path) = new_store(dir.path());
    let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, path) = new_store(dir.path());
    drop(store);
    Connection::open(&path)
        .expect("raw")
        .pragma_update(None, "user_version", 99)
        .expect("bump");
    let err = FlaggedStore::open(&path).expect_err("newer");
    assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "flagged store {}: schema version 99 is newer than this tamperwatch ({})",
            path.display(),
            schema::SCHEMA_VERSION
        )
    );
}

#[test]
fn refuses_a_missing_store_unless_creating() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.db");
    let err = FlaggedStore::open(&path).expect_err("missing");
    assert_eq!(
        err.to_string(),
        format!("no flagged store at {}", path.display())
    );
    assert!(!path.exists(), "a query must not create the store");
}

#[test]
fn refuses_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = FlaggedStore::create(dir.path()).expect_err("directory");
    assert!(matches!(err, StoreError::IsDirectory { .. }), "{err}");
    assert!(err.to_string().ends_with("is a directory, not a file"));
}

#[test]
fn refuses_a_file_that_is_not_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    fs::write(&path, "these are notes, not a database\n".repeat(64)).expect("write");
    let err = FlaggedStore::open(&path).expect_err("not sqlite");
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().ends_with("file is not a database"), "{err}");
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.starts_with("these are notes"), "left untouched");
}

#[test]
fn refuses_another_programs_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    Connection::open(&path)
        .expect("raw")
        .execute_batch("CREATE TABLE things (x)")
        .expect("create");
    let err = FlaggedStore::open(&path).expect_err("foreign");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
}

#[test]
fn refuses_a_path_under_a_file() {
    // Works as root too: no permission bit is involved.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plain");
    fs::write(&file, b"x").expect("write");
    let err = FlaggedStore::create(&file.join("flagged.db")).expect_err("parent is a file");
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("Not a directory"), "{err}");
}

#[test]
fn refuses_a_read_only_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).expect("mkdir");
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o500)).expect("chmod");
    if fs::write(ro.join("probe"), b"").is_ok() {
        eprintln!(
            "skipped refuses_a_read_only_directory: running as root, permission bits do not \
             stop writes (refuses_a_path_under_a_file covers the error path)"
        );
        return;
    }
    let err = FlaggedStore::create(&ro.join("flagged.db")).expect_err("read-only");
    assert!(err.to_string().contains("Permission denied"), "{err}");
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o700)).expect("chmod back");
}

#[test]
fn gives_up_on_a_locked_store_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, path) = new_store(dir.path());
    drop(store);
    let holder = Connection::open(&path).expect("raw");
    holder
        .execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; \
             INSERT INTO alerts (ts_us, timestamp, flow_id, src_ip, src_mode, src_port, \
             dest_ip, dest_port, signature_id, rule, signature, category, severity, evidence) \
             VALUES (0, '', 0, '', 'keep', 0, '', 0, 0, '', '', 'upload', 1, '');",
        )
        .expect("hold the lock");
    let options = StoreOptions {
        busy_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let started = Instant::now();
    let err = FlaggedStore::open_with(&path, &options).expect_err("locked");
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "flagged store {}: locked by another process (gave up after 300 ms)",
            path.display()
        )
    );
    drop(holder);
    FlaggedStore::open(&path).expect("free again");
}

#[test]
fn purges_expired_rows_and_gives_the_space_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, path) = new_store(dir.path());
    let old: Vec<Alert> = (0..20_000)
        .map(|i| {
            let mut a = upload_alert(0);
            a.timestamp = Timestamp(NOON_ISH.0 - 40 * DAY - i);
            a.flow_id = u64::try_from(i).expect("small");
            a
        })
        .collect();
    store.insert_batch(&old).expect("old");
    let recent: Vec<Alert> = (0..10).map(upload_alert).collect();
    store.insert_batch(&recent).expect("recent");
    store.checkpoint().expect("checkpoint");
    let before = fs::metadata(&path).expect("meta").len();
    let purged = store.purge_older_than(NOON_ISH, 30).expect("purge");
    let after = fs::metadata(&path).expect("meta").len();
    eprintln!("purge: {purged} rows, file {before} -> {after} bytes");
    assert_eq!(purged, 20_000);
    assert_eq!(store.count(&all()).expect("count"), 10);
    assert!(after * 4 < before, "file shrank: {before} -> {after}");
    assert_eq!(store.purge_older_than(NOON_ISH, 30).expect("again"), 0);
    let ok: String = store
        .conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(ok, "ok");
}

#[test]
fn keeps_truncated_networks_and_filters_on_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = new_store(dir.path());
    let mut store = store.with_address_policy(AddressPolicy::truncate());
    let id = store.insert(&upload_alert(0)).expect("insert");
    let row = store.show(id).expect("show");
    assert_eq!(row.src_ip, "198.51.100.0");
    assert_eq!(row.src_mode, AddressMode::Truncate);
    let f = FilterSpec {
        src: Some("198.51.100.0/24".into()),
        ..FilterSpec::default()
    }
    .compile(NOON_ISH)
    .expect("filter");
    assert_eq!(store.list(&f).expect("list").len(), 1);
}

#[test]
fn keeps_hashed_sources_as_tokens_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, path) = new_store(dir.path());
    let policy = AddressPolicy::for_store(AddressMode::Hash, &path).expect("key");
    let mut store = store.with_address_policy(policy.clone());
    let alert = upload_alert(0);
    let id = store.insert(&alert).expect("insert");
    let row = store.show(id).expect("show");
    assert_eq!(row.src_ip, policy.render(alert.src.ip()));
    assert_eq!(row.src_mode, AddressMode::Hash);
    assert_eq!(row.eve().src_ip, row.src_ip, "export carries the token");
    let raw: Option<Vec<u8>> = store
        .conn
        .query_row("SELECT src_key FROM alerts WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("raw");
    assert_eq!(raw, None, "no address bytes beside the token");
    let mut export = Vec::new();
    store
        .export(&all(), ExportFormat::Csv, &mut export)
        .expect("export");
    assert!(!String::from_utf8_lossy(&export).contains("198.51.100.7"));
}

/// Every column of every row, as text, for privacy checks.
fn raw_row_text(conn: &Connection) -> Vec<String> {
    let mut stmt = conn.prepare("SELECT * FROM alerts").expect("select");
    let columns = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..columns)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => String::new(),
                        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                        rusqlite::types::ValueRef::Real(f) => f.to_string(),
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                    })
                })
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .expect("query");
    rows.flat_map(|r| r.expect("row")).collect()
}

#[test]
fn stores_only_redacted_metadata() {
    let header = |name: &str, value: &str| Header {
        name: name.into(),
        value: value.into(),
    };
    let txn = HttpTransaction {
        request: Some(RequestHead {
            method: "POST".into(),
            uri: "/permits/upload?applicant=Jane%20Doe&token=s3cr3t-t0ken#frag".into(),
            version: "1.1".into(),
            headers: vec![
                header("Host", "www.example.gov"),
                header("User-Agent", "curl/8.5.0"),
                header("Cookie", "session=c00kie-value"),
                header("Authorization", "Bearer auth-secret"),
            ],
            headers_dropped: 0,
        }),
        response: Some(ResponseHead {
            status: 200,
            reason: "OK".into(),
            version: "1.1".into(),
            headers: vec![header("Set-Cookie", "sid=set-c00kie")],
        }),
        request_body_len: 5000,
        response_body_len: 10,
        uploads: vec![UploadPart {
            field_name: Some("document".into()),
            filename: Some("shell.php".into()),
            content_type: Some("image/jpeg".into()),
            size: 5000,
            ..UploadPart::default()
        }],
        body_prefix: b"<?php system($_GET['body-secret']); ?>".to_vec(),
        ..HttpTransaction::new(
            9,
            addr("198.51.100.7:51234"),
            addr("203.0.113.10:80"),
            NOON_ISH,
            1,
        )
    };
    let part = &txn.uploads[0];
    let alert = Alert {
        timestamp: txn.ts,
        flow_id: txn.flow_id,
        src: txn.client,
        dest: txn.server,
        rule: upload_alert(0).rule,
        http: Alert::http_of(&txn),
        upload: Some(Alert::upload_of(
            part.filename.as_deref(),
            part.content_type.as_deref(),
            FileKind::Php,
            part.size,
        )),
        evidence: crate::detect::alert::evidence(b"<?php"),
        crs: None,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = new_store(dir.path());
    store.insert(&alert).expect("insert");
    let cells = raw_row_text(&store.conn);
    let url = "/permits/upload?applicant=<redacted>&token=<redacted>";
    assert!(cells.iter().any(|c| c == url), "{cells:?}");
    assert_eq!(url, redact_query(url), "already redacted");
    for secret in [
        "Jane",
        "s3cr3t",
        "frag",
        "c00kie",
        "auth-secret",
        "set-c00kie",
        "body-secret",
        "system(",
    ] {
        assert!(
            cells.iter().all(|c| !c.contains(secret)),
            "`{secret}` reached the store: {cells:?}"
        );
    }
    // Any query value in the stored url is the placeholder.
    let stored_url = cells.iter().find(|c| c.contains('?')).expect("url");
    let query = stored_url.split_once('?').map(|(_, q)| q).unwrap_or("");
    assert!(query
        .split('&')
        .all(|kv| kv.split_once('=').map_or(true, |(_, v)| v == "<redacted>")));
}

fn writer_store(dir: &Path, busy: Duration) -> (FlaggedStore, PathBuf) {
    let path = dir.join("flagged.db");
    let options = StoreOptions {
        create: true,
        busy_timeout: busy,
    };
    (
        FlaggedStore::open_with(&path, &options).expect("store"),
        path,
    )
}

#[test]
fn writer_commits_everything_on_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, path) = writer_store(dir.path(), DEFAULT_BUSY_TIMEOUT);
    let writer = StoreWriter::spawn(store, WriterSettings::default()).expect("spawn");
    let handle = writer.handle();
    for i in 0..2_000 {
        assert!(handle.try_record(upload_alert(i % 48)));
    }
    let stats = writer.shutdown().expect("shutdown");
    assert_eq!(stats.accepted, 2_000);
    assert_eq!(stats.committed, 2_000);
    assert_eq!(stats.dropped, 0);
    assert!(!handle.try_record(upload_alert(0)), "stopped writer drops");
    assert_eq!(handle.counters().snapshot().dropped, 1);
    let store = FlaggedStore::open(&path).expect("reopen");
    assert_eq!(store.count(&all()).expect("count"), 2_000);
}

#[test]
fn writer_commits_on_its_interval_without_a_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = writer_store(dir.path(), DEFAULT_BUSY_TIMEOUT);
    let settings = WriterSettings {
        batch_interval: Duration::from_millis(50),
        ..WriterSettings::default()
    };
    let writer = StoreWriter::spawn(store, settings).expect("spawn");
    let counters = writer.counters();
    assert!(writer.handle().try_record(upload_alert(0)));
    let started = Instant::now();
    while counters.committed() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never committed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(writer.stats().commits, 1);
}

#[test]
fn writer_is_an_alert_sink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, path) = writer_store(dir.path(), DEFAULT_BUSY_TIMEOUT);
    let mut writer = StoreWriter::spawn(store, WriterSettings::default()).expect("spawn");
    let mut handle = writer.handle();
    let sinks: [&mut dyn AlertSink; 2] = [&mut writer, &mut handle];
    for sink in sinks {
        sink.record(&upload_alert(1)).expect("record");
        sink.flush().expect("flush");
    }
    assert_eq!(writer.stats().committed, 2);
    let reader = FlaggedStore::open(&path).expect("second connection reads");
    assert_eq!(reader.count(&all()).expect("count"), 2);
}

#[test]
fn writer_drops_when_full_and_never_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, path) = writer_store(dir.path(), Duration::from_secs(10));
    // Another writer holds the write lock, so the first commit waits on it.
    let holder = Connection::open(&path).expect("raw");
    holder.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let settings = WriterSettings {
        queue_capacity: 4,
        batch_max: 1,
        batch_interval: Duration::from_secs(60),
        ..WriterSettings::default()
    };
    let writer = StoreWriter::spawn(store, settings).expect("spawn");
    let handle = writer.handle();
    assert!(handle.try_record(upload_alert(0)));
    // Let the writer take it and block in its commit.
    let started = Instant::now();
    while writer.stats().accepted == 0 || started.elapsed() < Duration::from_millis(200) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = Instant::now();
    let accepted = (0..10)
        .filter(|i| handle.try_record(upload_alert(*i)))
        .count();
    let took = before.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "try_record blocked: {took:?}"
    );
    assert_eq!(accepted, 4, "the queue holds 4");
    assert_eq!(writer.stats().dropped, 6);
    holder.execute_batch("COMMIT").expect("unlock");
    let stats = writer.shutdown().expect("shutdown");
    assert_eq!(stats.committed, 5);
    assert_eq!(stats.write_errors, 0);
}

#[test]
fn writer_counts_a_failed_commit_and_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, path) = writer_store(dir.path(), Duration::from_millis(100));
    let holder = Connection::open(&path).expect("raw");
    holder.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let settings = WriterSettings {
        busy_retry_for: Duration::ZERO,
        ..WriterSettings::default()
    };
    let writer = StoreWriter::spawn(store, settings).expect("spawn");
    let handle = writer.handle();
    for i in 0..3 {
        assert!(handle.try_record(upload_alert(i)));
    }
    let err = handle.flush().expect_err("locked out");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    holder.execute_batch("COMMIT").expect("unlock");
    assert!(handle.try_record(upload_alert(9)));
    handle.flush().expect("writes again");
    let stats = writer.shutdown().expect("shutdown");
    assert_eq!(stats.write_errors, 1);
    assert_eq!(stats.lost, 3);
    assert_eq!(stats.committed, 1);
}

#[test]
fn writer_purges_on_its_own_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = writer_store(dir.path(), DEFAULT_BUSY_TIMEOUT);
    let writer = StoreWriter::spawn(store, WriterSettings::default()).expect("spawn");
    let handle = writer.handle();
    let mut old = upload_alert(0);
    old.timestamp = Timestamp(NOON_ISH.0 - 31 * DAY);
    assert!(handle.try_record(old));
    assert!(handle.try_record(upload_alert(0)));
    assert_eq!(writer.purge_older_than(NOON_ISH, 30).expect("purge"), 1);
    assert_eq!(writer.shutdown().expect("shutdown").committed, 2);
}
