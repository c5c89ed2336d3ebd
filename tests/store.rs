//! The flagged store from the outside: `tamperwatch flagged ...` run as a binary against
//! stores seeded through the library, its errors and exit codes, and a crash test (a
//! child process writing through the `StoreWriter` is killed with SIGKILL mid-stream;
//! every alert it had reported as committed must be in the store, which must pass
//! `PRAGMA integrity_check`).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use tamperwatch::detect::alert::{Alert, AlertHttp, AlertRule, AlertUpload, Category};
use tamperwatch::sink::store::{FlaggedStore, StoreWriter, WriterSettings};
use tamperwatch::time::Timestamp;

const HOUR: i64 = 3_600 * Timestamp::MICROS_PER_SEC;
const DAY: i64 = 24 * HOUR;
/// Set (to a store path) when this binary is re-run as the crash test's child.
const CRASH_CHILD_ENV: &str = "TAMPERWATCH_TEST_CRASH_CHILD_DB";
/// The child gives up on its own after this long, should the parent never kill it.
const CRASH_CHILD_MAX_SECS: u64 = 60;

fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros();
    Timestamp(i64::try_from(micros).expect("fits"))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test socket address")
}

/// An alert of `category` from `src`, at `ts`, with flow id `flow_id`.
fn alert(ts: Timestamp, flow_id: u64, src: &str, category: Category) -> Alert {
    let (signature_id, rule, signature) = match category {
        Category::Upload => (100_101, "upload.script-extension", "Script file uploaded"),
        Category::Traversal => (100_401, "traversal.dot-dot", "Path traversal"),
        _ => (100_301, "injection.sql-union", "SQL injection (UNION)"),
    };
    Alert {
        timestamp: ts,
        flow_id,
        src: addr(src),
        dest: addr("203.0.113.10:80"),
        rule: AlertRule {
            signature_id,
            rule: rule.into(),
            signature: signature.into(),
            category,
            severity: 1,
        },
        http: Some(AlertHttp {
            hostname: Some("www.example.gov".into()),
            url: "/permits/upload?id=<redacted>".into(),
            http_method: "POST".into(),
            status: Some(200),
            http_user_agent: Some("curl/8.5.0, \"quoted\"".into()),
            length: 12,
        }),
        upload: (category == Category::Upload).then(|| AlertUpload {
            filename: Some("shell.php".into()),
            content_type: Some("image/jpeg".into()),
            detected: "php".into(),
            size: 1234,
        }),
        evidence: ".php".into(),
        crs: None,
    }
}

fn tamperwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(args)
        .output()
        .expect("run tamperwatch")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A store with 6 alerts: 3 in the last hour, 2 three days back, 1 forty days back.
fn seeded(dir: &Path) -> PathBuf {
    let path = dir.join("flagged.db");
    let mut store = FlaggedStore::create(&path).expect("create");
    let now = now();
    let alerts = [
        alert(
            Timestamp(now.0 - HOUR / 2),
            1,
            "198.51.100.7:5000",
            Category::Upload,
        ),
        alert(
            Timestamp(now.0 - HOUR / 3),
            2,
            "198.51.100.9:5001",
            Category::Traversal,
        ),
        alert(
            Timestamp(now.0 - HOUR / 4),
            3,
            "192.0.2.1:5002",
            Category::Injection,
        ),
        alert(
            Timestamp(now.0 - 3 * DAY),
            4,
            "192.0.2.2:5003",
            Category::Upload,
        ),
        alert(
            Timestamp(now.0 - 3 * DAY),
            5,
            "[2001:db8::5]:5004",
            Category::Upload,
        ),
        alert(
            Timestamp(now.0 - 40 * DAY),
            6,
            "192.0.2.3:5005",
            Category::Upload,
        ),
    ];
    store.insert_batch(&alerts).expect("seed");
    store.close().expect("close");
    path
}

/// Rows of a `flagged list` table (header and trailing notes excluded).
fn table_rows(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "list failed: {}", stderr(o));
    stdout(o).lines().skip(1).map(str::to_owned).collect()
}

