//! Test certificates for the TLS variant, made with `openssl` in a temporary
//! directory: a throw-away CA, and one certificate each for the collector
//! (collector.example.gov) and a web host (web1.example.gov), both signed by it and
//! named as the shipped configs' `tls.permittedPeer` expect.

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use crate::lab::{adapt, sh, wait_until, Lab};
use crate::restart::{restart_scenario, Variant};
use crate::*;

/// Days the test certificates are valid.
const VALID_DAYS: &str = "2";

/// Writes ca.pem, collector.pem, collector-key.pem, web1.pem, web1-key.pem into `dir`.
pub fn make_certificates(dir: &Path) {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    let (ca_key, ca_pem) = (p("ca-key.pem"), p("ca.pem"));
    ca.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca_pem,
        "-days",
        VALID_DAYS,
        "-subj",
        "/CN=tamperwatch-test-ca",
    ]);
    sh("openssl", &ca);
    for name in ["collector", "web1"] {
        let (key, csr, pem, ext) = (
            p(&format!("{name}-key.pem")),
            p(&format!("{name}.csr")),
            p(&format!("{name}.pem")),
            p(&format!("{name}.ext")),
        );
        let subject = format!("/CN={name}.example.gov");
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        sh("openssl", &req);
        std::fs::write(
            &ext,
            format!(
                "subjectAltName=DNS:{name}.example.gov\n\
                 extendedKeyUsage=serverAuth,clientAuth\n\
                 keyUsage=digitalSignature,keyEncipherment\n"
            ),
        )
        .expect("extensions file");
        sh(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                VALID_DAYS,
                "-extfile",
                &ext,
            ],
        );
    }
}

#[test]
fn every_event_arrives_once_over_tls_across_a_collector_restart() {
    if !lab_available() || !require("openssl is not installed", have("openssl")) {
        return;
    }
    let certs = tempfile::tempdir().expect("tempdir");
    let dir = certs.path();
    tls::make_certificates(dir);
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let edit = |from: &str, to: String| (from.to_owned(), to);
    let f = restart_scenario(&Variant {
        name: "RELP over TLS",
        tag: "t",
        net: 2,
        forward: "tamperwatch-forward-tls.conf",
        collector: "tamperwatch-collector-tls.conf",
        host_edits: vec![
            edit("/etc/rsyslog.d/tls/ca.pem", path("ca.pem")),
            edit("/etc/rsyslog.d/tls/host.pem", path("web1.pem")),
            edit("/etc/rsyslog.d/tls/host-key.pem", path("web1-key.pem")),
        ],
        collector_edits: vec![
            edit("/etc/rsyslog.d/tls/ca.pem", path("ca.pem")),
            edit("/etc/rsyslog.d/tls/collector.pem", path("collector.pem")),
            edit(
                "/etc/rsyslog.d/tls/collector-key.pem",
                path("collector-key.pem"),
            ),
        ],
        crash: false,
        port: RELP_PORT,
        lossless: true,
        host_crash: false,
    });
    assert_eq!(f.lost, 0);
    assert_eq!(f.received as u64, f.sent as u64 + f.duplicated);
    assert_eq!(f.stored, f.distinct, "the store holds every event once");
}

/// Text replacements in a shipped config.
pub type Edits = Vec<(String, String)>;

/// The edits that point the TLS configs at the certificates in `dir`.
pub fn certificate_edits(dir: &Path) -> (Edits, Edits) {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let edit = |from: &str, to: String| (from.to_owned(), to);
    (
        vec![
            edit("/etc/rsyslog.d/tls/ca.pem", path("ca.pem")),
            edit("/etc/rsyslog.d/tls/host.pem", path("web1.pem")),
            edit("/etc/rsyslog.d/tls/host-key.pem", path("web1-key.pem")),
        ],
        vec![
            edit("/etc/rsyslog.d/tls/ca.pem", path("ca.pem")),
            edit("/etc/rsyslog.d/tls/collector.pem", path("collector.pem")),
            edit(
                "/etc/rsyslog.d/tls/collector-key.pem",
                path("collector-key.pem"),
            ),
        ],
    )
}

