//! The derived BPF filter, compiled by libpcap and run on hand-built frames (named
//! byte fixtures: the point is what the kernel filter sees, not a capture).
use std::path::Path;

use pcap::{Capture, Linktype};

use crate::config::Config;

const SITE: &str = "site:\n  addresses: [203.0.113.10/32, \"2001:db8::10/128\"]\n  ports: [80]\n";

fn program() -> pcap::BpfProgram {
    let config = Config::parse(SITE, Path::new("t.yaml")).expect("config");
    let dead = Capture::dead(Linktype::ETHERNET).expect("dead capture");
    dead.compile(&config.capture_filter(), true)
        .expect("filter compiles")
}

fn ether(ethertype: u16, vlan: bool) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// IPv4 to 203.0.113.10 with the given fragment field, carrying `payload`.
fn ipv4(frag_field: u16, dst: [u8; 4], payload: &[u8], vlan: bool) -> Vec<u8> {
    let mut f = ether(0x0800, vlan);
    let total = (20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 9]);
    f.extend_from_slice(&frag_field.to_be_bytes());
    f.extend_from_slice(&[64, 6, 0, 0, 198, 51, 100, 7]);
    f.extend_from_slice(&dst);
    f.extend_from_slice(payload);
    f
}

fn tcp(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

/// IPv6 to 2001:db8::10 with one Destination Options header before TCP.
fn ipv6_with_dest_options() -> Vec<u8> {
    let mut f = ether(0x86dd, false);
    let mut payload = vec![6, 0, 1, 4, 0, 0, 0, 0]; // next: TCP; PadN
    payload.extend_from_slice(&tcp(40_000, 80));
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[60, 64]); // next header: Destination Options
    f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ]);
    f.extend_from_slice(&payload);
    f
}

const SITE_V4: [u8; 4] = [203, 0, 113, 10];

#[test]
fn whole_segments_to_the_site_port_pass_and_others_do_not() {
    let p = program();
    assert!(p.filter(&ipv4(0x4000, SITE_V4, &tcp(40_000, 80), false)));
    assert!(!p.filter(&ipv4(0x4000, SITE_V4, &tcp(40_000, 22), false)));
    assert!(!p.filter(&ipv4(0x4000, [192, 0, 2, 1], &tcp(40_000, 80), false)));
}

#[test]
fn every_fragment_to_the_site_passes() {
    let p = program();
    // A non-first fragment: no TCP header, only data.
    assert!(p.filter(&ipv4(0x0003, SITE_V4, b"body of the upload......", false)));
    // A first fragment (more-fragments set) whose TCP header is cut short.
    assert!(p.filter(&ipv4(0x2000, SITE_V4, &[0x9c, 0x40], false)));
    assert!(!p.filter(&ipv4(
        0x0003,
        [192, 0, 2, 1],
        b"elsewhere...............",
        false
    )));
}

#[test]
fn ipv6_with_extension_headers_passes() {
    assert!(program().filter(&ipv6_with_dest_options()));
}

#[test]
fn vlan_tagged_traffic_passes() {
    let p = program();
    assert!(p.filter(&ipv4(0x4000, SITE_V4, &tcp(40_000, 80), true)));
    assert!(p.filter(&ipv4(0x0003, SITE_V4, b"fragment behind a tag...", true)));
}

#[test]
fn a_site_with_only_ipv4_addresses_still_compiles() {
    let config = Config::parse(
        "site:\n  addresses: [203.0.113.10/32]\n  ports: [80, 8080]\n",
        Path::new("t.yaml"),
    )
    .expect("config");
    let dead = Capture::dead(Linktype::ETHERNET).expect("dead capture");
    dead.compile(&config.capture_filter(), true)
        .expect("compiles");
    let any = Config::parse("site:\n  ports: [80]\n", Path::new("t.yaml")).expect("config");
    dead.compile(&any.capture_filter(), true).expect("compiles");
}
