//! Sharding: which of several workers a frame, and so its flow, belongs to. The live
//! daemon's fan-out and the sharded replay split frames the same way.

use std::net::SocketAddr;

use crate::decode::{self, Decoded, LinkType};
use crate::flow::FlowKey;

/// The worker, of `workers`, whose flow this frame belongs to.
///
/// Every packet is sharded by its address pair alone, ports left out: a non-first IPv4
/// or IPv6 fragment carries no ports, and hashing it differently from the whole packets
/// of its connection would split one connection over two workers, each seeing half of
/// it (an evasion: fragment the upload and it is never judged whole). Sharding by
/// address pair keeps every fragment, both directions and every connection of a client
/// in one worker, where the defragmenter and flow table meet them. The cost: one
/// client's connections share one worker, which on a public site with many visitors
/// balances well, and a single busy client (a proxy, a load test) is one worker's work.
pub fn worker_of(link: LinkType, frame: &[u8], workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let (src, dst) = match decode::decode(link, frame) {
        Ok(Decoded::Packet(p)) => (p.src, p.dst),
        Ok(Decoded::Fragment(f)) => (f.src, f.dst),
        Err(_) => return 0,
    };
    let key = FlowKey::new(SocketAddr::new(src, 0), SocketAddr::new(dst, 0));
    // The remainder is below `workers`, so it fits a usize.
    (key.shard_hash() % workers as u64) as usize
}
