//! What the packet stages report upward: the [`TransactionObserver`] trait, through
//! which finished transactions and TCP events reach detection and the sinks, and the
//! run's [`Summary`] counters.
//!
//! It sits below `detect` and `sink` and above the stages it names (decode, reassembly,
//! http, tls), so the sinks and detection can implement it without depending on the
//! pipeline that drives them.

mod summary;

use std::net::SocketAddr;

use crate::decode::PacketView;
use crate::http::HttpTransaction;
use crate::time::Timestamp;
use crate::tls::ClientHello;

pub use summary::Summary;

/// The address site-wide events name instead of a client (`0.0.0.0:0`), and instead of
/// a server when none is known.
pub const NOBODY: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// Which cap gave something up under a flood: each raises its own site-wide `flood`
/// event, once per episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pressure {
    /// The flow table was full and evicted flows to admit a new one (a connection
    /// flood, or a table too small for the site).
    FlowTable,
    /// The defragmenter was full and refused fragments: datagrams sent in fragments
    /// went uninspected (a fragment flood).
    Fragments,
}

/// Receives what the pipeline finds.
pub trait TransactionObserver {
    /// A finished HTTP transaction.
    fn on_transaction(&mut self, txn: &HttpTransaction);
    /// A finished HTTP transaction, handed over: an observer that keeps transactions
    /// (the sharded replay's recorder) takes it without a copy. By default it is seen
    /// by reference and dropped.
    fn take_transaction(&mut self, txn: HttpTransaction) {
        self.on_transaction(&txn);
    }
    /// Finished transactions, in order, all handed over (`txns` is left empty). By
    /// default each goes through [`TransactionObserver::take_transaction`]; an observer
    /// that only looks at them sees them where they lie, without moving each out.
    fn take_transactions(&mut self, txns: &mut Vec<HttpTransaction>) {
        for txn in txns.drain(..) {
            self.take_transaction(txn);
        }
    }
    /// A TLS ClientHello (statistics only).
    fn on_client_hello(&mut self, _hello: &ClientHello) {}
    /// A TCP packet, for per-client TCP-level detectors (SYN floods, port scans).
    fn on_tcp_packet(&mut self, _packet: &PacketView<'_>, _now: Timestamp) {}
    /// A cap made the pipeline give up `count` things under a flood (see
    /// [`Pressure`]); `dest` is the site address it happened for, or the unspecified
    /// address when that is unknown.
    fn on_pressure(&mut self, _kind: Pressure, _count: u64, _dest: SocketAddr, _now: Timestamp) {}
    /// At a sweep (once a second of packet time), `count` requests of this worker had
    /// been arriving for the configured time or longer; the oldest is to `server`
    /// (unspecified when there is none: zero is reported too).
    fn on_slow_requests(&mut self, _count: u64, _server: SocketAddr, _now: Timestamp) {}
    /// A connection completed its three-way handshake (half-open accounting).
    fn on_handshake(&mut self, _now: Timestamp) {}
}

/// An observer that ignores everything (for counting-only replays and benchmarks).
#[derive(Debug, Default)]
pub struct NullObserver;

impl TransactionObserver for NullObserver {
    fn on_transaction(&mut self, _txn: &HttpTransaction) {}
}
