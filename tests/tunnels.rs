//! Encapsulated traffic from suricata-verify's captures (pcaps/third_party/
//! suricata-verify-tunnels): HTTP inside PPPoE and Cisco HDLC reaches the HTTP layer,
//! and GRE, ERSPAN I/II, VXLAN and Geneve frames decode to their inner packets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tamperwatch::capture::{FileSource, PacketSource};
use tamperwatch::decode::{decode, Decoded, Transport};
use tamperwatch::http::HttpTransaction;
use tamperwatch::pipeline::{Pipeline, PipelineSettings, TransactionObserver};

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps/third_party/suricata-verify-tunnels")
        .join(name)
}

#[derive(Default)]
struct Collect(Vec<HttpTransaction>);

impl TransactionObserver for Collect {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        self.0.push(txn.clone());
    }
}

fn transactions(name: &str) -> Vec<HttpTransaction> {
    let mut source = FileSource::open(&capture(name)).expect("capture");
    let mut pipeline = Pipeline::new(PipelineSettings::default());
    let mut seen = Collect::default();
    pipeline
        .run_source(&mut source, &mut seen, &mut |_| {})
        .expect("readable");
    pipeline.finish(&mut seen);
    seen.0
}

/// Outcome counts of decoding every frame: "tcp:<dport>", "udp:<dport>", "fragment"
/// or the error name.
fn outcomes(name: &str) -> BTreeMap<String, usize> {
    let mut source = FileSource::open(&capture(name)).expect("capture");
    let link = source.link_type();
    let mut counts = BTreeMap::new();
    while let Some(frame) = source.next_frame().expect("frame") {
        let key = match decode(link, frame.data) {
            Ok(Decoded::Packet(p)) => match p.transport {
                Transport::Tcp { dst_port, .. } => format!("tcp:{dst_port}"),
                Transport::Udp { dst_port, .. } => format!("udp:{dst_port}"),
            },
            Ok(Decoded::Fragment(_)) => "fragment".to_owned(),
            Err(e) => e.as_str().to_owned(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[test]
fn http_inside_pppoe_and_cisco_hdlc_is_read() {
    for name in ["bug-4810.pcap", "decode-chdlc-01.pcap"] {
        let txns = transactions(name);
        assert!(
            txns.iter()
                .any(|t| t.method() == Some("GET") && t.status().is_some()),
            "{name}: {} transactions",
            txns.len()
        );
    }
}

#[test]
fn tunnels_decode_to_their_inner_packets() {
    for name in [
        "bug-4810.pcap",
        "decode-chdlc-01.pcap",
        "bug-5633-gre-02.pcap",
        "decode-erspan-typeI-02.pcap",
        "decode-erspan-typeII-01.pcap",
        "geneve-decoder.pcap",
        "vxlan-decoder-02.pcap",
        "vxlan-decoder-03.pcap",
    ] {
        let counts = outcomes(name);
        println!("{name}: {counts:?}");
        for bad in ["bad_tunnel", "tunnel_too_deep", "udp:4789", "udp:6081"] {
            assert!(!counts.contains_key(bad), "{name}: {counts:?}");
        }
    }
}
