//! Site-wide surges: distributed floods that no single client's counters see.
//!
//! A SYN flood from a million spoofed sources sends each source's SYN once, so every
//! per-client window stays at one. What does change is the site as a whole: many
//! connections open that never complete the handshake (half-open), or many more
//! requests than usual. This detector counts, site-wide and per window, SYNs against
//! completed handshakes and requests, and raises one `flood` event per episode when a
//! window's count passes both a configured floor and a multiple of the baseline learned
//! from quiet windows. A flash crowd of real browsers completes its handshakes, so it is
//! not a half-open surge.
//!
//! Workers share one detector through atomics (no lock per packet). The events name no
//! client: the source is `0.0.0.0:0`, the destination the site address being flooded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::alert::{evidence, Alert, AlertRule, Category};
use crate::config::DetectorsConfig;
use crate::time::Timestamp;

/// Signature id of a half-open (SYN) surge.
pub const HALF_OPEN_SURGE_SID: u32 = 900_004;
/// Signature id of a site-wide request-rate surge.
pub const REQUEST_SURGE_SID: u32 = 900_005;
/// Weight of the newest quiet window in the learned baseline.
const BASELINE_WEIGHT: f64 = 0.2;

/// Window counters and learned baselines, shared by every worker.
#[derive(Debug, Default)]
pub struct SiteSurge {
    window_start_secs: AtomicU64,
    syns: AtomicU64,
    handshakes: AtomicU64,
    requests: AtomicU64,
    /// f64 bits of the baselines (half-open and requests per window).
    half_open_baseline: AtomicU64,
    request_baseline: AtomicU64,
    half_open_fired: AtomicBool,
    request_fired: AtomicBool,
}

/// What a surge check found.
struct Surge {
    count: u64,
    baseline: f64,
}

impl SiteSurge {
    /// A SYN (without ACK) to `server`; returns an event when it opens a half-open surge.
    pub fn observe_syn(
        &self,
        cfg: &DetectorsConfig,
        server: SocketAddr,
        now: Timestamp,
    ) -> Option<Alert> {
        self.roll(cfg, now);
        let syns = self.syns.fetch_add(1, Ordering::Relaxed) + 1;
        let half_open = syns.saturating_sub(self.handshakes.load(Ordering::Relaxed));
        let baseline = load_f64(&self.half_open_baseline);
        let surge = surge(
            half_open,
            baseline,
            cfg.half_open_surge_min,
            cfg.surge_factor,
        )?;
        once_per_episode(
            &self.half_open_fired,
            &HALF_OPEN,
            "half-open",
            &surge,
            cfg,
            now,
            server,
        )
    }

    /// A completed three-way handshake.
    pub fn observe_handshake(&self, cfg: &DetectorsConfig, now: Timestamp) {
        self.roll(cfg, now);
        self.handshakes.fetch_add(1, Ordering::Relaxed);
    }

    /// A request to `server`; returns an event when it opens a request surge.
    pub fn observe_request(
        &self,
        cfg: &DetectorsConfig,
        server: SocketAddr,
        now: Timestamp,
    ) -> Option<Alert> {
        self.roll(cfg, now);
        let requests = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let baseline = load_f64(&self.request_baseline);
        let surge = surge(requests, baseline, cfg.request_surge_min, cfg.surge_factor)?;
        once_per_episode(
            &self.request_fired,
            &REQUEST,
            "requests",
            &surge,
            cfg,
            now,
            server,
        )
    }

    /// Starts a new window when the current one has ended: a quiet window teaches the
    /// baseline and ends an episode; a window still in surge keeps the episode open.
    fn roll(&self, cfg: &DetectorsConfig, now: Timestamp) {
        let now_secs = now.secs();
        let start = self.window_start_secs.load(Ordering::Relaxed);
        if start != 0 && now_secs < start.saturating_add(cfg.surge_window_secs) {
            return;
        }
        // One worker wins the roll; the others count into the new window.
        if self
            .window_start_secs
            .compare_exchange(start, now_secs.max(1), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let syns = self.syns.swap(0, Ordering::Relaxed);
        let handshakes = self.handshakes.swap(0, Ordering::Relaxed);
        let requests = self.requests.swap(0, Ordering::Relaxed);
        if start == 0 {
            return;
        }
        let half_open = syns.saturating_sub(handshakes);
        learn(
            &self.half_open_baseline,
            &self.half_open_fired,
            half_open,
            cfg.half_open_surge_min,
            cfg.surge_factor,
        );
        learn(
            &self.request_baseline,
            &self.request_fired,
            requests,
            cfg.request_surge_min,
            cfg.surge_factor,
        );
    }
}

/// The episode's one event, unless `fired` says it was raised already.
fn once_per_episode(
    fired: &AtomicBool,
    event: &SiteEvent,
    what: &str,
    surge: &Surge,
    cfg: &DetectorsConfig,
    now: Timestamp,
    server: SocketAddr,
) -> Option<Alert> {
    if fired.swap(true, Ordering::Relaxed) {
        return None;
    }
    Some(site_alert(
        event,
        now,
        server,
        &format!(
            "{} {what} in {}s (baseline {:.0})",
            surge.count, cfg.surge_window_secs, surge.baseline
        ),
    ))
}

fn surge(count: u64, baseline: f64, min: u64, factor: f64) -> Option<Surge> {
    let threshold = (min as f64).max(baseline * factor);
    (count as f64 >= threshold).then_some(Surge { count, baseline })
}

/// Folds a closed window into the baseline if it was quiet, and re-arms the event.
fn learn(baseline: &AtomicU64, fired: &AtomicBool, count: u64, min: u64, factor: f64) {
    let old = load_f64(baseline);
    if surge(count, old, min, factor).is_some() {
        return;
    }
    let new = if old == 0.0 {
        count as f64
    } else {
        old * (1.0 - BASELINE_WEIGHT) + count as f64 * BASELINE_WEIGHT
    };
    baseline.store(new.to_bits(), Ordering::Relaxed);
    fired.store(false, Ordering::Relaxed);
}

fn load_f64(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Ordering::Relaxed))
}

