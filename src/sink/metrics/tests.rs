//! Metrics: label folding, counts, and the privacy invariant on rendered output.

use std::collections::{BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::*;
use crate::config::ContentGroupMap;
use crate::detect::alert::AlertRule;
use crate::http::{Header, RequestHead, ResponseHead};
use crate::observe::Summary;
use crate::tls::TlsVersion;

const DAY_20000: Timestamp = Timestamp(20_000 * 86_400 * Timestamp::MICROS_PER_SEC);

fn server() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)), 80)
}

fn request(method: &str, uri: &str, version: &str, user_agent: Option<&str>) -> RequestHead {
    let mut headers = vec![Header {
        name: "Host".into(),
        value: "www.example.gov".into(),
    }];
    if let Some(ua) = user_agent {
        headers.push(Header {
            name: "User-Agent".into(),
            value: ua.into(),
        });
    }
    RequestHead {
        method: method.into(),
        uri: uri.into(),
        version: version.into(),
        headers,
        headers_dropped: 0,
    }
}

fn response(status: u16) -> ResponseHead {
    ResponseHead {
        status,
        reason: "Whatever".into(),
        version: "1.1".into(),
        headers: vec![Header {
            name: "Set-Cookie".into(),
            value: "session=cookie-7c1d".into(),
        }],
    }
}

fn txn(client: IpAddr, req: Option<RequestHead>, status: Option<u16>) -> HttpTransaction {
    HttpTransaction {
        request: req,
        response: status.map(response),
        request_body_len: 300,
        response_body_len: 5_000,
        request_end_ts: Some(DAY_20000),
        response_start_ts: Some(Timestamp(DAY_20000.0 + 20_000)),
        body_prefix: b"password=hunter2".to_vec(),
        ..HttpTransaction::new(1, SocketAddr::new(client, 51_234), server(), DAY_20000, 1)
    }
}

fn metrics() -> Metrics {
    let map =
        ContentGroupMap::new([("/permits/", "permits"), ("/news/", "news")]).expect("valid groups");
    let groups = ContentGroups::new(&map);
    Metrics::new(groups).expect("metrics")
}

fn alert(category: Category, rule: &str) -> Alert {
    Alert {
        timestamp: DAY_20000,
        flow_id: 9,
        src: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77)), 40_000),
        dest: server(),
        rule: AlertRule {
            signature_id: 100_101,
            rule: rule.into(),
            signature: "Script file uploaded".into(),
            category,
            severity: 1,
        },
        http: None,
        upload: None,
        evidence: ".php".into(),
        crs: None,
    }
}

/// One sample line of the text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses the samples of a text exposition (comments skipped).
fn samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value = value.parse().expect("numeric value");
        let Some((name, rest)) = series.split_once('{') else {
            out.push(Sample {
                name: series.to_owned(),
                labels: Vec::new(),
                value,
            });
            continue;
        };
        let body = rest.strip_suffix('}').expect("closing brace");
        let mut labels = Vec::new();
        let mut chars = body.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "quoted value in {line}");
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().expect("escaped char")),
                    '"' => break,
                    c => value.push(c),
                }
            }
            if chars.peek() == Some(&',') {
                chars.next();
            }
            labels.push((key, value));
        }
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

fn value_of(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .into_iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(k2, v2)| k2 == k && v2 == v))
        })
        .map_or(0.0, |s| s.value)
}

#[test]
fn methods_fold_to_a_fixed_set() {
    assert_eq!(METHODS[method_index("GET")], "GET");
    assert_eq!(METHODS[method_index("PROPFIND")], "PROPFIND");
    assert_eq!(METHODS[method_index("UNLOCK")], "UNLOCK");
    assert_eq!(METHODS[method_index("get")], "other");
    assert_eq!(METHODS[method_index("BREW")], "other");
    assert_eq!(METHODS[method_index("")], "other");
    assert_eq!(METHODS[method_index("GET /secret")], "other");
}

