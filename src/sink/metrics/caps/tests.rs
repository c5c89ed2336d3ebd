//! Issue 12 item 5: the caps table is complete and every row reaches `/metrics`.

use super::*;
use crate::config::ContentGroupMap;
use crate::http::{HttpTransaction, RequestHead};
use crate::sink::metrics::ContentGroups;
use crate::time::Timestamp;

fn metrics() -> Metrics {
    Metrics::new(ContentGroups::new(&ContentGroupMap::default())).expect("metrics")
}

/// A small finished POST that hits no cap.
fn small_transaction() -> HttpTransaction {
    let addr = |port| std::net::SocketAddr::from(([192, 0, 2, 1], port));
    HttpTransaction {
        request: Some(RequestHead {
            method: "POST".into(),
            uri: "/contact".into(),
            version: "1.1".into(),
            headers: Vec::new(),
            headers_dropped: 0,
        }),
        request_body_len: 3,
        body_prefix: b"a=b".to_vec(),
        ..HttpTransaction::new(
            1,
            addr(40_000),
            addr(80),
            Timestamp(1_700_000_000_000_000),
            1,
        )
    }
}

#[test]
fn every_cap_reaches_metrics_with_its_value() {
    for (i, cap) in CAPS.iter().enumerate() {
        let m = metrics();
        let value = 1_000 + i as u64;
        let before = cap.value_in(&m.render());
        assert_eq!(before, Some(0), "{} is not exposed at zero", cap.field);
        match cap.reading {
            Reading::Summary { write, .. } => {
                let mut after = Summary::default();
                write(&mut after, value);
                m.observe_summary_delta(&Summary::default(), &after);
                // A second report of the same totals adds nothing.
                m.observe_summary_delta(&after, &after);
            }
            Reading::Detector { write, .. } => {
                let mut counts = DetectorCounts::default();
                write(&mut counts, value);
                m.set_detector_counts(&counts);
                m.set_detector_counts(&counts);
            }
            Reading::Transaction { hit, make } => {
                let small = small_transaction();
                assert!(!hit(&small), "{}: a small transaction hits it", cap.field);
                m.observe_transaction(&small);
                let mut big = small_transaction();
                make(&mut big);
                assert!(hit(&big), "{}", cap.field);
                for _ in 0..value {
                    m.observe_transaction(&big);
                }
            }
            Reading::Pushed { add } => add(&m, value),
        }
        let text = m.render();
        assert_eq!(cap.value_in(&text), Some(value), "{}", cap.field);
        assert!(
            text.contains(&format!("# HELP {} {}", cap.metric.name, cap.metric.help)),
            "{}: help text",
            cap.field
        );
        assert!(
            cap.metric.name.starts_with("tamperwatch_") && cap.metric.name.ends_with("_total"),
            "{}",
            cap.metric.name
        );
        // Only this row moved: rows sharing the series stay at zero.
        for (j, other) in CAPS.iter().enumerate() {
            if j != i && (other.metric.name, other.label) != (cap.metric.name, cap.label) {
                let shown = other.value_in(&text);
                assert!(
                    matches!(shown, Some(0) | None),
                    "feeding {} moved {}",
                    cap.field,
                    other.field
                );
            }
        }
    }
}

#[test]
fn detector_counts_are_read_at_scrape_and_a_restart_is_a_reset() {
    let m = metrics();
    let shared = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(7));
    let source = std::sync::Arc::clone(&shared);
    m.watch_detector(Box::new(move || DetectorCounts {
        threshold_windows_dropped: source.load(std::sync::atomic::Ordering::Relaxed),
        ..DetectorCounts::default()
    }));
    let cap = CAPS
        .iter()
        .find(|c| c.field == "detector.threshold_windows_dropped")
        .expect("threshold row");
    assert_eq!(cap.value_in(&m.render()), Some(7));
    shared.store(9, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(cap.value_in(&m.render()), Some(9));
    shared.store(2, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(cap.value_in(&m.render()), Some(2));
}

/// Every leaf field path of a `{:?}` rendering: `reassembly.gaps`, `http.errors`.
fn leaf_fields(debug: &str) -> Vec<String> {
    let bytes = debug.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    // Skip the outer type name and its brace.
    while i < bytes.len() && bytes[i] != b'{' {
        i += 1;
    }
    i += 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'}' {
            stack.pop();
            i += 1;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let name = &debug[start..i];
        if bytes.get(i) != Some(&b':') {
            continue;
        }
        i += 1;
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
        let path = stack
            .iter()
            .map(String::as_str)
            .chain([name])
            .collect::<Vec<_>>()
            .join(".");
        match bytes.get(i) {
            Some(b'[') => {
                out.push(path);
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            Some(c) if c.is_ascii_uppercase() => {
                stack.push(name.to_owned());
                while i < bytes.len() && bytes[i] != b'{' {
                    i += 1;
                }
                i += 1;
            }
            _ => {
                out.push(path);
                while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                    i += 1;
                }
            }
        }
    }
    out
}

/// A cap's field without an array index: `flows_evicted_by_class[0]` → the array.
fn base(field: &str) -> &str {
    field.split('[').next().unwrap_or(field).trim()
}

#[test]
fn every_stage_counter_is_a_cap_or_named_as_not_one() {
    let mut fields = leaf_fields(&format!("{:?}", Summary::default()));
    fields.extend(
        leaf_fields(&format!("{:?}", DetectorCounts::default()))
            .into_iter()
            .map(|f| format!("detector.{f}")),
    );
    assert!(fields.len() > 40, "parsed too few fields: {fields:?}");
    assert!(
        fields.iter().any(|f| f == "http.decode.bomb_capped"),
        "{fields:?}"
    );
    for field in &fields {
        let in_caps = CAPS.iter().any(|c| base(c.field) == field);
        let in_not = NOT_CAPS.iter().any(|(f, _)| f == field);
        assert!(
            in_caps || in_not,
            "stage counter {field} is neither in CAPS nor in NOT_CAPS (a new cap needs its series)"
        );
        // An array may be both: one element a cap (tunnel depth), the rest by reason.
        let whole_cap = CAPS.iter().any(|c| c.field == field);
        assert!(!(whole_cap && in_not), "{field} is in both lists");
    }
    // And neither list names a counter that does not exist.
    for cap in CAPS {
        if matches!(
            cap.reading,
            Reading::Summary { .. } | Reading::Detector { .. }
        ) {
            assert!(
                fields.iter().any(|f| f == base(cap.field)),
                "CAPS names {}, which no stats struct has",
                cap.field
            );
        }
    }
    for (field, _) in NOT_CAPS {
        assert!(
            fields.iter().any(|f| f == field),
            "NOT_CAPS names {field}, which no stats struct has"
        );
    }
}

#[test]
fn stage_counters_sum_field_by_field() {
    // Each row's field set in two summaries adds up in the sum the pipeline makes.
    for cap in CAPS {
        let Reading::Summary { read, write } = cap.reading else {
            continue;
        };
        let summed = ["reassembly.", "http.", "fragments."];
        if !summed.iter().any(|p| cap.field.starts_with(p)) {
            continue;
        }
        let (mut a, mut b) = (Summary::default(), Summary::default());
        write(&mut a, 3);
        write(&mut b, 4);
        a.reassembly += b.reassembly;
        a.http += b.http;
        a.fragments += b.fragments;
        assert_eq!(read(&a), 7, "{} is not summed", cap.field);
    }
}
