//! Issue 12 item 5, with real traffic: captures that hit caps, replayed, and the
//! cap series of `/metrics` checked against the pipeline's own counters. Caps no
//! committed capture reaches (a tunnel nested five deep, a decompression bomb, a full
//! reassembly buffer) are fed through their stats struct by the unit tests in
//! `src/sink/metrics/caps/tests.rs`, which also check that the table is complete.

use std::path::PathBuf;
use std::sync::Arc;

use tamperwatch::config::ContentGroupMap;
use tamperwatch::pipeline::{PipelineSettings, Summary};
use tamperwatch::sink::metrics::caps::{Reading, CAPS};
use tamperwatch::sink::metrics::{ContentGroups, Metrics};

/// Flow table size for the eviction cases: small enough that the floods fill it.
const SMALL_FLOW_TABLE: usize = 64;

/// Replays a capture with the metrics watching its transactions, as a worker does.
fn replay(capture: &str, max_flows: usize, metrics: &Arc<Metrics>) -> Summary {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps")
        .join(capture);
    let mut sources = tamperwatch::replay::open_all(&[path]).expect("open capture");
    let settings = PipelineSettings {
        max_flows,
        // Keep response bodies, so their cap can be hit.
        response_body_prefix_bytes: tamperwatch::http::session::MAX_RESPONSE_PREFIX_BYTES,
        ..PipelineSettings::default()
    };
    let mut observer = Arc::clone(metrics);
    tamperwatch::replay::replay(&mut sources, settings, &mut observer, &mut |_| {}).expect("replay")
}

#[test]
fn caps_hit_by_real_captures_show_in_metrics_with_the_pipeline_counts() {
    let default_flows = PipelineSettings::default().max_flows;
    let cases: [(&str, usize, &[&str]); 9] = [
        (
            "attacks/script-upload.pcap",
            default_flows,
            &["transaction.body_prefix"],
        ),
        (
            "tcp/large-download.pcap",
            default_flows,
            &["transaction.response_body_prefix"],
        ),
        (
            "attacks/syn-flood.pcap",
            SMALL_FLOW_TABLE,
            &["flows_evicted", "flows_evicted_by_class[0]"],
        ),
        (
            "benign/flash-crowd.pcap",
            SMALL_FLOW_TABLE,
            &["flows_evicted", "flows_evicted_by_class[1]"],
        ),
        (
            "evasion/ip-fragments.pcap",
            default_flows,
            &["fragments.reassembled"],
        ),
        (
            "evasion/header-padding.pcap",
            default_flows,
            &["http.headers_dropped"],
        ),
        (
            "third_party/http-evader/041.pcap",
            default_flows,
            &["http.lenient_responses"],
        ),
        (
            "third_party/http-evader/152.pcap",
            default_flows,
            &["http.decode.corrupt"],
        ),
        (
            "third_party/http-evader/166.pcap",
            default_flows,
            &["http.decode.unknown_coding"],
        ),
    ];
    for (capture, max_flows, expected) in cases {
        for field in expected {
            assert!(
                CAPS.iter().any(|c| c.field == *field),
                "{field} is not a row of CAPS"
            );
        }
        let metrics = Arc::new(
            Metrics::new(ContentGroups::new(&ContentGroupMap::default())).expect("metrics"),
        );
        let summary = replay(capture, max_flows, &metrics);
        metrics.observe_summary_delta(&Summary::default(), &summary);
        let text = metrics.render();
        for cap in CAPS {
            if let Reading::Transaction { .. } = cap.reading {
                let shown = cap.value_in(&text).expect("transaction cap series");
                if expected.contains(&cap.field) {
                    assert!(shown > 0, "{capture} did not hit {}", cap.field);
                }
                continue;
            }
            let Reading::Summary { read, .. } = cap.reading else {
                continue;
            };
            let counted = read(&summary);
            assert_eq!(
                cap.value_in(&text),
                Some(counted),
                "{capture}: {} in /metrics",
                cap.field
            );
            if expected.contains(&cap.field) {
                assert!(counted > 0, "{capture} did not hit {}", cap.field);
            }
        }
    }
}

/// Every transaction of a capture, through a pipeline with these settings.
fn transactions(
    capture: &str,
    settings: PipelineSettings,
) -> Vec<tamperwatch::http::HttpTransaction> {
    struct Collect(Vec<tamperwatch::http::HttpTransaction>);
    impl tamperwatch::pipeline::TransactionObserver for Collect {
        fn on_transaction(&mut self, txn: &tamperwatch::http::HttpTransaction) {
            self.0.push(txn.clone());
        }
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps")
        .join(capture);
    let mut sources = tamperwatch::replay::open_all(&[path]).expect("open capture");
    let mut seen = Collect(Vec::new());
    tamperwatch::replay::replay(&mut sources, settings, &mut seen, &mut |_| {}).expect("replay");
    seen.0
}

#[test]
fn response_bodies_are_counted_but_not_kept_unless_asked() {
    let capture = "tcp/large-download.pcap";
    let by_default = transactions(capture, PipelineSettings::default());
    let keeping = transactions(
        capture,
        PipelineSettings {
            response_body_prefix_bytes: 1000,
            ..PipelineSettings::default()
        },
    );
    assert!(!by_default.is_empty());
    assert_eq!(by_default.len(), keeping.len());
    for (plain, kept) in by_default.iter().zip(&keeping) {
        assert!(plain.response_body_prefix.is_empty());
        assert_eq!(plain.response_body_len, kept.response_body_len);
        let expected = kept.response_body_len.min(1000) as usize;
        assert_eq!(kept.response_body_prefix.len(), expected);
    }
    assert!(keeping.iter().any(|t| t.response_body_len > 1000));
}
