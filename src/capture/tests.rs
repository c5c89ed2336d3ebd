//! The classic reader against libpcap: the same frames from every capture in the
//! repository, and from odd files (hand-built, labelled: cut records, records longer
//! than the snapshot, an impossible length), the same frames before the same failure.

use std::path::{Path, PathBuf};

use super::{FileSource, Frame, PacketSource};
use crate::time::Timestamp;

/// (timestamp, wire length, data) of every frame, and whether reading ended in an error.
type Read = (Vec<(Timestamp, u32, Vec<u8>)>, bool);

fn frame_tuple(f: &Frame<'_>) -> (Timestamp, u32, Vec<u8>) {
    (f.ts, f.wire_len, f.data.to_vec())
}

fn through_libpcap(path: &Path) -> Read {
    let mut capture = pcap::Capture::from_file(path).expect("libpcap opens it");
    let mut frames = Vec::new();
    loop {
        match capture.next_packet() {
            Ok(p) => frames.push(frame_tuple(&Frame::from_pcap(&p))),
            Err(pcap::Error::NoMorePackets) => return (frames, false),
            Err(_) => return (frames, true),
        }
    }
}

fn through_source(path: &Path) -> (Read, bool) {
    let mut source = FileSource::open(path).expect("opens");
    let native = source.is_read_natively();
    let mut frames = Vec::new();
    loop {
        match source.next_frame() {
            Ok(Some(f)) => frames.push(frame_tuple(&f)),
            Ok(None) => return ((frames, false), native),
            Err(_) => return ((frames, true), native),
        }
    }
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            captures(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "pcap" || e == "pcapng")
        {
            out.push(path);
        }
    }
}

#[test]
fn every_repository_capture_reads_as_libpcap_reads_it() {
    let mut paths = Vec::new();
    captures(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps"),
        &mut paths,
    );
    assert!(paths.len() > 100, "only {} captures found", paths.len());
    let (mut native, mut frames) = (0, 0);
    for path in &paths {
        let ((ours, failed), is_native) = through_source(path);
        assert_eq!((ours.len(), failed), {
            let (theirs, theirs_failed) = through_libpcap(path);
            assert!(ours == theirs, "{}: frames differ", path.display());
            (theirs.len(), theirs_failed)
        });
        native += usize::from(is_native);
        frames += ours.len();
    }
    // Most captures are classic pcap; pcapng ones go through libpcap.
    assert!(
        native * 10 > paths.len() * 9,
        "{native} of {} read natively",
        paths.len()
    );
    assert!(frames > 10_000, "{frames} frames");
}

/// Hand-built: a little-endian classic header and records.
fn file(snaplen: u32, records: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, snaplen, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, (caplen, data)) in records.iter().enumerate() {
        for v in [
            1_795_341_600 + i as u32,
            250_000,
            *caplen,
            data.len() as u32 + 3,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(data);
    }
    out
}

#[test]
fn odd_files_read_as_libpcap_reads_them() {
    let frame: Vec<u8> = (0..200u8).collect();
    let whole = file(0, &[(200, &frame), (200, &frame)]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("whole", whole.clone()),
        (
            "cut in a record header",
            whole[..whole.len() - 205].to_vec(),
        ),
        ("cut in a record's data", whole[..whole.len() - 7].to_vec()),
        (
            "longer than the snapshot",
            file(64, &[(200, &frame), (100, &frame[..100])]),
        ),
        (
            "impossible length",
            file(0, &[(200, &frame), (300_000, &frame)]),
        ),
        (
            "snapshot over the maximum",
            file(u32::MAX, &[(200, &frame)]),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in cases {
        let path = dir.path().join("odd.pcap");
        std::fs::write(&path, &bytes).expect("write");
        let (ours, native) = through_source(&path);
        assert!(native, "{name}: read natively");
        assert!(
            ours == through_libpcap(&path),
            "{name}: differs from libpcap"
        );
    }
}
