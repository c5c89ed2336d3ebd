//! Per-client counting windows for threshold rules and TCP detectors.
//!
//! State spans flows and workers, so it lives in a `DashMap` keyed by (detector, client
//! address). An entry exists only while its window is open: [`ThresholdTable::sweep`]
//! drops closed windows, so nothing about a client outlives the detector's window.
//! When a count crosses its threshold the detector fires once and stays quiet until
//! the window ends.
//!
//! The table holds at most [`MAX_THRESHOLD_WINDOWS`] windows and at most its byte
//! share of the memory budget ([`crate::flow::budget`]): each window costs
//! [`WINDOW_BYTES`], each distinct value set its allocated capacity, kept up to date
//! as sets grow and windows close. What the caps refuse is counted
//! ([`ThresholdTable::dropped`]).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;

use crate::time::Timestamp;

/// Distinct values remembered per window (a distinct-count threshold never needs more
/// than its count, so this only caps a misconfigured rule).
pub const MAX_DISTINCT_PER_WINDOW: usize = 4096;

/// Distinct values seen in one window: already hashes, so a fixed-key hasher does
/// (and takes no bytes per set).
type DistinctSet = HashSet<u64, std::hash::BuildHasherDefault<ahash::AHasher>>;

/// One client's window; small, because a spoofed flood opens one per source.
#[derive(Debug)]
struct Window {
    started: Timestamp,
    window_secs: u32,
    count: u32,
    /// Only distinct-count detectors (port scans) allocate a set.
    distinct: Option<Box<DistinctSet>>,
    fired: bool,
}

impl Window {
    /// Whether the window has ended by `now`: a whole window after its start, or
    /// before it. Live, workers judge in their own order, so an observation (or a
    /// sweep) a little older than the one that opened the window belongs to it
    /// (ending it on any older one raised a site-wide event twice); a clock stepped
    /// back a whole window starts afresh.
    fn ended_by(&self, now: Timestamp) -> bool {
        let span = u64::from(self.window_secs);
        now.secs_since(self.started) >= span || self.started.secs_since(now) >= span
    }
}

/// Open windows held at once: a million spoofed sources must not grow the table
/// without bound (each window is about 100 bytes: 6.5 MiB at the cap). Past it, new
/// clients are not tracked and are counted in [`ThresholdTable::dropped`]; the site-wide
/// [`super::surge::SiteSurge`] still sees the flood they make together.
pub const MAX_THRESHOLD_WINDOWS: usize = 65_536;

/// Bytes one window costs: its map entry, at the worst load of the map's table (just
/// grown: half used), plus its control byte.
pub const WINDOW_BYTES: usize = 2 * (std::mem::size_of::<((u32, IpAddr), Window)>() + 1);
/// Bytes one slot of a distinct-value set costs (its hash and control byte).
pub const DISTINCT_SLOT_BYTES: usize = std::mem::size_of::<u64>() + 1;

/// Open windows of every threshold detector, shared by all workers.
#[derive(Debug)]
pub struct ThresholdTable {
    windows: DashMap<(u32, IpAddr), Window, ahash::RandomState>,
    dropped: std::sync::atomic::AtomicU64,
    /// Bytes the windows hold, and the most they may.
    held: AtomicUsize,
    max_bytes: usize,
    /// Site-wide surge counters (distributed floods), shared the same way.
    pub site: super::surge::SiteSurge,
    /// Site-wide count of requests held open too long (slowloris), shared too.
    pub slow: super::slow::SlowRequests,
}

impl Default for ThresholdTable {
    fn default() -> Self {
        ThresholdTable::with_budget(crate::flow::LimitsConfig::default().detector_bytes())
    }
}

/// Bytes a distinct-value set holds: its box and its buckets.
fn set_bytes(set: &Option<Box<DistinctSet>>) -> usize {
    match set {
        None => 0,
        Some(set) if set.capacity() == 0 => std::mem::size_of::<DistinctSet>(),
        // The set's buckets: a power of two, at most 7/8 used.
        Some(set) => {
            std::mem::size_of::<DistinctSet>()
                + (set.capacity() * 8 / 7).next_power_of_two() * DISTINCT_SLOT_BYTES
        }
    }
}

impl ThresholdTable {
    /// A table holding at most `max_bytes` of windows (the detectors' share of
    /// `limits.memory_bytes`).
    pub fn with_budget(max_bytes: usize) -> Self {
        ThresholdTable {
            windows: DashMap::default(),
            dropped: Default::default(),
            held: AtomicUsize::new(0),
            max_bytes,
            site: Default::default(),
            slow: Default::default(),
        }
    }

