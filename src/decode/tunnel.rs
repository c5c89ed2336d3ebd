//! Encapsulations peeled off down to the inner IP packet: GRE (RFC 2784/2890, with
//! ERSPAN types I, II and III), VXLAN (RFC 7348, UDP 4789), Geneve (RFC 8926, UDP 6081)
//! and PPPoE sessions (RFC 2516). Cisco HDLC is a link type (see `link.rs`).
//!
//! Each step returns the next ethertype and bytes, or `None` when the packet is not a
//! tunnel this module knows (then it is decoded as it stands). Nesting deeper than
//! [`MAX_TUNNEL_DEPTH`] is refused and counted (`DecodeError::TunnelTooDeep`).
//! Fragmented outer packets are left to the defragmenter (their inner packet is not
//! peeled here).

use super::link::{be16, strip_ethernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::DecodeError;

/// Encapsulation layers peeled per frame; deeper nesting is counted and dropped.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// PPPoE session stage (RFC 2516 §4).
pub(super) const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const PROTO_GRE: u8 = 47;
const PROTO_UDP: u8 = 17;
const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;
/// GRE protocol types.
const GRE_TRANSPARENT_ETHERNET: u16 = 0x6558;
const GRE_ERSPAN_I_II: u16 = 0x88BE;
const GRE_ERSPAN_III: u16 = 0x22EB;
/// PPP protocol numbers (RFC 1332, RFC 5072).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// One encapsulation step: the inner ethertype and bytes, or `None` if `l3` is not a
/// known tunnel.
pub(super) fn unwrap(ethertype: u16, l3: &[u8]) -> Result<Option<(u16, &[u8])>, DecodeError> {
    match ethertype {
        ETHERTYPE_PPPOE_SESSION => pppoe(l3).map(Some),
        ETHERTYPE_IPV4 => match ipv4_payload(l3) {
            Some((PROTO_GRE, inner)) => gre(inner).map(Some),
            Some((PROTO_UDP, inner)) => udp_tunnel(inner),
            _ => Ok(None),
        },
        ETHERTYPE_IPV6 => match ipv6_payload(l3) {
            Some((PROTO_GRE, inner)) => gre(inner).map(Some),
            Some((PROTO_UDP, inner)) => udp_tunnel(inner),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Protocol and payload of an unfragmented IPv4 packet (no checks beyond bounds: the
/// network decoder validates the header when the packet is not a tunnel).
fn ipv4_payload(l3: &[u8]) -> Option<(u8, &[u8])> {
    let b0 = *l3.first()?;
    if b0 >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(b0 & 0x0f) * 4;
    let total = usize::from(be16(l3, 2)?);
    let frag = be16(l3, 6)?;
    if frag & 0x3fff != 0 || ihl < 20 || total < ihl || total > l3.len() {
        return None;
    }
    Some((*l3.get(9)?, l3.get(ihl..total)?))
}

/// Next header and payload of an IPv6 packet without extension headers.
fn ipv6_payload(l3: &[u8]) -> Option<(u8, &[u8])> {
    if l3.first()? >> 4 != 6 {
        return None;
    }
    let len = usize::from(be16(l3, 4)?);
    Some((*l3.get(6)?, l3.get(40..40 + len)?))
}

fn pppoe(b: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    // ver/type, code, session id (2), length (2), then the PPP protocol: two bytes, or
    // one when compressed (an odd first byte, RFC 1661 §6.5).
    let len = usize::from(be16(b, 4).ok_or(DecodeError::BadTunnel)?);
    let first = *b.get(6).ok_or(DecodeError::BadTunnel)?;
    let (proto, at) = if first & 1 == 1 {
        (u16::from(first), 7)
    } else {
        (be16(b, 6).ok_or(DecodeError::BadTunnel)?, 8)
    };
    let payload = b
        .get(at..(6 + len).min(b.len()))
        .ok_or(DecodeError::BadTunnel)?;
    match proto {
        PPP_IPV4 => Ok((ETHERTYPE_IPV4, payload)),
        PPP_IPV6 => Ok((ETHERTYPE_IPV6, payload)),
        _ => Err(DecodeError::NotIp),
    }
}

fn gre(b: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    let flags = be16(b, 0).ok_or(DecodeError::BadTunnel)?;
    let proto = be16(b, 2).ok_or(DecodeError::BadTunnel)?;
    if flags & 0x0007 != 0 {
        // Version 1 is PPTP's enhanced GRE (PPP inside), not decoded.
        return Err(DecodeError::BadTunnel);
    }
    let has_seq = flags & 0x1000 != 0;
    let mut at = 4;
    for bit in [0x8000, 0x2000, 0x1000] {
        if flags & bit != 0 {
            at += 4;
        }
    }
    let payload = b.get(at..).ok_or(DecodeError::BadTunnel)?;
    match proto {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok((proto, payload)),
        GRE_TRANSPARENT_ETHERNET => strip_ethernet(payload),
        // ERSPAN type I has no header (and no sequence number); type II has 8 bytes.
        GRE_ERSPAN_I_II if !has_seq => strip_ethernet(payload),
        GRE_ERSPAN_I_II => strip_ethernet(payload.get(8..).ok_or(DecodeError::BadTunnel)?),
        GRE_ERSPAN_III => {
            // 12 bytes, plus an 8-byte platform subheader when the O bit is set.
            let o_bit = payload.get(11).ok_or(DecodeError::BadTunnel)? & 0x01 != 0;
            let skip = if o_bit { 20 } else { 12 };
            strip_ethernet(payload.get(skip..).ok_or(DecodeError::BadTunnel)?)
        }
        _ => Err(DecodeError::NotIp),
    }
}

fn udp_tunnel(udp: &[u8]) -> Result<Option<(u16, &[u8])>, DecodeError> {
    let Some(dst_port) = be16(udp, 2) else {
        return Ok(None);
    };
    let payload = udp.get(8..).unwrap_or_default();
    match dst_port {
        PORT_VXLAN => {
            // 8 bytes: flags (I bit), reserved, VNI, reserved; then Ethernet.
            let inner = payload.get(8..).ok_or(DecodeError::BadTunnel)?;
            strip_ethernet(inner).map(Some)
        }
        PORT_GENEVE => {
            let b0 = *payload.first().ok_or(DecodeError::BadTunnel)?;
            let opt_len = usize::from(b0 & 0x3f) * 4;
            let proto = be16(payload, 2).ok_or(DecodeError::BadTunnel)?;
            let inner = payload.get(8 + opt_len..).ok_or(DecodeError::BadTunnel)?;
            match proto {
                GRE_TRANSPARENT_ETHERNET => strip_ethernet(inner).map(Some),
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Some((proto, inner))),
                _ => Err(DecodeError::NotIp),
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decoded, LinkType};
    use super::*;

    /// Hand-built (no tool nests GRE on demand): `inner` wrapped in IPv4 + GRE.
    fn wrap_gre(inner: &[u8]) -> Vec<u8> {
        let total = (20 + 4 + inner.len()) as u16;
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, PROTO_GRE, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x08, 0x00]);
        p.extend_from_slice(inner);
        p
    }

    fn udp_packet() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 29, 0, 0, 0, 0, 64, PROTO_UDP, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        p.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 9, 0, 0, b'x']);
        p
    }

    #[test]
    fn nested_gre_is_peeled_up_to_the_limit() {
        let mut p = udp_packet();
        for _ in 0..MAX_TUNNEL_DEPTH {
            p = wrap_gre(&p);
        }
        match decode(LinkType::Raw, &p) {
            Ok(Decoded::Packet(v)) => assert_eq!(v.payload, b"x"),
            other => panic!("inner packet expected, got {other:?}"),
        }
        let deeper = wrap_gre(&p);
        assert_eq!(
            decode(LinkType::Raw, &deeper).err(),
            Some(DecodeError::TunnelTooDeep)
        );
    }

    #[test]
    fn truncated_and_unknown_tunnels_are_errors_not_panics() {
        let p = wrap_gre(&udp_packet());
        for cut in 0..p.len() {
            let _ = decode(LinkType::Raw, &p[..cut]);
        }
        let mut v1 = p.clone();
        v1[21] = 0x01; // GRE version 1 (PPTP)
        assert_eq!(
            decode(LinkType::Raw, &v1).err(),
            Some(DecodeError::BadTunnel)
        );
    }
}