#[test]
fn status_codes_fold_to_classes() {
    let class = |s| STATUS_CLASSES[status_class_index(s)];
    assert_eq!(class(Some(100)), "1xx");
    assert_eq!(class(Some(200)), "2xx");
    assert_eq!(class(Some(304)), "3xx");
    assert_eq!(class(Some(404)), "4xx");
    assert_eq!(class(Some(599)), "5xx");
    assert_eq!(class(Some(600)), "none");
    assert_eq!(class(Some(99)), "none");
    assert_eq!(class(Some(0)), "none");
    assert_eq!(class(None), "none");
}

#[test]
fn versions_fold_to_a_fixed_set() {
    let version = |v| VERSIONS[version_index(v)];
    assert_eq!(version("0.9"), "0.9");
    assert_eq!(version("1.0"), "1.0");
    assert_eq!(version("1.1"), "1.1");
    assert_eq!(version("2.0"), "other");
    assert_eq!(version("HTTP/1.1"), "other");
    assert_eq!(version("1.1<script>"), "other");
}

#[test]
fn counts_requests_by_method_status_version_group_and_browser() {
    let m = metrics();
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
    let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    for _ in 0..3 {
        m.observe_transaction(&txn(
            client,
            Some(request("GET", "/permits/a", "1.1", Some(firefox))),
            Some(200),
        ));
    }
    m.observe_transaction(&txn(
        client,
        Some(request("BREW", "/x", "1.0", Some("curl/8.5.0"))),
        Some(404),
    ));
    m.observe_transaction(&txn(client, Some(request("GET", "/", "0.9", None)), None));
    let text = m.render();
    let req = names::HTTP_REQUESTS.name;
    let labels = |m, s, v| [("method", m), ("status_class", s), ("version", v)];
    assert_eq!(value_of(&text, req, &labels("GET", "2xx", "1.1")), 3.0);
    assert_eq!(value_of(&text, req, &labels("other", "4xx", "1.0")), 1.0);
    assert_eq!(value_of(&text, req, &labels("GET", "none", "0.9")), 1.0);
    let group = names::HTTP_REQUESTS_BY_CONTENT_GROUP.name;
    assert_eq!(value_of(&text, group, &[("group", "permits")]), 3.0);
    assert_eq!(value_of(&text, group, &[("group", "other")]), 2.0);
    assert_eq!(value_of(&text, group, &[("group", "news")]), 0.0);
    let browser = names::HTTP_REQUESTS_BY_BROWSER.name;
    assert_eq!(value_of(&text, browser, &[("browser", "firefox")]), 3.0);
    assert_eq!(value_of(&text, browser, &[("browser", "curl")]), 1.0);
    assert_eq!(value_of(&text, browser, &[("browser", "none")]), 1.0);
    let sizes = format!("{}_count", names::HTTP_REQUEST_SIZE.name);
    assert_eq!(value_of(&text, &sizes, &[]), 5.0);
    let sizes = format!("{}_sum", names::HTTP_RESPONSE_SIZE.name);
    assert_eq!(value_of(&text, &sizes, &[]), 4.0 * 5_000.0);
    let visitors = names::VISITORS_TODAY.name;
    assert_eq!(value_of(&text, visitors, &[]), 1.0);
}

#[test]
fn unused_cube_cells_are_not_exposed() {
    let m = metrics();
    m.observe_transaction(&txn(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(request("GET", "/", "1.1", None)),
        Some(200),
    ));
    let text = m.render();
    let series = samples(&text)
        .into_iter()
        .filter(|s| s.name == names::HTTP_REQUESTS.name)
        .count();
    assert_eq!(series, 1);
}

