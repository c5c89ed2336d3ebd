//! Live: tamperwatch's defragmenter reassembles exactly what this host's kernel does.
//!
//! `scripts/fragment-oracle.py` sends odd fragment sequences (odd lengths with more
//! to follow, fragments cut to nothing, overlaps within and across runs, duplicates
//! with other bytes: hand-built, labelled so, as no tool sends them on purpose) from
//! the client namespace of `scripts/netns-fragments.sh` to a UDP socket in the server
//! namespace, and reports what the kernel delivered; once as IPv4 fragments, once as
//! IPv6 Fragment headers (the kernel reads an odd length with more to follow
//! differently in each: IPv4 cuts the fragment to a multiple of 8, IPv6 drops it). The same fragments then go through
//! [`Defragmenter`]: it must give a datagram exactly when the kernel did, with the same
//! bytes. A monitor that reads a sequence another way either misses what the server got
//! (an evasion) or sees what the server never accepted. Nothing leaves the namespaces;
//! every process is waited for; the namespaces are removed on drop.

mod support;

use std::net::IpAddr;
use std::path::PathBuf;

use tamperwatch::decode::fragment::{Defragmenter, FragmentView};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the defragmenter delivers for one case's fragments: the UDP data of the
/// datagram it completes, if it completes one (the kernel hands the socket the data
/// after the 8-byte UDP header).
fn ours((src, dst): (IpAddr, IpAddr), id: u32, fragments: &[serde_json::Value]) -> Option<Vec<u8>> {
    let mut defrag = Defragmenter::default();
    let mut whole = None;
    for f in fragments {
        let payload = support::unhex(f[2].as_str().expect("hex payload"));
        let view = FragmentView {
            src,
            dst,
            id,
            protocol: 17,
            offset_bytes: u32::try_from(f[0].as_u64().expect("offset")).expect("offset"),
            more_fragments: f[1].as_bool().expect("more fragments"),
            payload: &payload,
        };
        if let Ok(Some(done)) = defrag.insert(&view, 0) {
            assert!(whole.is_none(), "two datagrams from one case");
            whole = Some(done.payload[8..].to_vec());
        }
    }
    whole
}

#[test]
fn odd_and_overlapping_fragments_reassemble_as_the_kernel_reassembles_them() {
    if !support::require(
        support::is_root(),
        "sending raw fragments in network namespaces needs root",
    ) || !support::require_tool("ip")
        || !support::require_tool("python3")
    {
        return;
    }
    let ns = support::Namespaces::up(&format!("twq{}", std::process::id() % 100_000));
    let v4 = compare(&ns, "10.231.1.2", "10.231.2.2");
    let v6 = compare(&ns, "fd31:1::2", "fd31:2::2");
    // The families part ways where the kernel does: an odd fragment with more to
    // follow is cut (IPv4) or dropped alone, leaving the rest to complete (IPv6).
    for (case, in_v4, in_v6) in [
        ("odd-trimmed", true, false),
        ("odd-to-nothing", false, true),
    ] {
        assert_eq!(v4.contains(&case.to_owned()), in_v4, "IPv4 {case}: {v4:?}");
        assert_eq!(v6.contains(&case.to_owned()), in_v6, "IPv6 {case}: {v6:?}");
    }
}

/// Sends every case from `src` to `dst` and checks tamperwatch against the kernel;
/// returns the cases the kernel delivered.
fn compare(ns: &support::Namespaces, src: &str, dst: &str) -> Vec<String> {
    let oracle = repo().join("scripts/fragment-oracle.py");
    let (sent, delivered) = ns.ask_oracle(&oracle, &["recv", dst], &["send", src, dst]);
    let delivered: Vec<Vec<u8>> = delivered.lines().map(support::unhex).collect();

    let cases: Vec<serde_json::Value> = sent
        .lines()
        .map(|l| serde_json::from_str(l).expect("case line"))
        .collect();
    assert_eq!(cases.len(), 10, "every case was sent");
    let addrs = (
        src.parse().expect("source address"),
        dst.parse().expect("destination address"),
    );
    let mut kernel_delivered = Vec::new();
    for case in &cases {
        let name = case["case"].as_str().expect("case name");
        let tag = format!("{name}-");
        let kernel = delivered
            .iter()
            .find(|d| d.starts_with(tag.as_bytes()))
            .cloned();
        if kernel.is_some() {
            kernel_delivered.push(name.to_owned());
        }
        let id = u32::try_from(case["id"].as_u64().expect("id")).expect("id");
        let fragments = case["fragments"].as_array().expect("fragments");
        assert_eq!(
            ours(addrs, id, fragments),
            kernel,
            "case {name} ({src} to {dst}): tamperwatch and the kernel disagree"
        );
    }
    // Both outcomes occur, so the comparison can fail either way.
    assert!(
        (1..cases.len()).contains(&kernel_delivered.len()),
        "kernel delivered {kernel_delivered:?} of {} cases",
        cases.len()
    );
    kernel_delivered
}
