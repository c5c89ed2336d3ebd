//! TCP overlaps are read as the server's kernel reads them, and flagged.
//!
//! The classic evasion (Ptacek and Newsham): leave a hole in the stream, send a benign
//! copy of the bytes after it, then a second, overlapping copy that starts lower and
//! carries the attack, then fill the hole. Linux hands the application the copy that
//! starts lower (`tcp_data_queue_ofo`); a monitor that keeps the first copy inspects
//! the decoy. The test takes the upload of `pcaps/attacks/script-upload.pcap` (curl
//! to nginx: the head in one segment, the multipart body with `shell.php` in the next)
//! and **rewrites the body segment by hand** (labelled so: no tool sends overlapping
//! segments with different bytes on purpose): the decoy (every `php` turned into
//! `pdf`, `<?` into spaces) from the body's third byte, then the real body from its
//! second, then its first byte. The flagged upload must be the real one, and the
//! conflicting overlap must raise `protocol.parser-ambiguity`.

use std::path::PathBuf;
use std::process::Command;

use tamperwatch::capture::{FileSource, PacketSource};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The frames of a capture: (seconds, microseconds, bytes).
fn frames(path: &std::path::Path) -> Vec<(i64, i64, Vec<u8>)> {
    let mut source = FileSource::open(path).expect("open capture");
    let mut out = Vec::new();
    while let Some(f) = source.next_frame().expect("frame") {
        out.push((f.ts.0 / 1_000_000, f.ts.0 % 1_000_000, f.data.to_vec()));
    }
    out
}

/// Where an Ethernet/IPv4/TCP frame's payload starts.
fn payload_at(frame: &[u8]) -> usize {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let doff = usize::from(frame[14 + ihl + 12] >> 4) * 4;
    14 + ihl + doff
}

fn seq_of(frame: &[u8]) -> u32 {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    u32::from_be_bytes(frame[14 + ihl + 4..14 + ihl + 8].try_into().expect("seq"))
}

/// `frame` with its TCP payload replaced by `payload` at sequence number `seq` (IP
/// total length set; checksums are not checked by tamperwatch, as offload leaves them
/// wrong on real captures).
fn with_payload(frame: &[u8], seq: u32, payload: &[u8]) -> Vec<u8> {
    let at = payload_at(frame);
    let mut out = frame[..at].to_vec();
    out.extend_from_slice(payload);
    let total = u16::try_from(out.len() - 14).expect("length");
    out[16..18].copy_from_slice(&total.to_be_bytes());
    let ihl = usize::from(out[14] & 0x0f) * 4;
    out[14 + ihl + 4..14 + ihl + 8].copy_from_slice(&seq.to_be_bytes());
    out
}

fn write_pcap(path: &std::path::Path, frames: &[(i64, i64, Vec<u8>)]) {
    let mut out = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 262_144, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (secs, micros, data) in frames {
        let len = u32::try_from(data.len()).expect("length");
        for v in [*secs as u32, *micros as u32, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(data);
    }
    std::fs::write(path, out).expect("write capture");
}

/// The rules that fired on flow 1 when `frames` are replayed with the test site.
fn rules_on_first_flow(frames: &[(i64, i64, Vec<u8>)]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("overlap.pcap");
    write_pcap(&pcap, frames);
    let out = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .arg("--config")
        .arg(repo().join("pcaps/site.yaml"))
        .args(["--events", "-", "--workers", "1"])
        .arg(&pcap)
        .output()
        .expect("run replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["flow_id"] == 1)
        .filter_map(|e| e["alert"]["rule"].as_str().map(str::to_owned))
        .collect()
}

/// The decoy: the same length, nothing a rule looks for.
fn decoy(body: &[u8]) -> Vec<u8> {
    let mut d = body.to_vec();
    for i in 0..d.len().saturating_sub(2) {
        if d[i..i + 3].eq_ignore_ascii_case(b"php") {
            d[i..i + 3].copy_from_slice(b"pdf");
        }
    }
    for i in 0..d.len().saturating_sub(1) {
        if &d[i..i + 2] == b"<?" {
            d[i..i + 2].copy_from_slice(b"  ");
        }
    }
    d
}

#[test]
fn the_lower_copy_of_an_overlap_is_inspected_and_the_conflict_flagged() {
    let original = frames(&repo().join("pcaps/attacks/script-upload.pcap"));
    // Frames 3 and 5: the client's head and body (the capture's first connection).
    let body_frame = &original[5];
    let body = &body_frame.2[payload_at(&body_frame.2)..];
    let seq = seq_of(&body_frame.2);
    assert!(
        body.windows(9).any(|w| w == b"shell.php"),
        "frame 5 is the upload's body"
    );
    let fake = decoy(body);
    let mut rewritten = original[..5].to_vec();
    let (secs, micros) = (body_frame.0, body_frame.1);
    for (s, payload) in [
        (seq + 2, &fake[2..]),
        (seq + 1, &body[1..]),
        (seq, &body[..1]),
    ] {
        rewritten.push((secs, micros, with_payload(&body_frame.2, s, payload)));
    }
    rewritten.extend_from_slice(&original[6..]);
    let rules = rules_on_first_flow(&rewritten);
    assert!(
        rules.iter().any(|r| r == "upload.script-extension"),
        "the real body was not inspected: {rules:?}"
    );
    assert!(
        rules.iter().any(|r| r == "protocol.parser-ambiguity"),
        "the conflicting overlap was not flagged: {rules:?}"
    );

    // The control: the decoy alone is a benign upload, so the test above can fail.
    let mut benign = original[..5].to_vec();
    benign.push((secs, micros, with_payload(&body_frame.2, seq, &fake)));
    benign.extend_from_slice(&original[6..]);
    let rules = rules_on_first_flow(&benign);
    assert!(
        !rules
            .iter()
            .any(|r| r == "upload.script-extension" || r == "protocol.parser-ambiguity"),
        "{rules:?}"
    );
}
