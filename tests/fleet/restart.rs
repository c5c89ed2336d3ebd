//! A collector stopped mid-stream (SIGTERM, SIGKILL) and started again: nothing lost,
//! repeats counted, the central store exactly once. The TLS run is in `tls`.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use crate::lab::{self, adapt, wait_until, Lab};
use crate::*;

/// How long a transport without acknowledgements gets to deliver after the restart.
const LOSSY_WAIT: Duration = Duration::from_secs(15);

/// One forwarding set-up: the shipped configs and what the test changes in them
/// beyond paths and addresses.
pub struct Variant {
    pub name: &'static str,
    /// Short tag for namespace and interface names, and a /30 of its own.
    pub tag: &'static str,
    pub net: u8,
    pub forward: &'static str,
    pub collector: &'static str,
    pub host_edits: Vec<(String, String)>,
    pub collector_edits: Vec<(String, String)>,
    /// Stop the collector with SIGKILL instead of SIGTERM.
    pub crash: bool,
    /// Also kill the host's rsyslogd (SIGKILL) while the collector is down and its
    /// queue holds lines, then start it again. omrelp hands a line to librelp and takes
    /// it off the queue before the collector acknowledges it (rsyslog issue #3820), so
    /// the lines in flight when the collector went away live only in the host's memory:
    /// a crash may lose those (never a line queued while the collector was down), and
    /// they are recovered from the host's events file.
    pub host_crash: bool,
    /// The port the collector listens on.
    pub port: u16,
    /// Whether the transport promises no loss (RELP); without it, lines a restart lost
    /// are counted and recovered from the host's events file instead.
    pub lossless: bool,
}

/// What a run moved.
pub struct Figures {
    pub sent: usize,
    pub received: usize,
    pub lost: u64,
    /// Lines written before the collector stopped that had not arrived when it stopped:
    /// the most a host crash may lose.
    pub in_flight_at_stop: usize,
    pub duplicated: u64,
    /// Rows in the central store after importing the collector's file (twice).
    pub stored: u64,
    /// Distinct lines sent.
    pub distinct: u64,
}

/// Imports the collector's per-host file into a fresh central store twice, with
/// `tamperwatch flagged import`; returns (rows, distinct lines sent). RELP delivers at
/// least once, so a collector restart may repeat lines in the file; the store keeps
/// each line once.
fn import_into_store(t: &Path, out_dir: &Path, sent: &[String]) -> (u64, u64) {
    let (_, file) = collected_file(out_dir);
    let db = t.join("fleet.db");
    let imported = import_count(&db, &[&file]);
    assert_eq!(import_count(&db, &[&file]), 0, "a second import added rows");
    let rows = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT count(*) FROM alerts")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        });
    if let Some(rows) = rows {
        assert_eq!(rows, imported);
    }
    let distinct = sent.iter().collect::<std::collections::HashSet<_>>().len() as u64;
    (imported, distinct)
}

#[test]
fn every_event_arrives_once_across_a_collector_restart() {
    if !lab_available() {
        return;
    }
    let f = restart_scenario(&Variant {
        name: "RELP",
        tag: "p",
        net: 1,
        forward: "tamperwatch-forward.conf",
        collector: "tamperwatch-collector.conf",
        host_edits: Vec::new(),
        collector_edits: Vec::new(),
        crash: false,
        port: RELP_PORT,
        lossless: true,
        host_crash: false,
    });
    assert_eq!(f.lost, 0);
    assert_eq!(f.received as u64, f.sent as u64 + f.duplicated);
    assert_eq!(f.stored, f.distinct, "the store holds every event once");
}

#[test]
fn no_queued_event_is_lost_when_the_host_crashes() {
    if !lab_available() {
        return;
    }
    let f = restart_scenario(&Variant {
        name: "RELP, host killed while the collector is down",
        tag: "h",
        net: 7,
        forward: "tamperwatch-forward.conf",
        collector: "tamperwatch-collector.conf",
        host_edits: Vec::new(),
        collector_edits: Vec::new(),
        crash: false,
        port: RELP_PORT,
        lossless: true,
        host_crash: true,
    });
    // The scenario checks that every lost line was in flight when the collector
    // stopped; none queued while it was down may be lost.
    assert!(f.lost as usize <= f.in_flight_at_stop);
    assert_eq!(f.received as u64, f.sent as u64 - f.lost + f.duplicated);
    assert_eq!(f.stored, f.distinct, "the store holds every event once");
}

