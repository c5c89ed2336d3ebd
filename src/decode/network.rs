//! IPv4, IPv6 (with extension headers), TCP and UDP.

use std::net::{IpAddr, Ipv4Addr};

use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::udp::UdpPacket;

use super::fragment::FragmentView;
use super::link::{be16, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::{DecodeError, Decoded, PacketView, TcpFlags, Transport};

pub(super) const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DEST_OPTS: u8 = 60;
const IPV6_MOBILITY: u8 = 135;
/// Longer extension chains than this are treated as hostile.
const MAX_IPV6_EXTENSIONS: usize = 8;
/// The IPv4 flags-and-offset word: the more-fragments flag, and the offset (in 8-byte
/// units).
const IPV4_MORE_FRAGMENTS: u16 = 0x2000;
const IPV4_OFFSET_MASK: u16 = 0x1fff;

pub(super) fn decode_ip(ethertype: u16, l3: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    match ethertype {
        ETHERTYPE_IPV4 => decode_ipv4(l3),
        ETHERTYPE_IPV6 => decode_ipv6(l3),
        _ => Err(DecodeError::NotIp),
    }
}

fn decode_ipv4(l3: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    // The fixed header read from one array, fields at their RFC 791 offsets: pnet's
    // accessors bounds-check and assemble every field apart, on every packet.
    let h: &[u8; 20] = l3
        .get(..20)
        .and_then(|h| h.try_into().ok())
        .ok_or(DecodeError::BadIpv4Header)?;
    if h[0] >> 4 != 4 {
        return Err(DecodeError::BadIpv4Header);
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // Total length 0 happens with TSO on the capturing host: trust the frame then.
    let end = if total_len == 0 { l3.len() } else { total_len };
    if header_len < 20 || end < header_len || end > l3.len() {
        return Err(DecodeError::BadIpv4Header);
    }
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    let protocol = h[9];
    let payload = &l3[header_len..end];
    let flags_offset = u16::from_be_bytes([h[6], h[7]]);
    let more_fragments = flags_offset & IPV4_MORE_FRAGMENTS != 0;
    let offset = flags_offset & IPV4_OFFSET_MASK;
    if more_fragments || offset != 0 {
        return Ok(Decoded::Fragment(FragmentView {
            src,
            dst,
            id: u32::from(u16::from_be_bytes([h[4], h[5]])),
            protocol,
            offset_bytes: u32::from(offset) * 8,
            more_fragments,
            payload,
        }));
    }
    decode_transport(src, dst, protocol, payload).map(Decoded::Packet)
}

fn decode_ipv6(l3: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let ip = Ipv6Packet::new(l3).ok_or(DecodeError::BadIpv6Header)?;
    if ip.get_version() != 6 {
        return Err(DecodeError::BadIpv6Header);
    }
    let payload_len = usize::from(ip.get_payload_length());
    // Payload length 0 means a jumbogram or TSO; take the frame's length.
    let end = if payload_len == 0 {
        l3.len()
    } else {
        40 + payload_len
    };
    if end > l3.len() {
        return Err(DecodeError::BadIpv6Header);
    }
    let src = IpAddr::V6(ip.get_source());
    let dst = IpAddr::V6(ip.get_destination());
    let mut next = ip.get_next_header().0;
    let mut rest = &l3[40..end];
    for _ in 0..MAX_IPV6_EXTENSIONS {
        match next {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS | IPV6_MOBILITY => {
                let len = rest
                    .get(1)
                    .map(|l| (usize::from(*l) + 1) * 8)
                    .ok_or(DecodeError::BadIpv6Extension)?;
                if len > rest.len() {
                    return Err(DecodeError::BadIpv6Extension);
                }
                next = rest[0];
                rest = &rest[len..];
            }
            IPV6_FRAGMENT => {
                if rest.len() < 8 {
                    return Err(DecodeError::BadIpv6Extension);
                }
                let offset_flags = be16(rest, 2).ok_or(DecodeError::BadIpv6Extension)?;
                let id = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
                let offset_bytes = u32::from(offset_flags >> 3) * 8;
                let more_fragments = offset_flags & 1 != 0;
                let protocol = rest[0];
                let payload = &rest[8..];
                if more_fragments || offset_bytes != 0 {
                    return Ok(Decoded::Fragment(FragmentView {
                        src,
                        dst,
                        id,
                        protocol,
                        offset_bytes,
                        more_fragments,
                        payload,
                    }));
                }
                // An atomic fragment (RFC 6946): just the payload.
                next = protocol;
                rest = payload;
            }
            _ => return decode_transport(src, dst, next, rest).map(Decoded::Packet),
        }
    }
    Err(DecodeError::BadIpv6Extension)
}

/// Decodes TCP or UDP over an already-validated IP payload.
pub(crate) fn decode_transport(
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    l4: &[u8],
) -> Result<PacketView<'_>, DecodeError> {
    match protocol {
        PROTO_TCP => {
            // The fixed header from one array (RFC 9293 offsets), as for IPv4 above.
            let t: &[u8; 20] = l4
                .get(..20)
                .and_then(|t| t.try_into().ok())
                .ok_or(DecodeError::BadTcpHeader)?;
            let data_offset = usize::from(t[12] >> 4) * 4;
            if data_offset < 20 || data_offset > l4.len() {
                return Err(DecodeError::BadTcpHeader);
            }
            Ok(PacketView {
                src,
                dst,
                transport: Transport::Tcp {
                    src_port: u16::from_be_bytes([t[0], t[1]]),
                    dst_port: u16::from_be_bytes([t[2], t[3]]),
                    seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
                    ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
                    flags: TcpFlags(t[13]),
                },
                payload: &l4[data_offset..],
            })
        }
        PROTO_UDP => {
            let udp = UdpPacket::new(l4).ok_or(DecodeError::BadUdpHeader)?;
            let len = usize::from(udp.get_length());
            // Length 0 is legal for UDP over IPv6 jumbograms; otherwise it must fit.
            let end = if len == 0 { l4.len() } else { len };
            if end < 8 || end > l4.len() {
                return Err(DecodeError::BadUdpHeader);
            }
            Ok(PacketView {
                src,
                dst,
                transport: Transport::Udp {
                    src_port: udp.get_source(),
                    dst_port: udp.get_destination(),
                },
                payload: &l4[8..end],
            })
        }
        _ => Err(DecodeError::OtherTransport),
    }
}