#[test]
fn latency_is_observed_only_when_both_times_are_known_and_ordered() {
    let m = metrics();
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let get = || Some(request("GET", "/", "1.1", None));
    m.observe_transaction(&txn(client, get(), Some(200)));
    let mut backwards = txn(client, get(), Some(200));
    backwards.response_start_ts = Some(Timestamp(DAY_20000.0 - 1));
    m.observe_transaction(&backwards);
    let mut unanswered = txn(client, get(), None);
    unanswered.response_start_ts = None;
    m.observe_transaction(&unanswered);
    let text = m.render();
    let latency = names::HTTP_RESPONSE_LATENCY.name;
    assert_eq!(value_of(&text, &format!("{latency}_count"), &[]), 1.0);
    assert_eq!(value_of(&text, &format!("{latency}_sum"), &[]), 0.02);
    assert_eq!(
        value_of(&text, &format!("{latency}_bucket"), &[("le", "0.025")]),
        1.0
    );
    assert_eq!(
        value_of(&text, &format!("{latency}_bucket"), &[("le", "0.01")]),
        0.0
    );
}

#[test]
fn a_response_without_its_request_is_not_a_request() {
    let m = metrics();
    m.observe_transaction(&txn(IpAddr::V4(Ipv4Addr::LOCALHOST), None, Some(200)));
    let text = m.render();
    assert!(samples(&text)
        .iter()
        .all(|s| s.name != names::HTTP_REQUESTS.name));
    let count = format!("{}_count", names::HTTP_RESPONSE_SIZE.name);
    assert_eq!(value_of(&text, &count, &[]), 1.0);
    let count = format!("{}_count", names::HTTP_REQUEST_SIZE.name);
    assert_eq!(value_of(&text, &count, &[]), 0.0);
}

#[test]
fn counts_tls_hellos_by_version_and_sni() {
    let m = metrics();
    let hello = |version, has_sni| ClientHello { version, has_sni };
    m.observe_client_hello(&hello(TlsVersion::Tls13, true));
    m.observe_client_hello(&hello(TlsVersion::Tls13, true));
    m.observe_client_hello(&hello(TlsVersion::Tls10, false));
    let text = m.render();
    let name = names::TLS_CLIENT_HELLOS.name;
    assert_eq!(
        value_of(&text, name, &[("version", "tls1.3"), ("sni", "yes")]),
        2.0
    );
    assert_eq!(
        value_of(&text, name, &[("version", "tls1.0"), ("sni", "no")]),
        1.0
    );
    assert_eq!(
        value_of(&text, name, &[("version", "tls1.3"), ("sni", "no")]),
        0.0
    );
}