#[test]
fn lists_filters_shows_exports_counts_and_purges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded(dir.path());
    let db = db.to_str().expect("utf-8 path");
    let list = |extra: &[&str]| {
        let mut args = vec!["flagged", "list", "--store", db];
        args.extend_from_slice(extra);
        table_rows(&tamperwatch(&args))
    };

    let all = tamperwatch(&["flagged", "list", "--store", db]);
    let text = stdout(&all);
    let header = text.lines().next().expect("header");
    for col in [
        "ID",
        "TIME (UTC)",
        "SRC",
        "CATEGORY",
        "RULE",
        "METHOD",
        "URL",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert_eq!(table_rows(&all).len(), 6);
    assert_eq!(list(&["--since", "24h"]).len(), 3);
    assert_eq!(list(&["--until", "1d"]).len(), 3);
    assert_eq!(list(&["--category", "traversal"]).len(), 1);
    assert_eq!(list(&["--rule", "100101"]).len(), 4);
    assert_eq!(list(&["--rule", "injection.sql-union"]).len(), 1);
    assert_eq!(list(&["--src", "198.51.100.0/24"]).len(), 2);
    assert_eq!(list(&["--src", "2001:db8::/32"]).len(), 1);
    assert_eq!(list(&["--since", "7d", "--category", "upload"]).len(), 3);
    assert_eq!(
        list(&["--since", "1970-01-01", "--until", "1970-01-02"]).len(),
        0
    );

    let limited = tamperwatch(&["flagged", "list", "--store", db, "--limit", "2"]);
    assert_eq!(table_rows(&limited).len(), 2);
    assert!(stderr(&limited).contains("only the newest 2 shown"));

    // The newest row is the injection; `show` prints every field of it.
    let first = list(&[]).remove(0);
    let id = first.split_whitespace().next().expect("id").to_owned();
    assert!(first.contains("injection"), "{first}");
    let show = tamperwatch(&["flagged", "show", &id, "--store", db]);
    assert!(show.status.success(), "{}", stderr(&show));
    for field in [
        "timestamp",
        "flow_id",
        "src_ip",
        "src_port",
        "dest_ip",
        "dest_port",
        "signature_id",
        "rule",
        "signature",
        "category",
        "severity",
        "http.hostname",
        "http.url",
        "http.http_method",
        "http.status",
        "http.http_user_agent",
        "http.length",
        "evidence",
    ] {
        assert!(stdout(&show).contains(field), "{field}: {}", stdout(&show));
    }
    let missing = tamperwatch(&["flagged", "show", "999", "--store", db]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no alert with id 999"));

    let jsonl = tamperwatch(&["flagged", "export", "--store", db, "--since", "7d"]);
    assert!(jsonl.status.success(), "{}", stderr(&jsonl));
    let lines: Vec<serde_json::Value> = stdout(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines
        .iter()
        .all(|l| l["event_type"] == "alert" && l["id"].is_i64()));
    assert!(lines[0]["timestamp"].as_str() <= lines[4]["timestamp"].as_str());

    let csv = tamperwatch(&["flagged", "export", "--store", db, "--format", "csv"]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let csv = stdout(&csv);
    let rows: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(rows.len(), 7, "header and 6 rows");
    assert!(rows[0].starts_with("id,timestamp,flow_id,src_ip"));
    assert!(
        rows[1].contains(",\"curl/8.5.0, \"\"quoted\"\"\","),
        "{}",
        rows[1]
    );

    let stats = tamperwatch(&["flagged", "stats", "--store", db]);
    assert!(stats.status.success(), "{}", stderr(&stats));
    let stats = stdout(&stats);
    assert!(stats.starts_with("alerts: 6"), "{stats}");
    assert!(
        stats.contains("by category:") && stats.contains("upload"),
        "{stats}"
    );
    assert!(stats.contains("upload.script-extension"), "{stats}");

    let purge = tamperwatch(&["flagged", "purge", "--store", db, "--days", "30"]);
    assert!(purge.status.success(), "{}", stderr(&purge));
    assert!(stdout(&purge).starts_with("purged 1 alerts older than 30 days"));
    assert_eq!(list(&[]).len(), 5);
}

#[test]
fn rejects_bad_filter_values_with_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded(dir.path());
    let db = db.to_str().expect("utf-8 path");
    for (flag, value, says) in [
        (
            "--since",
            "yesterdayish",
            "--since: `yesterdayish` is not a time",
        ),
        (
            "--until",
            "2026-02-30",
            "--until: `2026-02-30` is not a time",
        ),
        ("--category", "foo", "--category: `foo` is not a category"),
        (
            "--src",
            "1.2.3",
            "--src: `1.2.3` is not an address or CIDR network",
        ),
        ("--rule", "a b", "--rule: `a b` is neither"),
    ] {
        for command in ["list", "export", "stats"] {
            let o = tamperwatch(&["flagged", command, "--store", db, flag, value]);
            assert_eq!(o.status.code(), Some(1), "{command} {flag} {value}");
            let err = stderr(&o);
            assert!(err.contains(says), "{err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(o.stdout.is_empty());
        }
    }
    let o = tamperwatch(&[
        "flagged", "list", "--store", db, "--since", "1h", "--until", "2h",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not before --until"));
}

#[test]
fn refuses_stores_it_cannot_use_with_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.db");
    let not_db = dir.path().join("notes.db");
    fs::write(&not_db, "not a database\n".repeat(100)).expect("write");
    let newer = seeded(dir.path());
    Connection::open(&newer)
        .expect("raw")
        .pragma_update(None, "user_version", 7)
        .expect("bump");
    let under_file = not_db.join("flagged.db");
    let cases: [(&Path, String); 5] = [
        (
            &missing,
            format!("no flagged store at {}", missing.display()),
        ),
        (dir.path(), "is a directory, not a file".into()),
        (&not_db, "file is not a database".into()),
        (
            &newer,
            format!(
                "schema version 7 is newer than this tamperwatch ({})",
                tamperwatch::sink::store::schema::SCHEMA_VERSION
            ),
        ),
        (&under_file, "Not a directory".into()),
    ];
    for (path, says) in cases {
        for command in [
            &["list"][..],
            &["show", "1"],
            &["export"],
            &["stats"],
            &["purge"],
        ] {
            let mut args = vec!["flagged"];
            args.extend_from_slice(command);
            args.extend_from_slice(&["--store", path.to_str().expect("utf-8")]);
            let o = tamperwatch(&args);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            let err = stderr(&o);
            assert!(err.contains(&says), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
    assert!(!missing.exists(), "queries never create a store");
}

#[test]
fn reports_a_locked_store_instead_of_hanging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded(dir.path());
    let holder = Connection::open(&db).expect("raw");
    holder
        .execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; \
             DELETE FROM alerts WHERE flow_id = 6;",
        )
        .expect("hold an exclusive lock");
    let started = Instant::now();
    let o = tamperwatch(&["flagged", "list", "--store", db.to_str().expect("utf-8")]);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("locked by another process (gave up after 5000 ms)"),
        "{}",
        stderr(&o)
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    drop(holder);
    let o = tamperwatch(&["flagged", "list", "--store", db.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The crash test's child: writes numbered alerts through a `StoreWriter` until killed,
/// printing `committed N` whenever the committed count grows. A no-op in a normal run.
#[test]
fn crash_child() {
    let Ok(db) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    let store = FlaggedStore::create(Path::new(&db)).expect("child store");
    let settings = WriterSettings {
        batch_max: 200,
        batch_interval: Duration::from_millis(10),
        ..WriterSettings::default()
    };
    let writer = StoreWriter::spawn(store, settings).expect("child writer");
    let handle = writer.handle();
    let counters = writer.counters();
    let base = now();
    let started = Instant::now();
    let mut next = 0u64;
    let mut reported = 0;
    let out = std::io::stdout();
    while started.elapsed() < Duration::from_secs(CRASH_CHILD_MAX_SECS) {
        let ts = Timestamp(base.0 + i64::try_from(next).expect("fits"));
        // flow_id = sequence number of accepted alerts, so committed N means 0..N.
        if !handle.try_record(alert(ts, next, "198.51.100.7:5000", Category::Upload)) {
            std::thread::sleep(Duration::from_micros(200));
        } else {
            next += 1;
        }
        let committed = counters.committed();
        if committed != reported {
            reported = committed;
            let mut out = out.lock();
            writeln!(out, "committed {committed}").expect("stdout");
            out.flush().expect("stdout");
        }
    }
}

#[test]
fn keeps_every_reported_alert_when_killed_mid_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let mut reported = 0u64;
    let mut reports = 0;
    while reports < 20 || reported < 3_000 {
        let Some(line) = lines.next() else {
            panic!("child stopped after reporting {reported}");
        };
        let line = line.expect("child output");
        if let Some(n) = line.strip_prefix("committed ") {
            let n: u64 = n.parse().expect("count");
            assert!(n >= reported, "committed count went back");
            reported = n;
            reports += 1;
        }
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    eprintln!("killed the writer after it reported {reported} committed ({reports} reports)");

    let store = FlaggedStore::open(&db).expect("store opens after a crash");
    drop(store);
    let conn = Connection::open(&db).expect("raw");
    let present: i64 = conn
        .query_row(
            "SELECT count(DISTINCT flow_id) FROM alerts WHERE flow_id < ?1",
            [i64::try_from(reported).expect("fits")],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(present, i64::try_from(reported).expect("fits"));
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
}

/// Throughput through the writer by batch size, and the file size per alert.
/// `cargo test --release --test store measures_insert_rate -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check; run with --ignored --nocapture"]
fn measures_insert_rate() {
    for batch_max in [1, 16, 128, 512, 2048] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("rate.db");
        let store = FlaggedStore::create(&db).expect("create");
        let settings = WriterSettings {
            batch_max,
            ..WriterSettings::default()
        };
        let writer = StoreWriter::spawn(store, settings).expect("writer");
        let handle = writer.handle();
        let n: u64 = if batch_max == 1 { 2_000 } else { 50_000 };
        let base = now();
        let started = Instant::now();
        for i in 0..n {
            let ts = Timestamp(base.0 + i64::try_from(i).expect("fits"));
            while !handle.try_record(alert(ts, i, "198.51.100.7:5000", Category::Upload)) {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        let stats = writer.shutdown().expect("shutdown");
        let secs = started.elapsed().as_secs_f64();
        let bytes = fs::metadata(&db).expect("size").len();
        eprintln!(
            "batch_max {batch_max:>5}: {n} alerts committed in {secs:.2} s = {:.0} alerts/s \
             ({} commits, {} retried sends); {} bytes/alert",
            n as f64 / secs,
            stats.commits,
            stats.dropped,
            bytes / n
        );
        assert_eq!(stats.committed, n);
    }
}

#[test]
fn purge_keeps_the_configs_retention_days_unless_told_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = seeded(dir.path());
    let config = dir.path().join("tamperwatch.yaml");
    fs::write(
        &config,
        format!("store:\n  path: {}\nretention:\n  days: 2\n", db.display()),
    )
    .expect("write config");
    let config = config.to_str().expect("utf-8 path");
    let purge = tamperwatch(&["flagged", "purge", "--config", config]);
    assert!(purge.status.success(), "{}", stderr(&purge));
    // The three alerts of the last hour stay; the 3-day and the old one go.
    assert!(
        stdout(&purge).starts_with("purged 3 alerts older than 2 days"),
        "{}",
        stdout(&purge)
    );
    // An explicit --days wins over the config.
    let purge = tamperwatch(&["flagged", "purge", "--config", config, "--days", "1"]);
    assert!(stdout(&purge).starts_with("purged 0 alerts older than 1 days"));
    let db = db.to_str().expect("utf-8 path");
    let list = tamperwatch(&["flagged", "list", "--store", db]);
    assert_eq!(table_rows(&list).len(), 3);
}
