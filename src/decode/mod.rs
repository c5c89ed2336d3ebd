//! Decode: link, network and transport headers into a [`PacketView`].
//!
//! Receives one captured frame and its link type; emits a view of borrowed slices over
//! the capture buffer (no allocation) or a [`DecodeError`] naming why the frame was
//! skipped. Every length is checked before a field is read, so no input can panic.
//! The hot headers (Ethernet, IPv4, TCP) are read from fixed-size arrays at their RFC
//! offsets; the rarer ones (IPv6, UDP) through `pnet_packet` views.
//! IPv4 fragments are handed back as [`Decoded::Fragment`] for the bounded
//! [`fragment::Defragmenter`].

pub mod fragment;
mod link;
mod network;
pub mod tunnel;

use std::net::IpAddr;

pub use link::LinkType;

/// Why a frame could not be decoded; each reason is counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    #[error("frame shorter than its link header")]
    TruncatedLink,
    #[error("link type not supported")]
    UnsupportedLink,
    #[error("network protocol not IPv4 or IPv6")]
    NotIp,
    #[error("IPv4 header truncated or with a bad length field")]
    BadIpv4Header,
    #[error("IPv6 header truncated or with a bad payload length")]
    BadIpv6Header,
    #[error("IPv6 extension header chain truncated or too long")]
    BadIpv6Extension,
    #[error("TCP header truncated or with a bad data offset")]
    BadTcpHeader,
    #[error("UDP header truncated or with a bad length")]
    BadUdpHeader,
    #[error("transport protocol not TCP or UDP")]
    OtherTransport,
    #[error("IPv4 fragment could not be reassembled")]
    BadFragment,
    #[error("tunnel header truncated or of an unknown kind")]
    BadTunnel,
    #[error("tunnels nested deeper than the limit")]
    TunnelTooDeep,
}

impl DecodeError {
    /// Every reason, for zeroed counters and summaries in a fixed order.
    pub const ALL: [DecodeError; 12] = [
        DecodeError::TruncatedLink,
        DecodeError::UnsupportedLink,
        DecodeError::NotIp,
        DecodeError::BadIpv4Header,
        DecodeError::BadIpv6Header,
        DecodeError::BadIpv6Extension,
        DecodeError::BadTcpHeader,
        DecodeError::BadUdpHeader,
        DecodeError::OtherTransport,
        DecodeError::BadFragment,
        DecodeError::BadTunnel,
        DecodeError::TunnelTooDeep,
    ];

    /// A short stable name, used as a metrics label and in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeError::TruncatedLink => "truncated_link",
            DecodeError::UnsupportedLink => "unsupported_link",
            DecodeError::NotIp => "not_ip",
            DecodeError::BadIpv4Header => "bad_ipv4_header",
            DecodeError::BadIpv6Header => "bad_ipv6_header",
            DecodeError::BadIpv6Extension => "bad_ipv6_extension",
            DecodeError::BadTcpHeader => "bad_tcp_header",
            DecodeError::BadUdpHeader => "bad_udp_header",
            DecodeError::OtherTransport => "other_transport",
            DecodeError::BadFragment => "bad_fragment",
            DecodeError::BadTunnel => "bad_tunnel",
            DecodeError::TunnelTooDeep => "tunnel_too_deep",
        }
    }

    /// Index into [`DecodeError::ALL`], for array-backed counters on the hot path.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// TCP header flags (RFC 9293 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// The transport header of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
}

impl Transport {
    /// Source and destination ports.
    pub fn ports(&self) -> (u16, u16) {
        match *self {
            Transport::Tcp {
                src_port, dst_port, ..
            }
            | Transport::Udp { src_port, dst_port } => (src_port, dst_port),
        }
    }
}

/// A decoded packet: addresses, transport header and a borrowed payload.
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport,
    /// Transport payload, trimmed to the IP length (Ethernet padding removed).
    pub payload: &'a [u8],
}

/// The outcome of decoding one frame.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A complete packet.
    Packet(PacketView<'a>),
    /// An IPv4 fragment, to be given to the defragmenter.
    Fragment(fragment::FragmentView<'a>),
}

/// Decodes one captured frame of the given link type.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let (mut ethertype, mut l3) = link::strip(link, frame)?;
    // IPv4 carrying TCP is never a tunnel (the tunnels are GRE and UDP): no peeling.
    if ethertype == link::ETHERTYPE_IPV4 && l3.get(9) == Some(&network::PROTO_TCP) {
        return network::decode_ip(ethertype, l3);
    }
    for depth in 0..=tunnel::MAX_TUNNEL_DEPTH {
        match tunnel::unwrap(ethertype, l3)? {
            Some(_) if depth == tunnel::MAX_TUNNEL_DEPTH => break,
            Some((inner_type, inner)) => (ethertype, l3) = (inner_type, inner),
            None => return network::decode_ip(ethertype, l3),
        }
    }
    Err(DecodeError::TunnelTooDeep)
}

/// Decodes the transport header of a datagram rebuilt from fragments.
pub fn decode_transport_of(whole: &fragment::Reassembled) -> Result<PacketView<'_>, DecodeError> {
    network::decode_transport(whole.src, whole.dst, whole.protocol, &whole.payload)
}

#[cfg(test)]
mod tests;