#[test]
fn flagged_events_count_by_category_and_rule() {
    let m = metrics();
    m.register_rules([(Category::Traversal, "traversal.dot-dot")]);
    m.observe_alert(&alert(Category::Upload, "upload.script-extension"));
    m.observe_alert(&alert(Category::Upload, "upload.script-extension"));
    let text = m.render();
    let name = names::FLAGGED_EVENTS.name;
    let labels = [("category", "upload"), ("rule", "upload.script-extension")];
    assert_eq!(value_of(&text, name, &labels), 2.0);
    // Registered series exist at zero before their first event.
    assert!(text.contains(r#"rule="traversal.dot-dot""#));
}

#[test]
fn rule_labels_are_capped_and_odd_names_fold_into_other() {
    let m = metrics();
    let rules: Vec<String> = (0..MAX_RULE_LABELS).map(|i| format!("r{i}")).collect();
    m.register_rules(rules.iter().map(|r| (Category::Recon, r.as_str())));
    m.observe_alert(&alert(Category::Recon, "one-too-many"));
    m.observe_alert(&alert(Category::Recon, "r5"));
    let text = m.render();
    let name = names::FLAGGED_EVENTS.name;
    assert_eq!(
        value_of(&text, name, &[("category", "recon"), ("rule", "other")]),
        1.0
    );
    assert_eq!(
        value_of(&text, name, &[("category", "recon"), ("rule", "r5")]),
        1.0
    );

    let m = metrics();
    for odd in [
        "",
        "has space",
        "new\nline",
        "/secret/a?email=x",
        &"x".repeat(200),
    ] {
        m.observe_alert(&alert(Category::Protocol, odd));
    }
    let text = m.render();
    assert_eq!(
        value_of(&text, name, &[("category", "protocol"), ("rule", "other")]),
        5.0
    );
}

#[test]
fn capture_stats_advance_to_absolute_values_and_restart_when_lower() {
    let m = metrics();
    m.set_capture_stats(1_000, 10, 1);
    m.set_capture_stats(5_000, 12, 1);
    let text = m.render();
    let dropped = names::CAPTURE_DROPPED.name;
    assert_eq!(value_of(&text, names::CAPTURE_RECEIVED.name, &[]), 5_000.0);
    assert_eq!(value_of(&text, dropped, &[("where", "kernel")]), 12.0);
    assert_eq!(value_of(&text, dropped, &[("where", "interface")]), 1.0);
    assert_eq!(value_of(&text, dropped, &[("where", "queue")]), 0.0);
    m.add_queue_drops(3);
    let text = m.render();
    assert_eq!(value_of(&text, dropped, &[("where", "queue")]), 3.0);
    // A reopened handle starts again from zero: a counter reset.
    m.set_capture_stats(7, 0, 0);
    let text = m.render();
    assert_eq!(value_of(&text, names::CAPTURE_RECEIVED.name, &[]), 7.0);
    assert_eq!(value_of(&text, dropped, &[("where", "kernel")]), 0.0);
}

#[test]
fn summary_deltas_add_up() {
    let m = metrics();
    let before = Summary::default();
    let mut after = Summary {
        packets: 10,
        bytes: 1_500,
        flows: 2,
        ..Summary::default()
    };
    after.reassembly.gaps = 1;
    after.decode_errors[DecodeError::NotIp.index()] = 3;
    after.http.errors[HttpError::BadChunkSize.index()] = 4;
    after.http.resyncs = 2;
    after.http.resync_scan_bytes = 900;
    after.http.headers_dropped = 73;
    after.http.multipart_params_dropped = 5;
    m.observe_summary_delta(&before, &after);
    let mut later = after.clone();
    later.packets = 15;
    m.observe_summary_delta(&after, &later);
    let text = m.render();
    assert_eq!(value_of(&text, names::PACKETS.name, &[]), 15.0);
    assert_eq!(value_of(&text, names::BYTES.name, &[]), 1_500.0);
    assert_eq!(value_of(&text, names::FLOWS.name, &[]), 2.0);
    assert_eq!(value_of(&text, names::REASSEMBLY_GAPS.name, &[]), 1.0);
    assert_eq!(value_of(&text, names::HTTP_RESYNCS.name, &[]), 2.0);
    assert_eq!(
        value_of(&text, names::HTTP_RESYNC_SCANNED_BYTES.name, &[]),
        900.0
    );
    let what = |w| [("what", w)];
    assert_eq!(
        value_of(&text, names::HTTP_CAPPED.name, &what("header_line")),
        73.0
    );
    assert_eq!(
        value_of(&text, names::HTTP_CAPPED.name, &what("multipart_param")),
        5.0
    );
    let reason = |r| [("reason", r)];
    assert_eq!(
        value_of(&text, names::DECODE_ERRORS.name, &reason("not_ip")),
        3.0
    );
    assert_eq!(
        value_of(
            &text,
            names::HTTP_PARSE_ERRORS.name,
            &reason("bad_chunk_size")
        ),
        4.0
    );
    // Every reason is exposed from the start, at zero.
    assert!(text.contains(r#"reason="bad_fragment""#));
    assert!(text.contains(r#"reason="gap_in_chunk_framing""#));
}

#[test]
fn metrics_are_an_observer_and_an_alert_sink() {
    let mut shared = std::sync::Arc::new(metrics());
    let observer: &mut dyn TransactionObserver = &mut shared;
    observer.on_transaction(&txn(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(request("GET", "/news/x", "1.1", None)),
        Some(200),
    ));
    observer.on_client_hello(&ClientHello {
        version: TlsVersion::Tls12,
        has_sni: true,
    });
    let sink: &mut dyn AlertSink = &mut shared;
    sink.record(&alert(Category::Flood, "flood.syn"))
        .expect("counting cannot fail");
    sink.flush().expect("nothing to flush");
    let text = shared.render();
    let group = names::HTTP_REQUESTS_BY_CONTENT_GROUP.name;
    assert_eq!(value_of(&text, group, &[("group", "news")]), 1.0);
    let hellos = names::TLS_CLIENT_HELLOS.name;
    assert_eq!(
        value_of(&text, hellos, &[("version", "tls1.2"), ("sni", "yes")]),
        1.0
    );
    let flagged = names::FLAGGED_EVENTS.name;
    assert_eq!(
        value_of(
            &text,
            flagged,
            &[("category", "flood"), ("rule", "flood.syn")]
        ),
        1.0
    );
}

#[test]
fn control_plane_setters() {
    let m = metrics();
    m.set_rules_loaded(42);
    m.observe_reload(true);
    m.observe_reload(false);
    m.observe_reload(false);
    m.set_store_rows(17);
    m.add_store_purged_rows(3);
    m.add_store_dropped_writes(2);
    m.add_events_dropped(1);
    let text = m.render();
    assert_eq!(value_of(&text, names::RULES_LOADED.name, &[]), 42.0);
    assert_eq!(
        value_of(&text, names::RELOADS.name, &[("result", "ok")]),
        1.0
    );
    assert_eq!(
        value_of(&text, names::RELOADS.name, &[("result", "error")]),
        2.0
    );
    assert_eq!(value_of(&text, names::STORE_ROWS.name, &[]), 17.0);
    assert_eq!(value_of(&text, names::STORE_PURGED_ROWS.name, &[]), 3.0);
    assert_eq!(value_of(&text, names::STORE_DROPPED_WRITES.name, &[]), 2.0);
    assert_eq!(value_of(&text, names::EVENTS_DROPPED.name, &[]), 1.0);
    // Published as a running total: the same total twice counts once, never down.
    m.set_store_recreated_total(2);
    m.set_store_recreated_total(2);
    m.set_store_recreated_total(1);
    let text = m.render();
    assert_eq!(value_of(&text, names::STORE_RECREATED.name, &[]), 2.0);
}

#[test]
fn visitors_today_is_estimated_and_resets_at_midnight_utc() {
    let m = metrics();
    for i in 0..2_000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i));
        m.observe_transaction(&txn(ip, Some(request("GET", "/", "1.1", None)), Some(200)));
    }
    let text = m.render();
    let visitors = value_of(&text, names::VISITORS_TODAY.name, &[]);
    assert!((visitors - 2_000.0).abs() < 60.0, "{visitors}");
    m.roll_over_day(Timestamp(DAY_20000.0 + 86_400 * Timestamp::MICROS_PER_SEC));
    let text = m.render();
    assert_eq!(value_of(&text, names::VISITORS_TODAY.name, &[]), 0.0);
}

/// The privacy invariant: whatever the traffic, every label value in the output comes
/// from a bounded set fixed in code or configuration.
#[test]
fn rendered_labels_never_carry_addresses_paths_queries_or_agents() {
    let m = metrics();
    let clients = [
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23)),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 201)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xbeef, 0, 0, 0, 0, 0x42)),
    ];
    let uris = [
        "/secret/a?email=x",
        "/permits/form?ssn=123-45-6789",
        "http://www.example.gov/news/../../etc/passwd",
        "/%2e%2e/admin",
        "*",
    ];
    let agents = [
        Some("UniqueAgentToken-5f3a9c Mozilla/5.0"),
        Some("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko Firefox/125.0 uid=a7b7c7"),
        Some("sqlmap/1.8 tracker-d00d"),
        None,
    ];
    let methods = ["GET", "POST", "get", "X-EVIL-METHOD", "PROPFIND"];
    let versions = ["1.1", "1.0", "0.9", "7.7"];
    for (i, client) in clients.iter().enumerate() {
        for (j, uri) in uris.iter().enumerate() {
            let agent = agents[(i + j) % agents.len()];
            let method = methods[(i * 3 + j) % methods.len()];
            let version = versions[(i + 2 * j) % versions.len()];
            let status = [Some(200), Some(404), None, Some(999), Some(503)][(i + j) % 5];
            m.observe_transaction(&txn(
                *client,
                Some(request(method, uri, version, agent)),
                status,
            ));
        }
        m.observe_alert(&alert(Category::Injection, "injection.sql-union"));
    }
    m.observe_client_hello(&ClientHello {
        version: TlsVersion::Unknown,
        has_sni: true,
    });
    m.register_rules([(Category::Upload, "upload.script-extension")]);
    let text = m.render();

    let mut allowed: HashSet<String> = HashSet::new();
    allowed.extend(METHODS.iter().map(|s| s.to_string()));
    allowed.extend(STATUS_CLASSES.iter().map(|s| s.to_string()));
    allowed.extend(VERSIONS.iter().map(|s| s.to_string()));
    allowed.extend(m.content_groups().labels().map(str::to_owned));
    allowed.extend(Browser::ALL.iter().map(|b| b.as_str().to_owned()));
    allowed.extend(TLS_VERSIONS.iter().map(|v| v.as_str().to_owned()));
    allowed.extend(["yes", "no", "ok", "error"].map(str::to_owned));
    allowed.extend(DROP_PLACES.iter().map(|s| s.to_string()));
    allowed.extend(Category::ALL.iter().map(|c| c.as_str().to_owned()));
    allowed.extend(["injection.sql-union", "upload.script-extension", "other"].map(str::to_owned));
    allowed.extend(DecodeError::ALL.iter().map(|e| e.as_str().to_owned()));
    allowed.extend(HttpError::ALL.iter().map(|e| e.as_str().to_owned()));
    allowed.extend(
        caps::CAPS
            .iter()
            .filter_map(|c| c.label)
            .map(|(_, v)| v.to_owned()),
    );

    let mut seen = BTreeSet::new();
    for sample in samples(&text) {
        for (key, value) in &sample.labels {
            if key == "le" {
                assert!(
                    value == "+Inf" || value.parse::<f64>().is_ok(),
                    "bucket bound {value:?}"
                );
                continue;
            }
            assert!(
                allowed.contains(value),
                "label {key}={value:?} on {} is not from a bounded set",
                sample.name
            );
            seen.insert(value.clone());
        }
    }
    // The traffic did reach the labels it may reach.
    for expected in [
        "GET",
        "other",
        "permits",
        "news",
        "bot",
        "none",
        "5xx",
        "injection",
    ] {
        assert!(seen.contains(expected), "{expected} missing from {seen:?}");
    }

    let ipv4 = regex::Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("regex");
    assert!(!ipv4.is_match(&text), "an IPv4 address in the output");
    for needle in [
        "2001:db8",
        "2001:0db8",
        "beef",
        "/secret",
        "email",
        "ssn",
        "123-45-6789",
        "passwd",
        "%2e",
        "UniqueAgentToken",
        "5f3a9c",
        "a7b7c7",
        "tracker-d00d",
        "X-EVIL-METHOD",
        "\"7.7\"",
        "\"999\"",
        "cookie-7c1d",
        "hunter2",
        "www.example.gov",
    ] {
        assert!(!text.contains(needle), "{needle:?} leaked into the metrics");
    }
}

/// `promtool check metrics` (Debian package `prometheus`) lints the exposition.
#[test]
fn rendered_text_passes_promtool() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let m = metrics();
    m.observe_transaction(&txn(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(request("GET", "/permits/x", "1.1", Some("curl/8.5.0"))),
        Some(200),
    ));
    m.observe_client_hello(&ClientHello {
        version: TlsVersion::Tls12,
        has_sni: false,
    });
    m.observe_alert(&alert(Category::Upload, "upload.script-extension"));
    m.set_capture_stats(10, 1, 0);
    let text = m.render();

    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            // Under CI=true a missing tool fails the run (tests/support/mod.rs).
            let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            assert!(!ci, "CI=true and promtool is not available ({e})");
            println!("skipped: promtool not available ({e}); apt-get install prometheus");
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
