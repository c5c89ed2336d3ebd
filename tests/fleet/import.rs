//! `tamperwatch flagged import` at the command line: hosts, `--host` filters, an
//! export/import round trip between central stores, and a file that is not EVE.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::root;

fn flagged(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("flagged")
        .arg("--store")
        .arg(db)
        .args(args)
        .output()
        .expect("run tamperwatch flagged")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Two hosts' files, named as the collector names them.
fn two_hosts(dir: &Path) -> (String, String, usize, usize) {
    let attacks = root().join("pcaps/attacks");
    let a = dir.join("web1.jsonl");
    let b = dir.join("permits.jsonl");
    fs::copy(attacks.join("injection.events.jsonl"), &a).expect("copy");
    fs::copy(attacks.join("traversal.events.jsonl"), &b).expect("copy");
    let count = |p: &Path| fs::read_to_string(p).expect("read").lines().count();
    let (na, nb) = (count(&a), count(&b));
    (
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
        na,
        nb,
    )
}

#[test]
fn imports_hosts_and_filters_by_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fleet.db");
    let (a, b, na, nb) = two_hosts(dir.path());
    let out = flagged(&db, &["import", &a, &b]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{na} lines: {na} imported")),
        "{}",
        stdout(&out)
    );

    let stats = stdout(&flagged(&db, &["stats", "--host", "web1"]));
    assert!(stats.starts_with(&format!("alerts: {na}\n")), "{stats}");
    let list = stdout(&flagged(
        &db,
        &["list", "--host", "permits", "--limit", "500"],
    ));
    assert_eq!(
        list.lines().count(),
        nb + 1,
        "header and one line each: {list}"
    );
    assert!(list.lines().next().is_some_and(|h| h.contains("HOST")));
    assert!(
        list.lines().skip(1).all(|l| l.contains(" permits ")),
        "{list}"
    );
    let export = stdout(&flagged(&db, &["export", "--host", "web1"]));
    assert_eq!(export.lines().count(), na);
    assert!(export.lines().all(|l| l.contains(r#""host":"web1""#)));
    let bad = flagged(&db, &["list", "--host", "a/b"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--host"), "{}", stderr(&bad));

    // An export of the central store, imported into another, keeps each line's host.
    let all = dir.path().join("all.jsonl");
    fs::write(&all, stdout(&flagged(&db, &["export"]))).expect("export");
    let db2 = dir.path().join("second.db");
    let out = flagged(&db2, &["import", &all.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stats = stdout(&flagged(&db2, &["stats", "--host", "permits"]));
    assert!(stats.starts_with(&format!("alerts: {nb}\n")), "{stats}");
    let again = flagged(&db2, &["import", &all.to_string_lossy()]);
    assert!(stdout(&again).contains(" 0 imported"), "{}", stdout(&again));

    let show = flagged(&db, &["show", "1", "--host", "permits"]);
    assert_eq!(show.status.code(), Some(1), "alert 1 is web1's");
    let show = flagged(&db, &["show", "1", "--host", "web1"]);
    assert!(stdout(&show).contains("host "), "{}", stdout(&show));
}

#[test]
fn a_file_that_is_not_eve_exits_1_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fleet.db");
    let (a, _, na, _) = two_hosts(dir.path());
    let notes = dir.path().join("notes.txt");
    fs::write(&notes, "these are not events\n").expect("write");
    let notes = notes.to_string_lossy().into_owned();
    let out = flagged(&db, &["import", &notes, &a]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&notes) && err.contains("not EVE JSON"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    // The good file after it was still imported.
    assert!(
        stdout(&out).contains(&format!("{na} imported")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_lines_are_named_by_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fleet.db");
    let (a, _, na, _) = two_hosts(dir.path());
    let mut text = fs::read_to_string(&a).expect("read");
    text.push_str("{\"timestamp\": \"garbled\n");
    fs::write(&a, text).expect("write");
    let out = flagged(&db, &["import", &a]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{a}:{}: not JSON", na + 1)),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains(" 1 bad"), "{}", stdout(&out));
}
