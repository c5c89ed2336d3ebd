//! Link layers: strip the frame header and say which network protocol follows.

use super::DecodeError;

pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// More stacked VLAN tags than this is treated as garbage.
const MAX_VLAN_TAGS: usize = 4;

/// The capture's link type (the DLT / LINKTYPE values of libpcap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_NULL (0): BSD loopback, host-order 4-byte family.
    Null,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, network-order family.
    Loop,
    /// LINKTYPE_RAW (101) or DLT_RAW (12/14): starts with the IP header.
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked capture v1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked capture v2.
    LinuxSll2,
    /// LINKTYPE_C_HDLC (104): Cisco HDLC, address, control, then an ethertype.
    CiscoHdlc,
}

impl LinkType {
    /// Maps a libpcap link-type number; `None` for types we do not decode.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            1 => LinkType::Ethernet,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            104 => LinkType::CiscoHdlc,
            _ => return None,
        })
    }
}

/// Strips the link header; returns the ethertype of what follows and its bytes.
pub(super) fn strip(link: LinkType, frame: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    match link {
        LinkType::Ethernet => strip_ethernet(frame),
        LinkType::Null | LinkType::Loop => {
            let family_bytes: [u8; 4] = frame
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(DecodeError::TruncatedLink)?;
            // DLT_NULL is in the capturing host's byte order; accept either.
            let family = if link == LinkType::Loop {
                u32::from_be_bytes(family_bytes)
            } else {
                let le = u32::from_le_bytes(family_bytes);
                if le > 0xFFFF {
                    u32::from_be_bytes(family_bytes)
                } else {
                    le
                }
            };
            let ethertype = match family {
                2 => ETHERTYPE_IPV4,
                // AF_INET6 differs by OS: BSD 24, FreeBSD 28, Darwin 30, Linux 10.
                10 | 24 | 28 | 30 => ETHERTYPE_IPV6,
                _ => return Err(DecodeError::NotIp),
            };
            Ok((ethertype, &frame[4..]))
        }
        LinkType::Raw => {
            let version = frame.first().ok_or(DecodeError::TruncatedLink)? >> 4;
            match version {
                4 => Ok((ETHERTYPE_IPV4, frame)),
                6 => Ok((ETHERTYPE_IPV6, frame)),
                _ => Err(DecodeError::NotIp),
            }
        }
        LinkType::Ipv4 => Ok((ETHERTYPE_IPV4, frame)),
        LinkType::Ipv6 => Ok((ETHERTYPE_IPV6, frame)),
        LinkType::LinuxSll => {
            // 16 bytes: packet type, ARPHRD, addr len, 8 address bytes, protocol.
            let proto = be16(frame, 14).ok_or(DecodeError::TruncatedLink)?;
            strip_vlan(proto, &frame[16..])
        }
        LinkType::CiscoHdlc => {
            let proto = be16(frame, 2).ok_or(DecodeError::TruncatedLink)?;
            Ok((proto, &frame[4..]))
        }
        LinkType::LinuxSll2 => {
            // 20 bytes: protocol first, then interface index, ARPHRD, type, address.
            let proto = be16(frame, 0).ok_or(DecodeError::TruncatedLink)?;
            if frame.len() < 20 {
                return Err(DecodeError::TruncatedLink);
            }
            strip_vlan(proto, &frame[20..])
        }
    }
}

pub(super) fn strip_ethernet(frame: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    // Two MAC addresses, then the ethertype (no pnet view: one bounds check).
    let ethertype = be16(frame, 12).ok_or(DecodeError::TruncatedLink)?;
    strip_vlan(ethertype, &frame[14..])
}

/// Skips 802.1Q and QinQ tags (each 4 bytes: TCI, then the inner ethertype).
fn strip_vlan(mut ethertype: u16, mut rest: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    for _ in 0..MAX_VLAN_TAGS {
        if !matches!(
            ethertype,
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
        ) {
            return Ok((ethertype, rest));
        }
        ethertype = be16(rest, 2).ok_or(DecodeError::TruncatedLink)?;
        rest = &rest[4..];
    }
    Err(DecodeError::TruncatedLink)
}

pub(super) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}
