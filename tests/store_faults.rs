//! The store writer under operational faults: the store file deleted or replaced while
//! the writer runs, and the store locked by another connection for longer than its
//! busy timeout. Nothing the writer reports as committed may be missing from the file
//! at the store's path, and every alert given up is counted.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use tamperwatch::detect::alert::Alert;
use tamperwatch::sink::store::{FlaggedStore, StoreOptions, StoreWriter, WriterSettings};

fn alert(flow_id: u64) -> Alert {
    support::sample_alert(flow_id, "/.env".into())
}

fn rows(path: &Path) -> i64 {
    let conn = Connection::open(path).expect("open for counting");
    conn.query_row("SELECT count(*) FROM alerts", [], |r| r.get(0))
        .expect("count rows")
}

fn store(path: &Path, busy_timeout: Duration) -> FlaggedStore {
    let options = StoreOptions {
        create: true,
        busy_timeout,
    };
    FlaggedStore::open_with(path, &options).expect("create store")
}

#[test]
fn a_deleted_store_file_is_recreated_and_later_alerts_land_in_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flagged.db");
    let writer = StoreWriter::spawn(
        store(&path, Duration::from_secs(5)),
        WriterSettings::default(),
    )
    .expect("spawn");
    let handle = writer.handle();
    for i in 0..5 {
        assert!(handle.try_record(alert(i)));
    }
    handle.flush().expect("first batch");
    assert_eq!(rows(&path), 5);

    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    assert!(!path.exists());
    for i in 5..8 {
        assert!(handle.try_record(alert(i)));
    }
    handle.flush().expect("batch after the deletion");
    assert!(path.exists(), "the store file was made again");
    assert_eq!(rows(&path), 3, "later alerts are in the new file");

    // Replaced by another (empty) file: also noticed.
    std::fs::remove_file(&path).expect("remove");
    std::fs::write(&path, b"").expect("replace with an empty file");
    assert!(handle.try_record(alert(9)));
    handle.flush().expect("batch after the replacement");
    assert_eq!(rows(&path), 1);

    drop(handle);
    let stats = writer.shutdown().expect("shutdown");
    assert_eq!(stats.recreated, 2);
    // 5 rows stayed in the deleted file and 3 in the replaced one; the empty file
    // that replaced it held none.
    assert_eq!((stats.rows_left_behind, stats.rows_found), (8, 0));
    assert_eq!(stats.committed, 9);
    assert_eq!(stats.lost, 0);
    assert_eq!(stats.write_errors, 0);
}

#[test]
fn a_store_locked_past_its_busy_timeout_is_retried_until_released() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flagged.db");
    let busy_timeout = Duration::from_millis(100);
    let writer =
        StoreWriter::spawn(store(&path, busy_timeout), WriterSettings::default()).expect("spawn");
    let holder = Connection::open(&path).expect("second connection");
    holder.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let handle = writer.handle();
    for i in 0..4 {
        assert!(handle.try_record(alert(i)));
    }
    let releaser = std::thread::spawn(move || {
        // Held for several busy timeouts.
        std::thread::sleep(Duration::from_millis(600));
        holder.execute_batch("COMMIT").expect("unlock");
    });
    let started = Instant::now();
    handle.flush().expect("committed once the lock went away");
    assert!(started.elapsed() >= Duration::from_millis(500));
    releaser.join().expect("releaser");
    drop(handle);
    let stats = writer.shutdown().expect("shutdown");
    assert_eq!(stats.committed, 4);
    assert_eq!(stats.lost, 0);
    assert!(stats.busy_retries >= 1, "{stats:?}");
    assert_eq!(rows(&path), 4);
}

#[test]
fn a_store_locked_past_the_retry_budget_drops_the_batch_and_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flagged.db");
    let settings = WriterSettings {
        busy_retry_for: Duration::from_millis(300),
        ..WriterSettings::default()
    };
    let writer =
        StoreWriter::spawn(store(&path, Duration::from_millis(50)), settings).expect("spawn");
    let holder = Connection::open(&path).expect("second connection");
    holder.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let handle = writer.handle();
    for i in 0..3 {
        assert!(handle.try_record(alert(i)));
    }
    let started = Instant::now();
    assert!(handle.flush().is_err(), "gave up while locked");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "bounded: {took:?}");
    holder.execute_batch("COMMIT").expect("unlock");
    assert!(handle.try_record(alert(7)));
    handle.flush().expect("writes again after the lock");
    drop(handle);
    let stats = writer.shutdown().expect("shutdown");
    assert_eq!(stats.lost, 3);
    assert_eq!(stats.write_errors, 1);
    assert_eq!(stats.committed, 1);
    assert!(stats.busy_retries >= 1);
}
