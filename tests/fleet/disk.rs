//! The collector's disk fills up: what rsyslog drops, and how the host's own events
//! file makes the central store whole again.

use std::fs;
use std::thread::sleep;
use std::time::Duration;

use crate::lab::{self, adapt, wait_until, Lab};
use crate::*;

#[test]
fn no_event_is_lost_while_the_collectors_disk_is_full() {
    if !lab_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (host_work, out_dir) = (t.join("host-work"), t.join("collected"));
    fs::create_dir_all(&host_work).expect("work dir");
    fs::create_dir_all(&out_dir).expect("out dir");
    let events_file = t.join("events.jsonl");
    let disk = lab::Tmpfs::mount(&out_dir, "48k");
    let mut lab = Lab::new("d", 4);
    let host_conf = adapt(
        &shipped("tamperwatch-forward.conf"),
        &host_edits(&events_file, &host_work, &lab.collector_ip),
        &t.join("host.conf"),
    );
    let collector_conf = adapt(
        &shipped("tamperwatch-collector.conf"),
        &[
            (
                "/var/log/tamperwatch-fleet".into(),
                out_dir.to_string_lossy().into_owned(),
            ),
            (
                "action.resumeInterval=\"10\"".into(),
                "action.resumeInterval=\"1\"".into(),
            ),
        ],
        &t.join("collector.conf"),
    );
    let sent = replayed_events(t);
    let (c_ns, h_ns) = (lab.collector_ns.clone(), lab.host_ns.clone());
    lab.start_rsyslogd(
        &c_ns,
        "collector",
        &collector_conf,
        &t.join("collector.pid"),
        &t.join("collector.log"),
    );
    assert!(wait_until(DELIVERY_WAIT, || lab.listening(&c_ns, RELP_PORT)));
    lab.start_rsyslogd(
        &h_ns,
        "host",
        &host_conf,
        &t.join("host.pid"),
        &t.join("host.log"),
    );
    append(&events_file, &sent);
    // The disk fills: the file stops growing short of every line.
    let mut last = usize::MAX;
    let full = wait_until(DELIVERY_WAIT, || {
        sleep(Duration::from_millis(500));
        let n = received(&out_dir).len();
        let stable = n == last;
        last = n;
        stable
    });
    let at_full = received(&out_dir).len();
    assert!(
        full && at_full < sent.len(),
        "the disk never filled: {at_full} lines"
    );
    disk.resize("16m");
    // omfile drops what it could not write (rsyslog issue #4796): those lines are gone
    // from the collector, and come back from the host's own events file.
    sleep(Duration::from_secs(2));
    let got = received(&out_dir);
    let (lost, repeated) = compare(&sent, &got);
    drop(lab);
    let (host, collected) = collected_file(&out_dir);
    let db = t.join("fleet.db");
    let from_collector = import_count(&db, &[&collected]);
    let from_host = import_count(&db, &["--host", &host, &events_file.to_string_lossy()]);
    let distinct = sent.iter().collect::<std::collections::HashSet<_>>().len() as u64;
    println!(
        "fleet (collector disk full): sent {} events, {at_full} written when the disk \
         filled, {} in the collector's file after space was freed: lost {lost}, repeated \
         {repeated}; central store: {from_collector} rows from the collector's file, \
         {from_host} more from the host's events file = {} of {distinct} distinct events",
        sent.len(),
        got.len(),
        from_collector + from_host
    );
    assert_eq!(
        from_collector + from_host,
        distinct,
        "the store is complete"
    );
    drop(disk);
}
