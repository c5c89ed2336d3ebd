use super::fragment::Defragmenter;
use super::*;

/// Builds an IPv4 header (no options) with the given protocol, flags/offset and payload.
fn ipv4(protocol: u8, id: u16, flags_offset: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&flags_offset.to_be_bytes());
    v.extend_from_slice(&[64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    v.extend_from_slice(payload);
    v
}

fn tcp_segment(src_port: u16, dst_port: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&src_port.to_be_bytes());
    v.extend_from_slice(&dst_port.to_be_bytes());
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(&2000u32.to_be_bytes());
    v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(data);
    v
}

fn ethernet(ethertype: u16, l3: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(l3);
    v
}

fn packet(d: Result<Decoded<'_>, DecodeError>) -> PacketView<'_> {
    match d {
        Ok(Decoded::Packet(p)) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

#[test]
fn decodes_ethernet_ipv4_tcp_and_trims_padding() {
    let ip = ipv4(6, 1, 0, &tcp_segment(51234, 80, TcpFlags::ACK, b"GET"));
    let mut frame = ethernet(0x0800, &ip);
    frame.extend_from_slice(&[0u8; 6]); // Ethernet minimum-size padding
    let p = packet(decode(LinkType::Ethernet, &frame));
    assert_eq!(p.payload, b"GET");
    assert_eq!(p.transport.ports(), (51234, 80));
    assert_eq!(p.src.to_string(), "10.0.0.1");
}

#[test]
fn strips_stacked_vlan_tags() {
    let ip = ipv4(6, 1, 0, &tcp_segment(1, 2, TcpFlags::SYN, b""));
    let mut l2 = vec![0u8; 12];
    l2.extend_from_slice(&[0x88, 0xA8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
    l2.extend_from_slice(&ip);
    let p = packet(decode(LinkType::Ethernet, &l2));
    assert_eq!(p.transport.ports(), (1, 2));
}

#[test]
fn decodes_linux_cooked_v1_and_v2() {
    let ip = ipv4(17, 1, 0, &[0, 53, 0, 53, 0, 9, 0, 0, b'x']);
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&[0x08, 0x00]);
    sll.extend_from_slice(&ip);
    assert_eq!(packet(decode(LinkType::LinuxSll, &sll)).payload, b"x");
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0u8; 18]);
    sll2.extend_from_slice(&ip);
    assert_eq!(packet(decode(LinkType::LinuxSll2, &sll2)).payload, b"x");
}

#[test]
fn decodes_bsd_null_in_either_byte_order() {
    let ip = ipv4(6, 1, 0, &tcp_segment(1, 2, 0, b"z"));
    for family in [[2, 0, 0, 0], [0, 0, 0, 2]] {
        let mut f = family.to_vec();
        f.extend_from_slice(&ip);
        assert_eq!(packet(decode(LinkType::Null, &f)).payload, b"z");
    }
}

#[test]
fn decodes_ipv6_through_extension_headers() {
    let tcp = tcp_segment(40000, 443, TcpFlags::ACK, b"hi");
    // Hop-by-hop (8 bytes) then destination options (8 bytes) then TCP.
    let mut ext = vec![60, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0];
    ext.extend_from_slice(&tcp);
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 64]);
    ip.extend_from_slice(&[0u8; 15]);
    ip.push(1);
    ip.extend_from_slice(&[0u8; 15]);
    ip.push(2);
    ip.extend_from_slice(&ext);
    let p = packet(decode(LinkType::Raw, &ip));
    assert_eq!(p.payload, b"hi");
    assert_eq!(p.dst.to_string(), "::2");
}

#[test]
fn rejects_ipv4_header_length_past_the_frame() {
    let mut ip = ipv4(6, 1, 0, &tcp_segment(1, 2, 0, b""));
    ip[0] = 0x4F; // IHL 15 = 60 bytes, longer than the packet
    assert_eq!(
        decode(LinkType::Raw, &ip).err(),
        Some(DecodeError::BadIpv4Header)
    );
}

#[test]
fn rejects_tcp_data_offset_past_the_segment() {
    let mut seg = tcp_segment(1, 2, 0, b"");
    seg[12] = 0xF0;
    let ip = ipv4(6, 1, 0, &seg);
    assert_eq!(
        decode(LinkType::Raw, &ip).err(),
        Some(DecodeError::BadTcpHeader)
    );
}

#[test]
fn every_truncation_of_a_good_frame_is_an_error_not_a_panic() {
    let ip = ipv4(6, 1, 0, &tcp_segment(1, 2, 0, b"payload"));
    let frame = ethernet(0x0800, &ip);
    for cut in 0..frame.len() {
        let _ = decode(LinkType::Ethernet, &frame[..cut]);
    }
    for link in [
        LinkType::Ethernet,
        LinkType::Null,
        LinkType::Raw,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
    ] {
        for len in 0..64 {
            let _ = decode(link, &vec![0xFFu8; len]);
        }
    }
}

#[test]
fn reassembles_ipv4_fragments_in_any_order() {
    let seg = tcp_segment(1, 2, 0, &[7u8; 40]); // 60 bytes of TCP
    let second = ipv4(6, 9, 3, &seg[24..]); // offset 24 bytes = 3 units
    let first = ipv4(6, 9, 0x2000, &seg[..24]);
    let mut defrag = Defragmenter::default();
    for (i, frame) in [second, first].iter().enumerate() {
        let Ok(Decoded::Fragment(f)) = decode(LinkType::Raw, frame) else {
            panic!("expected a fragment")
        };
        let out = defrag.insert(&f, 0).expect("valid fragment");
        if i == 0 {
            assert!(out.is_none());
        } else {
            let whole = out.expect("datagram complete");
            assert_eq!(whole.payload, seg);
        }
    }
}

#[test]
fn drops_fragments_that_would_exceed_the_ip_maximum() {
    let frag = ipv4(6, 9, 0x1FFF, &[0u8; 16]); // offset 65528 + 16 > 65535
    let Ok(Decoded::Fragment(f)) = decode(LinkType::Raw, &frag) else {
        panic!("expected a fragment")
    };
    assert_eq!(
        Defragmenter::default().insert(&f, 0).err(),
        Some(DecodeError::BadFragment)
    );
}
