//! The canonical flow key: the same for both directions of a connection.
//!
//! Endpoints are stored compactly ([`Endpoint`]: 20 bytes, where a `SocketAddr` takes
//! 32), because the key and two endpoints sit in every flow-table slot and a spoofed
//! SYN flood fills every slot.

use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// An address and port in 20 bytes (IPv4 as v4-mapped IPv6, with a flag; IPv6 flow
/// labels and scope ids, meaningless in a capture, are not kept). The address is four
/// 32-bit words, most significant first: the derived order is the address's numeric
/// order (as its bytes compare), and building or comparing one is a few word moves,
/// where a byte array was assembled byte by byte for every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    ip: [u32; 4],
    port: u16,
    v6: bool,
}

/// The words of a v4-mapped address before the IPv4 address (`::ffff:a.b.c.d`).
const V4_MAPPED: [u32; 3] = [0, 0, 0xffff];

impl Endpoint {
    /// The compact form of `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        match addr {
            SocketAddr::V4(a) => Endpoint {
                ip: [V4_MAPPED[0], V4_MAPPED[1], V4_MAPPED[2], u32::from(*a.ip())],
                port: a.port(),
                v6: false,
            },
            SocketAddr::V6(a) => {
                let n = u128::from(*a.ip());
                Endpoint {
                    ip: [
                        (n >> 96) as u32,
                        (n >> 64) as u32,
                        (n >> 32) as u32,
                        n as u32,
                    ],
                    port: a.port(),
                    v6: true,
                }
            }
        }
    }

    /// The address as one number (its 16 bytes read big-endian).
    fn ip_number(&self) -> u128 {
        self.ip
            .iter()
            .fold(0u128, |n, &word| (n << 32) | u128::from(word))
    }

    /// The endpoint's place in the derived order (address, then port, then the v6
    /// flag), as one integer pair.
    fn rank(&self) -> (u128, u32) {
        (
            self.ip_number(),
            (u32::from(self.port) << 1) | u32::from(self.v6),
        )
    }

    /// Back to a socket address.
    pub fn addr(&self) -> SocketAddr {
        if !self.v6 {
            return if self.ip[..3] == V4_MAPPED {
                SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(self.ip[3]), self.port))
            } else {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.port)
            };
        }
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(self.ip_number()),
            self.port,
            0,
            0,
        ))
    }
}

/// A TCP connection's endpoints, lower endpoint first so both directions agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    pub lower: Endpoint,
    pub upper: Endpoint,
}

/// Every field, as five 64-bit words: the table hashes a key for every packet, and
/// the derived form made eight writes of odd sizes (a length prefix and the bytes of
/// each address, each port, each flag).
impl Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (l, u) = (&self.lower, &self.upper);
        state.write_u64((u64::from(l.ip[0]) << 32) | u64::from(l.ip[1]));
        state.write_u64((u64::from(l.ip[2]) << 32) | u64::from(l.ip[3]));
        state.write_u64((u64::from(u.ip[0]) << 32) | u64::from(u.ip[1]));
        state.write_u64((u64::from(u.ip[2]) << 32) | u64::from(u.ip[3]));
        state.write_u64(
            (u64::from(l.port) << 32)
                | (u64::from(u.port) << 16)
                | (u64::from(l.v6) << 1)
                | u64::from(u.v6),
        );
    }
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        // `src <= dst` in the derived order, computed as integer comparisons (the
        // derived one compares byte by byte; this runs for every packet). Two IPv4
        // endpoints (v4-mapped, same prefix, no v6 flag) order by address then port.
        let (a, b) = (Endpoint::new(src), Endpoint::new(dst));
        let src_first = match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => v4_rank(&s) <= v4_rank(&d),
            _ => a.rank() <= b.rank(),
        };
        let (lower, upper) = if src_first { (a, b) } else { (b, a) };
        FlowKey { lower, upper }
    }

    /// A symmetric hash for sharding flows across workers. It hashes each endpoint's
    /// address as its 16 bytes, then port and flag, as the key's byte-array form did:
    /// which worker holds a flow decides, under a flood, which flows a worker's caps
    /// give up, so the assignment is kept stable.
    pub fn shard_hash(&self) -> u64 {
        let state = ahash::RandomState::with_seeds(7, 11, 13, 17);
        let mut h = state.build_hasher();
        for end in [&self.lower, &self.upper] {
            end.ip_number().to_be_bytes()[..].hash(&mut h);
            end.port.hash(&mut h);
            end.v6.hash(&mut h);
        }
        std::hash::Hasher::finish(&h)
    }
}

