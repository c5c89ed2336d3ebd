//! Slow requests, site-wide: slowloris (a head sent a line at a time) and slow-body
//! floods (R-U-Dead-Yet) hold a server's connections with requests that never finish.
//!
//! Each connection sends little, now and then, so no rate counter sees it; the clients
//! may be many, each with a few connections, so no per-client counter does either. What
//! shows is how many requests have been arriving for longer than a browser takes:
//! Apache's default `RequestReadTimeout` gives a head 20 seconds. Every worker counts
//! its own at each second's sweep of its flow table ([`crate::flow::FlowTable`]); this
//! sums the counts per second of packet time and raises one `flood` event per episode
//! when the sum reaches the configured floor. A second whose sum stays under the floor
//! ends the episode. (A second without packets has no sweep and no sum: slowloris
//! connections send in bursts, and the seconds between are still the episode.)
//!
//! The event names no client (source `0.0.0.0:0`): its destination is the server of
//! the oldest slow request the reporting worker holds. Its text gives the floor, not
//! the count: workers report one after another, and the count when the floor is
//! crossed depends on their order, where the floor does not.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::alert::{evidence, Alert, AlertRule, Category};
use crate::config::DetectorsConfig;
use crate::time::Timestamp;

/// Signature id of a site-wide slow-request flood.
pub const SLOW_REQUESTS_SID: u32 = 900_007;

/// Requests open too long, summed over workers per second, shared by every worker.
#[derive(Debug, Default)]
pub struct SlowRequests {
    /// The packet second being summed, and its sum so far.
    second: AtomicU64,
    sum: AtomicU64,
    /// This episode's event was raised.
    fired: AtomicBool,
}

impl SlowRequests {
    /// One worker's count, at its sweep at `now`, of requests open for at least
    /// `cfg.slow_request_secs` (zero too: a second's sum under the floor ends the
    /// episode); the oldest of them is to `server`. Returns the event
    /// when the second's sum reaches the floor and the episode has none yet.
    pub fn observe(
        &self,
        cfg: &DetectorsConfig,
        count: u64,
        server: SocketAddr,
        now: Timestamp,
    ) -> Option<Alert> {
        let second = now.secs().max(1);
        let current = self.second.load(Ordering::Relaxed);
        if second > current
            && self
                .second
                .compare_exchange(current, second, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let last = self.sum.swap(0, Ordering::Relaxed);
            if last < cfg.slow_requests_min {
                self.fired.store(false, Ordering::Relaxed);
            }
        }
        let sum = self.sum.fetch_add(count, Ordering::Relaxed) + count;
        if sum < cfg.slow_requests_min || self.fired.swap(true, Ordering::Relaxed) {
            return None;
        }
        Some(Alert {
            timestamp: now,
            flow_id: 0,
            src: crate::observe::NOBODY,
            dest: server,
            rule: AlertRule {
                signature_id: SLOW_REQUESTS_SID,
                rule: "flood.slow-requests".to_owned(),
                signature:
                    "Slow-request flood (slowloris, slow bodies): many requests held open at once"
                        .to_owned(),
                category: Category::Flood,
                severity: 2,
            },
            http: None,
            upload: None,
            evidence: evidence(
                format!(
                    "{}+ requests open over {}s",
                    cfg.slow_requests_min, cfg.slow_request_secs
                )
                .as_bytes(),
            ),
            crs: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::surge::tests::{at, server};

    fn cfg() -> DetectorsConfig {
        DetectorsConfig {
            slow_requests_min: 100,
            slow_request_secs: 20,
            ..DetectorsConfig::default()
        }
    }

    #[test]
    fn workers_counts_add_up_per_second_and_one_episode_raises_one_event() {
        let s = SlowRequests::default();
        let c = cfg();
        let mut events = Vec::new();
        // Two workers, 60 each: under the floor alone, over it together.
        for second in 1000..1010 {
            for _worker in 0..2 {
                events.extend(s.observe(&c, 60, server(), at(second)));
            }
        }
        assert_eq!(events.len(), 1, "one event for one episode");
        let e = &events[0];
        assert_eq!(e.rule.rule, "flood.slow-requests");
        assert_eq!(e.timestamp, at(1000));
        assert_eq!(
            e.src.ip(),
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(e.dest, server());
    }

    #[test]
    fn a_second_under_the_floor_ends_the_episode() {
        let s = SlowRequests::default();
        let c = cfg();
        let mut fired = 0;
        for (second, count) in [(1000, 150), (1001, 150), (1002, 40), (1003, 150)] {
            fired += usize::from(s.observe(&c, count, server(), at(second)).is_some());
        }
        assert_eq!(fired, 2);
    }

    #[test]
    fn seconds_without_a_sweep_do_not_end_the_episode() {
        let s = SlowRequests::default();
        let c = cfg();
        let mut fired = 0;
        for second in [1000, 1001, 1005, 1006] {
            fired += usize::from(s.observe(&c, 150, server(), at(second)).is_some());
        }
        assert_eq!(fired, 1);
    }

    #[test]
    fn a_worker_that_reports_none_ends_nothing_its_peer_keeps_up() {
        let s = SlowRequests::default();
        let c = cfg();
        let mut fired = 0;
        for second in 1000..1010 {
            fired += usize::from(s.observe(&c, 0, server(), at(second)).is_some());
            fired += usize::from(s.observe(&c, 150, server(), at(second)).is_some());
        }
        assert_eq!(fired, 1);
    }

    #[test]
    fn counts_under_the_floor_raise_nothing() {
        let s = SlowRequests::default();
        let c = cfg();
        for second in 1000..1100 {
            assert!(s.observe(&c, 99, server(), at(second)).is_none());
        }
    }
}
