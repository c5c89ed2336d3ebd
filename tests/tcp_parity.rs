//! Live: tamperwatch's stream reassembler reads overlapping TCP segments as this host's
//! kernel does, byte for byte.
//!
//! `scripts/tcp-oracle.py` opens one connection per case from the client namespace of
//! `scripts/netns-fragments.sh` to a listening socket in the server namespace, speaking
//! TCP itself through raw sockets (hand-built, labelled so: no tool sends overlapping
//! segments with different bytes on purpose), and reports what the server's
//! application read. The client namespace's kernel has no socket for these connections
//! and would reset them: an nftables rule there drops its RSTs. The same segments then
//! go through [`StreamReassembler`]: it must hand on exactly the bytes the server read.
//! A monitor that reads another copy of an overlap inspects text the server never
//! received. Nothing leaves the namespaces; every process is waited for; the
//! namespaces are removed on drop.

mod support;

use std::path::PathBuf;
use std::process::Stdio;

use tamperwatch::reassembly::{Chunk, SeqNumber, StreamReassembler};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the reassembler hands on for one case's segments (offsets from the first data
/// byte), the stream finished as the client's FIN finishes it.
fn ours(segments: &[serde_json::Value]) -> Vec<u8> {
    let mut stream = StreamReassembler::default();
    stream.set_isn(SeqNumber(1000));
    let mut read = Vec::new();
    let mut deliver = |chunk: Chunk<'_>| {
        if let Chunk::Data(d) = chunk {
            read.extend_from_slice(d);
        }
    };
    for s in segments {
        let offset = u32::try_from(s[0].as_u64().expect("offset")).expect("offset");
        let data = support::unhex(s[1].as_str().expect("hex"));
        stream.insert_segment(SeqNumber(1001 + offset), &data, &mut deliver);
    }
    stream.finish(&mut deliver);
    read
}

#[test]
fn overlapping_segments_are_read_as_the_kernel_reads_them() {
    if !support::require(
        support::is_root(),
        "speaking raw TCP in network namespaces needs root",
    ) || !support::require_tool("ip")
        || !support::require_tool("nft")
        || !support::require_tool("python3")
    {
        return;
    }
    let oracle = repo().join("scripts/tcp-oracle.py");
    let ns = support::Namespaces::up(&format!("twt{}", std::process::id() % 100_000));
    let mut nft = ns
        .exec('c')
        .args(["nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("start nft");
    std::io::Write::write_all(
        nft.stdin.as_mut().expect("nft stdin"),
        b"table ip twt {\n chain out {\n  type filter hook output priority 0;\n  tcp flags & rst == rst drop\n }\n}\n",
    )
    .expect("write the rule");
    drop(nft.stdin.take());
    assert!(nft.wait().expect("nft").success(), "nft rule");

    let (sent, read) = ns.ask_oracle(
        &oracle,
        &["serve", "10.231.2.2"],
        &["send", "10.231.1.2", "10.231.2.2"],
    );
    let read: Vec<serde_json::Value> = read
        .lines()
        .map(|l| serde_json::from_str(l).expect("server line"))
        .collect();

    let cases: Vec<serde_json::Value> = sent
        .lines()
        .map(|l| serde_json::from_str(l).expect("case line"))
        .collect();
    assert_eq!(cases.len(), 9, "every case was sent");
    let mut later_copy_won = 0;
    for case in &cases {
        let name = case["case"].as_str().expect("case name");
        let kernel = read
            .iter()
            .find(|r| r["port"] == case["port"])
            .map(|r| support::unhex(r["data"].as_str().expect("hex")))
            .unwrap_or_else(|| panic!("case {name}: the server read no connection"));
        // Every case sends 30 bytes or more; a short read means the connection broke.
        assert!(kernel.len() >= 20, "case {name}: {kernel:?}");
        later_copy_won += usize::from(kernel.contains(&b'X') || kernel.contains(&b'Y'));
        let segments = case["segments"].as_array().expect("segments");
        assert_eq!(
            String::from_utf8_lossy(&ours(segments)),
            String::from_utf8_lossy(&kernel),
            "case {name}: tamperwatch and the kernel read different bytes"
        );
    }
    // Both outcomes occur: the first copy kept, and a later copy taken.
    assert!(
        (1..cases.len()).contains(&later_copy_won),
        "a later copy won in {later_copy_won} of {} cases",
        cases.len()
    );
}
