//! The canonical flow key: the same for both directions of a connection.

use std::hash::{BuildHasher, Hash};
use std::net::SocketAddr;

/// A TCP connection's endpoints, lower endpoint first so both directions agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub lower: SocketAddr,
    pub upper: SocketAddr,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        if src <= dst {
            FlowKey {
                lower: src,
                upper: dst,
            }
        } else {
            FlowKey {
                lower: dst,
                upper: src,
            }
        }
    }

    /// A symmetric hash for sharding flows across workers.
    pub fn shard_hash(&self) -> u64 {
        let state = ahash::RandomState::with_seeds(7, 11, 13, 17);
        let mut h = state.build_hasher();
        self.hash(&mut h);
        std::hash::Hasher::finish(&h)
    }
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
}
