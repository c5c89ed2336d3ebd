//! What the detector counts outside transactions: SYNs and completed handshakes (SYN
//! floods, port scans, half-open surges), caps giving way under a flood, requests held
//! open too long, and the upkeep of the per-client windows.

use std::net::SocketAddr;

use super::alert::Alert;
use super::{tcp, Detector};
use crate::decode::PacketView;
use crate::observe::Pressure;
use crate::time::Timestamp;

impl Detector {
    /// Observes a TCP packet for the SYN flood and port scan detectors.
    pub fn observe_packet(&self, p: &PacketView<'_>, now: Timestamp, out: &mut Vec<Alert>) {
        if let crate::decode::Transport::Tcp {
            src_port,
            dst_port,
            flags,
            ..
        } = p.transport
        {
            if flags.syn() && !flags.ack() {
                let src = SocketAddr::new(p.src, src_port);
                let dst = SocketAddr::new(p.dst, dst_port);
                self.observe_syn(src, dst, now, out);
            }
        }
    }

    /// Observes a SYN without ACK, the only packet the TCP detectors count: the
    /// site-wide half-open surge, then the client's SYN-flood and port-scan windows.
    pub fn observe_syn(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        now: Timestamp,
        out: &mut Vec<Alert>,
    ) {
        let cfg = self.tcp.config();
        out.extend(self.thresholds.site.observe_syn(cfg, dst, now));
        out.extend(self.tcp.observe_syn(src, dst, now, &self.thresholds));
    }

    /// Notes a completed three-way handshake (site-wide half-open accounting).
    pub fn observe_handshake(&self, now: Timestamp) {
        self.thresholds
            .site
            .observe_handshake(self.tcp.config(), now);
    }

    /// Per-client observations not tracked because the threshold table was full.
    pub fn threshold_drops(&self) -> u64 {
        self.thresholds.dropped()
    }

    /// Notes a cap giving things up under a flood: flows evicted from a full flow
    /// table, fragments refused by a full defragmenter (one `flood` event per episode
    /// of each).
    pub fn observe_pressure(
        &self,
        kind: Pressure,
        count: u64,
        dest: SocketAddr,
        now: Timestamp,
        out: &mut Vec<Alert>,
    ) {
        if let Some(a) = tcp::observe_pressure(kind, count, dest, now, &self.thresholds) {
            out.push(a);
        }
    }

    /// Notes one worker's count of requests held open too long (site-wide slowloris).
    pub fn observe_slow_requests(
        &self,
        count: u64,
        server: SocketAddr,
        now: Timestamp,
        out: &mut Vec<Alert>,
    ) {
        let cfg = self.tcp.config();
        out.extend(self.thresholds.slow.observe(cfg, count, server, now));
    }

    /// Forgets per-client windows that have ended.
    pub fn sweep(&self, now: Timestamp) {
        self.thresholds.sweep(now);
    }
}