#[test]
fn no_event_is_lost_when_the_collector_crashes() {
    if !lab_available() {
        return;
    }
    let f = restart_scenario(&Variant {
        name: "RELP, collector killed",
        tag: "k",
        net: 3,
        forward: "tamperwatch-forward.conf",
        collector: "tamperwatch-collector.conf",
        host_edits: Vec::new(),
        collector_edits: Vec::new(),
        crash: true,
        port: RELP_PORT,
        lossless: true,
        host_crash: false,
    });
    assert_eq!(f.lost, 0);
    assert_eq!(f.received as u64, f.sent as u64 + f.duplicated);
    assert_eq!(f.stored, f.distinct, "the store holds every event once");
}

/// Runs host and collector, writes events, stops and restarts the collector midway;
/// asserts the restart held lines back and every line arrived once; returns figures.
pub fn restart_scenario(v: &Variant) -> Figures {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (host_work, out_dir) = (t.join("host-work"), t.join("collected"));
    fs::create_dir_all(&host_work).expect("work dir");
    fs::create_dir_all(&out_dir).expect("out dir");
    let events_file = t.join("events.jsonl");

    let mut lab = Lab::new(v.tag, v.net);
    let mut host_edits = host_edits(&events_file, &host_work, &lab.collector_ip);
    host_edits.extend(v.host_edits.iter().cloned());
    let mut collector_edits: Vec<(String, String)> = vec![(
        "/var/log/tamperwatch-fleet".into(),
        out_dir.to_string_lossy().into_owned(),
    )];
    collector_edits.extend(v.collector_edits.iter().cloned());
    let host_conf = adapt(&shipped(v.forward), &host_edits, &t.join("host.conf"));
    let collector_conf = adapt(
        &shipped(v.collector),
        &collector_edits,
        &t.join("collector.conf"),
    );
    for conf in [&host_conf, &collector_conf] {
        if let Err(out) = validate(conf) {
            panic!("rsyslogd -N1 -f {}:\n{out}", conf.display());
        }
    }

    let one_round = replayed_events(t);
    let sent: Vec<String> = (0..ROUNDS)
        .flat_map(|_| one_round.iter().cloned())
        .collect();
    let third = sent.len() / 3;
    let (phase1, rest) = sent.split_at(third);
    let (phase2, phase3) = rest.split_at(third);
    let (before_stop, while_down) = phase2.split_at(phase2.len() / 2);

    let (c_ns, h_ns) = (lab.collector_ns.clone(), lab.host_ns.clone());
    let (c_pid, c_log) = (t.join("collector.pid"), t.join("collector.log"));
    let collector = lab.start_rsyslogd(&c_ns, "collector", &collector_conf, &c_pid, &c_log);
    // The host starts once the collector listens: a first connection that fails can
    // make RELP send its first line twice, which is not what this phase measures.
    assert!(
        wait_until(DELIVERY_WAIT, || lab.listening(&c_ns, v.port)),
        "collector never listened on {}",
        v.port
    );
    let start_host = |lab: &mut Lab| {
        lab.start_rsyslogd(
            &h_ns,
            "host",
            &host_conf,
            &t.join("host.pid"),
            &t.join("host.log"),
        )
    };
    let host = start_host(&mut lab);
    let logs = || {
        format!(
            "collector log:\n{}\nhost log:\n{}",
            fs::read_to_string(t.join("collector.log")).unwrap_or_default(),
            fs::read_to_string(t.join("host.log")).unwrap_or_default()
        )
    };

    // Phase 1: the collector is up; every line arrives once.
    append(&events_file, phase1);
    let arrived = wait_until(DELIVERY_WAIT, || {
        compare(phase1, &received(&out_dir)).0 == 0
    });
    let got = received(&out_dir);
    let (lost1, repeated1) = compare(phase1, &got);
    assert!(
        arrived,
        "phase 1: {} of {} arrived, {lost1} missing\n{}",
        got.len(),
        phase1.len(),
        logs()
    );
    assert_eq!(
        repeated1,
        0,
        "phase 1 (no restart): {repeated1} lines repeated: {:?}\n{}",
        extras(phase1, &got),
        logs()
    );

    // Phase 2: stop the collector mid-stream (lines still in flight), keep writing.
    // In one write, and the stop as soon as the first of them has landed, so the
    // collector goes away with lines in flight.
    append_at_once(&events_file, before_stop);
    let in_flight = lab::wait_until_every(DELIVERY_WAIT, Duration::from_millis(1), || {
        received(&out_dir).len() > phase1.len()
    });
    assert!(in_flight, "no line after phase 1 arrived\n{}", logs());
    let first_pid = lab.daemon(collector).pid();
    let stopped_at = received(&out_dir).len();
    if v.crash {
        lab.daemon(collector).crash();
    } else {
        lab.daemon(collector).stop();
    }
    append(&events_file, while_down);
    sleep(DOWNTIME);
    let at_restart = received(&out_dir).len();
    assert!(lab.daemon(host).running(), "host rsyslogd died\n{}", logs());
    if v.host_crash {
        lab.daemon(host).crash();
        start_host(&mut lab);
    }
    let collector2 = lab.start_rsyslogd(&c_ns, "collector", &collector_conf, &c_pid, &c_log);

    // Phase 3: the collector is back; the queue drains and new lines follow.
    append(&events_file, phase3);
    // Every line sent has arrived (duplicates aside): nothing lost. A lossy transport
    // gets a shorter wait: lines it lost never come.
    let wait = if v.lossless {
        DELIVERY_WAIT
    } else {
        LOSSY_WAIT
    };
    // A host crash may lose the lines in flight at the stop (see `Variant::host_crash`):
    // wait for all the others.
    let must_arrive: Vec<String> = if v.host_crash {
        [phase1, while_down, phase3].concat()
    } else {
        sent.clone()
    };
    let arrived = wait_until(wait, || compare(&must_arrive, &received(&out_dir)).0 == 0);
    // A little longer, so a late duplicate (or a late in-flight line) would show.
    sleep(Duration::from_secs(if v.host_crash { 3 } else { 1 }));
    let got = received(&out_dir);
    let (lost, duplicated) = compare(&sent, &got);
    let in_flight_at_stop = (phase1.len() + before_stop.len()).saturating_sub(stopped_at);
    if v.host_crash {
        // Each round repeats the same lines, and phase 1 arrived whole before the stop,
        // so a line lost here is one of `before_stop`'s by its text.
        let in_flight: HashSet<&str> = before_stop.iter().map(String::as_str).collect();
        let lost_lines = missing(&sent, &got);
        assert!(
            lost_lines.iter().all(|l| in_flight.contains(l.as_str())),
            "lines lost that were not in flight when the collector stopped: {:?}\n{}",
            lost_lines
                .iter()
                .filter(|l| !in_flight.contains(l.as_str()))
                .collect::<Vec<_>>(),
            logs()
        );
        assert!(
            lost as usize <= in_flight_at_stop,
            "{lost} lost, but only {in_flight_at_stop} were in flight at the stop"
        );
    }
    println!(
        "fleet ({}): sent {} events, received {} at the collector, lost {lost}, duplicated {duplicated}; \
         collector (pid {first_pid}) {} after {} were written and {stopped_at} had arrived, \
         {} arrived before it came back (pid {}), {} were written while it was down",
        v.name,
        sent.len(),
        got.len(),
        if v.crash { "killed (SIGKILL)" } else { "stopped (SIGTERM)" },
        phase1.len() + before_stop.len(),
        at_restart,
        lab.daemon(collector2).pid(),
        while_down.len(),
    );
    assert!(
        at_restart < phase1.len() + phase2.len(),
        "nothing was held back while the collector was down: the restart tested nothing"
    );
    if v.lossless {
        assert!(
            arrived,
            "{} of {} arrived; missing: {:?}\n{}",
            got.len(),
            must_arrive.len(),
            extras(&got, &must_arrive),
            logs()
        );
        if !v.host_crash {
            assert_eq!(lost, 0, "{}", logs());
        }
    }
    drop(lab);
    let (mut stored, distinct) = import_into_store(t, &out_dir, &sent);
    println!(
        "fleet ({}): central store after importing the collector's file twice: {stored} rows \
         for {distinct} distinct events",
        v.name
    );
    if !v.lossless || lost > 0 {
        let (host, _) = collected_file(&out_dir);
        let events = events_file.to_string_lossy().into_owned();
        let recovered = import_count(&t.join("fleet.db"), &["--host", &host, &events]);
        println!(
            "fleet ({}): {recovered} more rows from the host's own events file",
            v.name
        );
        stored += recovered;
    }
    Figures {
        sent: sent.len(),
        received: got.len(),
        lost,
        in_flight_at_stop,
        duplicated,
        stored,
        distinct,
    }
}