/// Plain TCP with rsyslog's gtls driver: TLS works and nothing is repeated; a
/// collector restart can lose the lines in flight (no acknowledgements), which is
/// measured and printed, and the host's events file makes the store whole again.
#[test]
fn gtls_forwarding_delivers_and_the_store_recovers_what_a_restart_lost() {
    if !lab_available()
        || !require("openssl is not installed", have("openssl"))
        || !require(
            "rsyslog's gtls driver is missing (apt-get install rsyslog-gnutls)",
            have_gtls(),
        )
    {
        return;
    }
    let certs = tempfile::tempdir().expect("tempdir");
    make_certificates(certs.path());
    let (host_edits, collector_edits) = certificate_edits(certs.path());
    let f = restart_scenario(&Variant {
        name: "TCP + gtls",
        tag: "g",
        net: 6,
        forward: "tamperwatch-forward-gtls.conf",
        collector: "tamperwatch-collector-gtls.conf",
        host_edits,
        collector_edits,
        crash: false,
        port: 6514,
        lossless: false,
        host_crash: false,
    });
    assert_eq!(f.received as u64 + f.lost, f.sent as u64 + f.duplicated);
    assert_eq!(f.stored, f.distinct, "the store is complete after recovery");
}

/// Whether rsyslog can load its gtls driver (found by asking dpkg, any architecture).
pub fn have_gtls() -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "rsyslog-gnutls"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// A host whose certificate comes from another CA, with the right name, gets nothing
/// into the collector: mutual TLS is what admits a sender, not its address.
#[test]
fn a_host_without_the_fleets_certificate_is_refused() {
    if !lab_available() || !require("openssl is not installed", have("openssl")) {
        return;
    }
    let fleet = tempfile::tempdir().expect("tempdir");
    let rogue = tempfile::tempdir().expect("tempdir");
    make_certificates(fleet.path());
    make_certificates(rogue.path());
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (host_work, out_dir) = (t.join("host-work"), t.join("collected"));
    fs::create_dir_all(&host_work).expect("work dir");
    fs::create_dir_all(&out_dir).expect("out dir");
    let events_file = t.join("events.jsonl");
    let mut lab = Lab::new("r", 5);
    let (mut host_edits, collector_edits) = certificate_edits(fleet.path());
    // The host trusts the fleet's CA but shows a certificate of another.
    let (rogue_host, _) = certificate_edits(rogue.path());
    host_edits.retain(|(from, _)| from.ends_with("ca.pem"));
    host_edits.extend(
        rogue_host
            .into_iter()
            .filter(|(from, _)| !from.ends_with("ca.pem")),
    );
    host_edits.extend(crate::host_edits(
        &events_file,
        &host_work,
        &lab.collector_ip,
    ));
    let host_conf = adapt(
        &shipped("tamperwatch-forward-tls.conf"),
        &host_edits,
        &t.join("host.conf"),
    );
    let mut c_edits = collector_edits;
    c_edits.push((
        "/var/log/tamperwatch-fleet".into(),
        out_dir.to_string_lossy().into_owned(),
    ));
    let collector_conf = adapt(
        &shipped("tamperwatch-collector-tls.conf"),
        &c_edits,
        &t.join("collector.conf"),
    );
    let (c_ns, h_ns) = (lab.collector_ns.clone(), lab.host_ns.clone());
    let c_log = t.join("collector.log");
    lab.start_rsyslogd(
        &c_ns,
        "collector",
        &collector_conf,
        &t.join("c.pid"),
        &c_log,
    );
    assert!(wait_until(DELIVERY_WAIT, || lab.listening(&c_ns, RELP_PORT)));
    lab.start_rsyslogd(
        &h_ns,
        "host",
        &host_conf,
        &t.join("h.pid"),
        &t.join("host.log"),
    );
    append(&events_file, &replayed_events(t)[..50]);
    // Long enough for several connection attempts at the one-second retry.
    let refused = wait_until(Duration::from_secs(20), || {
        fs::read_to_string(&c_log).is_ok_and(|l| !l.is_empty())
    });
    sleep(Duration::from_secs(3));
    let got = received(&out_dir).len();
    let log = fs::read_to_string(&c_log).unwrap_or_default();
    println!(
        "fleet (rogue certificate): {got} lines accepted; collector said: {}",
        log.lines().next().unwrap_or("")
    );
    assert!(refused, "the collector logged no refusal");
    assert_eq!(got, 0, "a host with a foreign certificate got lines in");
    drop(lab);
}