struct SiteEvent {
    sid: u32,
    rule: &'static str,
    signature: &'static str,
}

const HALF_OPEN: SiteEvent = SiteEvent {
    sid: HALF_OPEN_SURGE_SID,
    rule: "flood.half-open-surge",
    signature: "Distributed SYN flood: a surge of half-open connections to the site",
};

const REQUEST: SiteEvent = SiteEvent {
    sid: REQUEST_SURGE_SID,
    rule: "flood.request-surge",
    signature: "Site-wide request surge far above the learned baseline",
};

fn site_alert(event: &SiteEvent, now: Timestamp, server: SocketAddr, token: &str) -> Alert {
    Alert {
        timestamp: now,
        flow_id: 0,
        src: crate::observe::NOBODY,
        dest: server,
        rule: AlertRule {
            signature_id: event.sid,
            rule: event.rule.to_owned(),
            signature: event.signature.to_owned(),
            category: Category::Flood,
            severity: 2,
        },
        http: None,
        upload: None,
        evidence: evidence(token.as_bytes()),
        crs: None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn cfg() -> DetectorsConfig {
        DetectorsConfig {
            half_open_surge_min: 100,
            request_surge_min: 100,
            surge_factor: 10.0,
            surge_window_secs: 10,
            ..DetectorsConfig::default()
        }
    }

    /// A packet time, `secs` after the epoch (the site-wide detectors' tests share it).
    pub(in crate::detect) fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs_micros(secs, 0)
    }

    /// The flooded site's address.
    pub(in crate::detect) fn server() -> SocketAddr {
        "203.0.113.10:80".parse().expect("addr")
    }

    #[test]
    fn a_distributed_syn_flood_raises_one_event_per_episode() {
        let s = SiteSurge::default();
        let c = cfg();
        let mut events = Vec::new();
        // Three windows of flood (30 s), 500 SYNs each, no handshake.
        for secs in 0..30 {
            for _ in 0..50 {
                events.extend(s.observe_syn(&c, server(), at(1000 + secs)));
            }
        }
        assert_eq!(events.len(), 1, "one event for one episode");
        assert_eq!(events[0].rule.rule, "flood.half-open-surge");
        assert_eq!(events[0].src.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        // A quiet window ends the episode; the next flood is a new one.
        s.observe_syn(&c, server(), at(1040));
        for _ in 0..200 {
            events.extend(s.observe_syn(&c, server(), at(1055)));
        }
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn a_flash_crowd_that_completes_its_handshakes_is_not_a_syn_flood() {
        let s = SiteSurge::default();
        let c = cfg();
        for secs in 0..30 {
            for _ in 0..100 {
                assert!(s.observe_syn(&c, server(), at(1000 + secs)).is_none());
                s.observe_handshake(&c, at(1000 + secs));
            }
        }
    }

    #[test]
    fn the_request_threshold_follows_the_learned_baseline() {
        let s = SiteSurge::default();
        let c = cfg();
        // A steady site: 50 requests per window for 5 windows teaches a baseline of 50.
        let mut fired = 0;
        for w in 0..5 {
            for _ in 0..50 {
                fired += usize::from(s.observe_request(&c, server(), at(1000 + w * 10)).is_some());
            }
        }
        assert_eq!(fired, 0);
        // 300 is above the floor (100) but under ten times the baseline (500): normal.
        for _ in 0..300 {
            fired += usize::from(s.observe_request(&c, server(), at(1050)).is_some());
        }
        assert_eq!(fired, 0);
        // The 300 window was quiet, so it teaches too (baseline 50 -> 100); 1,200 in the
        // next window is over ten times that: a surge.
        for _ in 0..1200 {
            fired += usize::from(s.observe_request(&c, server(), at(1060)).is_some());
        }
        assert_eq!(fired, 1);
    }
}
