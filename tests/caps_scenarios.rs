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