/// An IPv4 endpoint's place in the endpoint order: address, then port.
fn v4_rank(a: &SocketAddrV4) -> u64 {
    (u64::from(u32::from(*a.ip())) << 16) | u64::from(a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_one_key_and_shard() {
        let a: SocketAddr = "198.51.100.7:51234".parse().expect("addr");
        let b: SocketAddr = "203.0.113.10:80".parse().expect("addr");
        assert_eq!(FlowKey::new(a, b), FlowKey::new(b, a));
        assert_eq!(
            FlowKey::new(a, b).shard_hash(),
            FlowKey::new(b, a).shard_hash()
        );
    }

    /// An endpoint as (v4-mapped address bytes, port, v6 flag).
    fn as_bytes(a: SocketAddr) -> ([u8; 16], u16, bool) {
        match a {
            SocketAddr::V4(v4) => (v4.ip().to_ipv6_mapped().octets(), v4.port(), false),
            SocketAddr::V6(v6) => (v6.ip().octets(), v6.port(), true),
        }
    }

    #[test]
    fn the_integer_rank_orders_endpoints_as_the_derived_order() {
        let addrs: Vec<SocketAddr> = [
            "0.0.0.0:0",
            "10.0.0.1:80",
            "10.0.0.1:81",
            "10.0.0.2:80",
            "10.0.1.1:65535",
            "198.51.100.7:51234",
            "255.255.255.255:1",
            "[::]:80",
            "[::1]:80",
            "[::ffff:10.0.0.1]:80",
            "[2001:db8::1]:443",
            "[2001:db8::1]:442",
            "[ffff::1]:1",
        ]
        .iter()
        .map(|s| s.parse().expect("addr"))
        .collect();
        for a in &addrs {
            for b in &addrs {
                let (ea, eb) = (Endpoint::new(*a), Endpoint::new(*b));
                assert_eq!(ea.rank().cmp(&eb.rank()), ea.cmp(&eb), "{a} vs {b}");
                // The order flows have always had: address bytes, port, v6 flag.
                assert_eq!(ea.cmp(&eb), as_bytes(*a).cmp(&as_bytes(*b)), "{a} vs {b}");
                let key = FlowKey::new(*a, *b);
                assert!(key.lower <= key.upper, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn the_shard_hash_is_the_byte_form_hash() {
        let a: SocketAddr = "198.51.100.7:51234".parse().expect("addr");
        let b: SocketAddr = "[2001:db8::1]:443".parse().expect("addr");
        let key = FlowKey::new(a, b);
        let state = ahash::RandomState::with_seeds(7, 11, 13, 17);
        // The key as it was hashed when endpoints held byte arrays.
        let (lower, upper) = if as_bytes(a) <= as_bytes(b) {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(
            key.shard_hash(),
            state.hash_one((as_bytes(lower), as_bytes(upper)))
        );
    }

    #[test]
    fn endpoints_round_trip_compactly() {
        for s in [
            "198.51.100.7:51234",
            "[2001:db8::1]:443",
            "[::ffff:10.0.0.1]:80",
        ] {
            let a: SocketAddr = s.parse().expect("addr");
            assert_eq!(Endpoint::new(a).addr(), a, "{s}");
        }
        assert_eq!(std::mem::size_of::<Endpoint>(), 20);
        assert_eq!(std::mem::size_of::<FlowKey>(), 40);
    }
}