    /// Bytes the windows hold now.
    pub fn held_bytes(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

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
        let secs = u32::try_from(window_secs).unwrap_or(u32::MAX);
        let key = (id, client);
        // A client already tracked (the common case: a flood rule observes every
        // request) needs neither the table's size, which visits every shard, nor a
        // second lookup.
        if let Some(mut w) = self.windows.get_mut(&key) {
            return self.count(w.value_mut(), now, secs, count, distinct);
        }
        let full = self.windows.len() >= MAX_THRESHOLD_WINDOWS
            || self.held_bytes() + WINDOW_BYTES > self.max_bytes;
        // Site-wide windows (keyed by the unspecified address: flood episodes) are a
        // handful and are never refused: the flood that fills the table must still be
        // reported.
        if full && !client.is_unspecified() && !self.windows.contains_key(&key) {
            self.drop_one();
            return false;
        }
        let mut entry = self.windows.entry(key).or_insert_with(|| {
            self.held.fetch_add(WINDOW_BYTES, Ordering::Relaxed);
            Window {
                started: now,
                window_secs: secs,
                count: 0,
                distinct: None,
                fired: false,
            }
        });
        self.count(entry.value_mut(), now, secs, count, distinct)
    }

    /// Counts one observation in window `w` (restarted first if it has ended);
    /// true exactly when this one crosses `count`.
    fn count(
        &self,
        w: &mut Window,
        now: Timestamp,
        secs: u32,
        count: u32,
        distinct: Option<u64>,
    ) -> bool {
        if w.ended_by(now) {
            self.held
                .fetch_sub(set_bytes(&w.distinct), Ordering::Relaxed);
            *w = Window {
                started: now,
                window_secs: secs,
                count: 0,
                distinct: None,
                fired: false,
            };
        }
        match distinct {
            // A value this window has counted already: the set and its count stand
            // (a port scan detector sees every SYN of a client's connections to one
            // port).
            Some(h) if w.distinct.as_ref().is_some_and(|set| set.contains(&h)) => {}
            Some(h) => {
                let before = set_bytes(&w.distinct);
                let set = w.distinct.get_or_insert_with(Box::default);
                let grows = set.len() == set.capacity();
                // Growing doubles the set: refused when the share would not hold it.
                let room = !grows || self.held_bytes() + before.max(64) * 2 <= self.max_bytes;
                if set.len() < MAX_DISTINCT_PER_WINDOW && room {
                    set.insert(h);
                } else if !set.contains(&h) {
                    self.drop_one();
                }
                w.count = u32::try_from(set.len()).unwrap_or(u32::MAX);
                let after = set_bytes(&w.distinct);
                self.held.fetch_add(after, Ordering::Relaxed);
                self.held.fetch_sub(before, Ordering::Relaxed);
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
        self.windows.retain(|_, w| {
            let open = !w.ended_by(now);
            if !open {
                self.held
                    .fetch_sub(WINDOW_BYTES + set_bytes(&w.distinct), Ordering::Relaxed);
            }
            open
        });
    }

    /// Observations not tracked because the table was at [`MAX_THRESHOLD_WINDOWS`] or
    /// its byte share, or a distinct set could not grow within it.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
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
    fn an_observation_a_little_earlier_than_the_window_counts_in_it() {
        // Workers judge in their own order: live, one worker's packet may be a few
        // milliseconds older than the one that opened the window in another. It must
        // not open the window again (a site-wide flood event raised twice).
        let table = ThresholdTable::default();
        let nobody = IpAddr::from([0u8, 0, 0, 0]);
        let opened = Timestamp::from_secs_micros(100, 5_000);
        let older = Timestamp::from_secs_micros(100, 0);
        assert!(table.observe(900_006, nobody, opened, 1, 60, None));
        assert!(!table.observe(900_006, nobody, older, 1, 60, None));
        assert!(!table.observe(900_006, nobody, t(59), 1, 60, None));
        // A whole window back (a clock stepped back, captures out of order) starts
        // afresh, as a whole window on does.
        assert!(table.observe(900_006, nobody, t(40), 1, 60, None));
        assert!(table.observe(900_006, nobody, t(100), 1, 60, None));
    }

    #[test]
    fn a_sweep_at_a_little_earlier_time_keeps_the_window() {
        let table = ThresholdTable::default();
        let nobody = IpAddr::from([0u8, 0, 0, 0]);
        assert!(table.observe(900_003, nobody, t(100), 1, 60, None));
        table.sweep(Timestamp::from_secs_micros(99, 999_000));
        assert_eq!(table.len(), 1);
        assert!(!table.observe(900_003, nobody, t(101), 1, 60, None));
        table.sweep(t(160));
        assert!(table.is_empty());
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
        assert_eq!(table.held_bytes(), MAX_THRESHOLD_WINDOWS * WINDOW_BYTES);
        assert!(table.held_bytes() <= crate::flow::LimitsConfig::default().detector_bytes());
        // Windows closing give their bytes back.
        table.sweep(t(100));
        assert_eq!(table.held_bytes(), 0);
    }

    #[test]
    fn port_scans_from_many_clients_stop_at_the_byte_share_and_are_counted() {
        let budget = 256 * 1024;
        let table = ThresholdTable::with_budget(budget);
        let mut refused = 0u64;
        for n in 0..64u32 {
            let ip = IpAddr::from(n.wrapping_add(0x0a00_0000).to_be_bytes());
            for port in 0..2000u64 {
                table.observe(900_002, ip, t(0), 5000, 60, Some(port));
                refused = table.dropped();
            }
        }
        assert!(table.held_bytes() <= budget, "{}", table.held_bytes());
        assert!(refused > 0);
        table.sweep(t(60));
        assert_eq!(table.held_bytes(), 0);
    }
}
