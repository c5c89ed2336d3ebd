//! Eviction is not an escape: a SYN flood that fills the flow table between an upload's
//! head and its body neither hides the upload nor goes unreported.
//!
//! The upload is the first connection of `pcaps/attacks/script-upload.pcap` (curl to
//! nginx: the head in one segment, the multipart body in the next). Between the two,
//! this test inserts 2,000 SYNs from distinct spoofed sources. **Those SYN frames are
//! hand-built here** (labelled so): hping3 `--rand-source` makes the same flood live
//! (scripts/pcapgen), but only a test can place it exactly between two segments of one
//! connection. The flow table is capped at 256 flows, so the flood forces evictions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tamperwatch::capture::{FileSource, Frame, PacketSource};
use tamperwatch::config::Config;
use tamperwatch::detect::alert::Alert;
use tamperwatch::detect::threshold::ThresholdTable;
use tamperwatch::detect::Detector;
use tamperwatch::pipeline::{DetectionStage, Pipeline, PipelineSettings};
use tamperwatch::sink::{AlertSink, SinkError};
use tamperwatch::time::Timestamp;

const FLOOD_SOURCES: u32 = 2_000;
const MAX_FLOWS: usize = 256;

#[derive(Default)]
struct Collected(Vec<Alert>);

impl AlertSink for Collected {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.0.push(alert.clone());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A hand-built Ethernet/IPv4/TCP SYN from 10.x.y.z to 127.0.0.1:8080 (see the module
/// comment for why these are not captured).
fn spoofed_syn(n: u32) -> Vec<u8> {
    let [_, a, b, c] = n.to_be_bytes();
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&[10, a, b, c.max(1)]);
    f.extend_from_slice(&[127, 0, 0, 1]);
    f.extend_from_slice(&(1024 + (n % 60_000) as u16).to_be_bytes());
    f.extend_from_slice(&8080u16.to_be_bytes());
    f.extend_from_slice(&n.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    f
}

fn upload_frames(
    path: &Path,
) -> (
    tamperwatch::decode::LinkType,
    Vec<(Timestamp, Vec<u8>, u32)>,
) {
    let mut source = FileSource::open(path).expect("open capture");
    let link = source.link_type();
    let mut frames = Vec::new();
    while let Some(frame) = source.next_frame().expect("read frame") {
        frames.push((frame.ts, frame.data.to_vec(), frame.wire_len));
    }
    (link, frames)
}

#[test]
fn a_syn_flood_between_an_uploads_head_and_body_hides_nothing() {
    let config = Config::load(&repo().join("pcaps/site.yaml")).expect("config");
    let detector = Detector::load(
        &repo().join("rules"),
        &config,
        Arc::new(ThresholdTable::default()),
    )
    .expect("rules");
    let (link, frames) = upload_frames(&repo().join("pcaps/attacks/script-upload.pcap"));
    // The first connection: 14 frames (handshake, head, body, response, close).
    let first = &frames[..14];
    let head_at = first
        .iter()
        .position(|(_, d, _)| d.windows(5).any(|w| w == b"POST "))
        .expect("request head");
    assert!(
        !first[head_at].1.windows(9).any(|w| w == b"filename="),
        "the head and the body must be in different segments for this test"
    );

    let mut collected = Collected::default();
    let mut pipeline = Pipeline::new(PipelineSettings {
        max_flows: MAX_FLOWS,
        ..PipelineSettings::for_config(&config)
    });
    {
        let mut stage = DetectionStage::new(&detector, vec![&mut collected]);
        let feed =
            |pipeline: &mut Pipeline, stage: &mut DetectionStage<'_>, ts, data: &[u8], wire| {
                let frame = Frame {
                    ts,
                    data,
                    wire_len: wire,
                };
                pipeline.process_frame(link, &frame, stage);
            };
        for (ts, data, wire) in &first[..=head_at] {
            feed(&mut pipeline, &mut stage, *ts, data, *wire);
        }
        let flood_ts = first[head_at].0;
        for n in 0..FLOOD_SOURCES {
            let syn = spoofed_syn(n);
            feed(&mut pipeline, &mut stage, flood_ts, &syn, syn.len() as u32);
        }
        for (ts, data, wire) in &first[head_at + 1..] {
            feed(&mut pipeline, &mut stage, *ts, data, *wire);
        }
        pipeline.finish(&mut stage);
    }
    let alerts = &collected.0;
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule.rule.as_str()).collect();
    assert!(
        pipeline.summary.flows_evicted > 0,
        "the flood must force evictions"
    );
    assert!(
        rules.contains(&"upload.script-extension"),
        "the upload was lost under the flood: {rules:?}"
    );
    let pressure: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.rule.rule == "flood.flow-table-pressure")
        .collect();
    assert_eq!(pressure.len(), 1, "one flood event per episode: {rules:?}");
    // Site-wide: the event names no client.
    let nobody: SocketAddr = "0.0.0.0:0".parse().expect("addr");
    assert_eq!(pressure[0].src, nobody);
}
