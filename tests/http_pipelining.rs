//! Pipelining on every suricata-verify capture whose test name says "pipelin" and that
//! carries HTTP (`pcaps/third_party/suricata-verify-pipelining/SOURCE`): each request a
//! client sent ahead of the replies is seen, in order, and answered by its own reply.
//! The expected requests come from the suricata-verify tests' own expectations, and,
//! where tshark is installed, from tshark's reading of the same capture.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use tamperwatch::capture::FileSource;
use tamperwatch::http::HttpTransaction;
use tamperwatch::pipeline::{Pipeline, PipelineSettings, TransactionObserver};

#[derive(Default)]
struct Collect(Vec<HttpTransaction>);

impl TransactionObserver for Collect {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        self.0.push(txn.clone());
    }
}

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps/third_party/suricata-verify-pipelining")
        .join(name)
}

fn transactions(path: &Path) -> Vec<HttpTransaction> {
    let mut source = FileSource::open(path).expect("capture");
    let mut pipeline = Pipeline::new(PipelineSettings::default());
    let mut seen = Collect::default();
    pipeline
        .run_source(&mut source, &mut seen, &mut |_| {})
        .expect("readable capture");
    pipeline.finish(&mut seen);
    seen.0.sort_by_key(|t| (t.flow_id, t.trans_depth));
    seen.0
}

fn requests(txns: &[HttpTransaction]) -> Vec<(String, String)> {
    txns.iter()
        .filter_map(|t| t.request.as_ref())
        .map(|r| (r.method.clone(), r.uri.clone()))
        .collect()
}

const CAPTURES: [&str; 2] = [
    "firewall-88-tx-pipeline.pcap",
    "http-pipeline-files-with-gap.pcap",
];

#[test]
fn two_requests_in_one_segment_are_both_seen_and_answered() {
    // suricata-verify ruletype-firewall-88: "two pipelined HTTP requests in one client
    // packet: /bar/ followed by /foo/", and an alert on the second.
    let txns = transactions(&capture(CAPTURES[0]));
    let uris: Vec<String> = requests(&txns).into_iter().map(|(_, u)| u).collect();
    assert_eq!(uris, ["/bar/", "/foo/"]);
    for t in &txns {
        assert_eq!(t.status(), Some(200), "each request has its own reply");
        assert!(t.response_body_len > 0 && !t.flags.incomplete);
    }
    assert_eq!(txns[0].flow_id, txns[1].flow_id, "one connection");
}

#[test]
fn requests_sent_ahead_of_replies_keep_their_replies_across_a_gap() {
    // suricata-verify http-pipeline-files-with-gap: three files (one per reply), the
    // second truncated by a gap.
    let txns = transactions(&capture(CAPTURES[1]));
    assert_eq!(txns.len(), 3, "three requests on one connection");
    assert!(txns
        .iter()
        .all(|t| t.request.is_some() && t.status() == Some(200)));
    let gaps: Vec<bool> = txns.iter().map(|t| t.flags.response_gap).collect();
    assert_eq!(
        gaps,
        [false, true, false],
        "the gap is in the second reply only"
    );
    assert!(
        txns[2].response_body_len > 0,
        "the reply after the gap is read"
    );
}

/// Method and URI of every HTTP request tshark dissects, in capture order.
fn tshark_requests(path: &Path) -> Vec<(String, String)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-Y", "http.request", "-T", "fields", "-E", "aggregator=\t"])
        .args(["-e", "http.request.method", "-e", "http.request.uri"])
        .output()
        .expect("tshark runs");
    assert!(out.status.success(), "tshark failed on {path:?}");
    let mut all = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        // One frame may carry several requests: the methods first, then the URIs.
        let half = fields.len() / 2;
        for i in 0..half {
            all.push((fields[i].to_owned(), fields[half + i].to_owned()));
        }
    }
    all
}

#[test]
fn every_request_tshark_sees_is_seen() {
    if !support::require_tool("tshark") {
        return;
    }
    for name in CAPTURES {
        let path = capture(name);
        let expected = tshark_requests(&path);
        assert!(!expected.is_empty(), "{name}: tshark sees requests");
        assert_eq!(requests(&transactions(&path)), expected, "{name}");
    }
}
