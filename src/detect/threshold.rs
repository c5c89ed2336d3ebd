//! Per-client counting windows for threshold rules and TCP detectors.
//!
//! State spans flows and workers, so it lives in a `DashMap` keyed by (detector, client
//! address). An entry exists only while its window is open: [`ThresholdTable::sweep`]
//! drops closed windows, so nothing about a client outlives the detector's window.
//! When a count crosses its threshold the detector fires once and stays quiet until
//! the window ends.

use std::collections::HashSet;
use std::net::IpAddr;

use dashmap::DashMap;

use crate::time::Timestamp;

/// Distinct values remembered per window (a distinct-count threshold never needs more
/// than its count, so this only caps a misconfigured rule).
pub const MAX_DISTINCT_PER_WINDOW: usize = 4096;

#[derive(Debug)]
struct Window {
    started: Timestamp,
    window_secs: u64,
    count: u32,
    distinct: HashSet<u64, ahash::RandomState>,
    fired: bool,
}

/// Open windows held at once: a million spoofed sources must not grow the table
/// without bound (each window is about 100 bytes: 6.5 MiB at the cap). Past it, new
/// clients are not tracked and are counted in [`ThresholdTable::dropped`]; the site-wide
/// [`super::surge::SiteSurge`] still sees the flood they make together.
pub const MAX_THRESHOLD_WINDOWS: usize = 65_536;

/// Open windows of every threshold detector, shared by all workers.
#[derive(Debug, Default)]
pub struct ThresholdTable {
    windows: DashMap<(u32, IpAddr), Window, ahash::RandomState>,
    dropped: std::sync::atomic::AtomicU64,
    /// Site-wide surge counters (distributed floods), shared the same way.
    pub site: super::surge::SiteSurge,
}

impl ThresholdTable {
    /// Counts one match of detector `id` for `client`; returns true exactly when this
    /// match crosses `count` within the window. With `distinct`, counts distinct values.
    pub fn observe(
        &self,
        id: u32,
        client: IpAddr,
        now: Timestamp,
        count: u32,
        window_secs: u64,
        distinct: Option<u64>,
    ) -> bool {
        if self.windows.len() >= MAX_THRESHOLD_WINDOWS && !self.windows.contains_key(&(id, client))
        {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        let mut entry = self.windows.entry((id, client)).or_insert_with(|| Window {
            started: now,
            window_secs,
            count: 0,
            distinct: HashSet::default(),
            fired: false,
        });
        let w = entry.value_mut();
        if now.secs_since(w.started) >= w.window_secs || now < w.started {
            *w = Window {
                started: now,
                window_secs,
                count: 0,
                distinct: HashSet::default(),
                fired: false,
            };
        }
        match distinct {
            Some(h) => {
                if w.distinct.len() < MAX_DISTINCT_PER_WINDOW {
                    w.distinct.insert(h);
                }
                w.count = u32::try_from(w.distinct.len()).unwrap_or(u32::MAX);
            }
            None => w.count = w.count.saturating_add(1),
        }
        if !w.fired && w.count >= count {
            w.fired = true;
            return true;
        }
        false
    }

    /// Drops every window that has ended by `now`.
    pub fn sweep(&self, now: Timestamp) {
        self.windows
            .retain(|_, w| now.secs_since(w.started) < w.window_secs && now >= w.started);
    }

    /// Observations not tracked because the table was at [`MAX_THRESHOLD_WINDOWS`].
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Open windows (for tests and memory bounds).
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no window is open.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs_micros(secs, 0)
    }

    #[test]
    fn fires_once_when_crossing_then_stays_quiet_for_the_window() {
        let table = ThresholdTable::default();
        let ip: IpAddr = "198.51.100.7".parse().expect("ip");
        let fired: Vec<bool> = (0..6)
            .map(|i| table.observe(1, ip, t(i), 3, 60, None))
            .collect();
        assert_eq!(fired, vec![false, false, true, false, false, false]);
        // A new window counts afresh.
        assert!(!table.observe(1, ip, t(100), 3, 60, None));
    }

    #[test]
    fn distinct_counts_values_not_matches() {
        let table = ThresholdTable::default();
        let ip: IpAddr = "198.51.100.7".parse().expect("ip");
        assert!(!table.observe(2, ip, t(0), 2, 60, Some(1)));
        assert!(!table.observe(2, ip, t(1), 2, 60, Some(1)));
        assert!(table.observe(2, ip, t(2), 2, 60, Some(2)));
    }

    #[test]
    fn sweep_forgets_clients_after_their_window() {
        let table = ThresholdTable::default();
        let ip: IpAddr = "198.51.100.7".parse().expect("ip");
        table.observe(1, ip, t(0), 5, 10, None);
        table.sweep(t(5));
        assert_eq!(table.len(), 1);
        table.sweep(t(10));
        assert!(table.is_empty());
    }

    #[test]
    fn a_million_spoofed_clients_stop_at_the_cap_and_are_counted() {
        let table = ThresholdTable::default();
        let extra = 1_000u32;
        for n in 0..(MAX_THRESHOLD_WINDOWS as u32 + extra) {
            let ip = IpAddr::from(n.wrapping_add(0x0a00_0000).to_be_bytes());
            table.observe(900_001, ip, t(0), 200, 10, None);
        }
        assert_eq!(table.len(), MAX_THRESHOLD_WINDOWS);
        assert_eq!(table.dropped(), u64::from(extra));
        // A client already tracked keeps counting; it is not dropped.
        let first = IpAddr::from(0x0a00_0000u32.to_be_bytes());
        table.observe(900_001, first, t(1), 200, 10, None);
        assert_eq!(table.dropped(), u64::from(extra));
    }
}
