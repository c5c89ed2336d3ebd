//! Distinct visitors per UTC day, estimated without keeping who they were.
//!
//! Receives client addresses and packet time; emits one number, the estimated distinct
//! addresses seen since 00:00 UTC. Each address is hashed with SipHash-2-4 under a
//! random 128-bit key made at start and replaced, together with clearing the sketch,
//! when the packet clock enters a new UTC day. The key lives only in this struct's
//! memory (no `Debug`, no accessor, never logged or written), so yesterday's registers
//! cannot be tied to an address even by someone who later reads memory, and the sketch
//! itself holds only 6-bit maxima per register, never an address or a full hash.

use std::fmt;
use std::net::IpAddr;

use super::hyperloglog::HyperLogLog;
use super::siphash::SipKey;
use super::MetricsError;
use crate::time::Timestamp;

/// A day's visitor sketch and the key it is hashed under.
pub struct DailyVisitors {
    /// The UTC day (days since the epoch) the sketch covers; `None` before the first
    /// observation.
    day: Option<i64>,
    key: SipKey,
    sketch: HyperLogLog,
    /// Where fresh keys come from (the OS; a fixed sequence in tests).
    key_source: fn() -> Result<[u8; 16], getrandom::Error>,
}

impl fmt::Debug for DailyVisitors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DailyVisitors")
            .field("day", &self.day)
            .field("estimate", &self.estimate())
            .finish_non_exhaustive()
    }
}

fn os_random_key() -> Result<[u8; 16], getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

impl DailyVisitors {
    /// An empty sketch under a fresh key from the operating system.
    pub fn new() -> Result<DailyVisitors, MetricsError> {
        DailyVisitors::with_key_source(os_random_key)
    }

    fn with_key_source(
        key_source: fn() -> Result<[u8; 16], getrandom::Error>,
    ) -> Result<DailyVisitors, MetricsError> {
        let bytes = key_source().map_err(|e| MetricsError::Randomness(e.to_string()))?;
        Ok(DailyVisitors {
            day: None,
            key: SipKey::from_bytes(bytes),
            sketch: HyperLogLog::default(),
            key_source,
        })
    }

    /// Counts a client address seen at `now`.
    pub fn observe(&mut self, addr: IpAddr, now: Timestamp) {
        self.roll_over(now);
        let mut buf = [0u8; 17];
        let bytes: &[u8] = match addr.to_canonical() {
            IpAddr::V4(v4) => {
                buf[0] = 4;
                buf[1..5].copy_from_slice(&v4.octets());
                &buf[..5]
            }
            IpAddr::V6(v6) => {
                buf[0] = 6;
                buf[1..17].copy_from_slice(&v6.octets());
                &buf[..17]
            }
        };
        self.sketch.insert(self.key.hash(bytes));
    }

    /// Starts a new day if `now` is in a later UTC day than the sketch: the key is
    /// replaced and the sketch cleared. Earlier days (late or reordered packets) are
    /// counted in the current day rather than wiping it.
    pub fn roll_over(&mut self, now: Timestamp) {
        let day = now.day();
        match self.day {
            None => self.day = Some(day),
            Some(current) if day > current => {
                self.day = Some(day);
                self.key = self.next_key(day);
                self.sketch.clear();
            }
            Some(_) => {}
        }
    }

    /// A fresh key; if the OS cannot give one, a one-way step from the old key, so a
    /// new day still never shares a key with the last.
    fn next_key(&self, day: i64) -> SipKey {
        match (self.key_source)() {
            Ok(bytes) => SipKey::from_bytes(bytes),
            Err(e) => {
                tracing::warn!(error = %e, "no OS randomness for the visitor key; deriving it");
                let mut seed = [0u8; 9];
                seed[1..].copy_from_slice(&day.to_le_bytes());
                let lo = self.key.hash(&seed);
                seed[0] = 1;
                let hi = self.key.hash(&seed);
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&lo.to_le_bytes());
                bytes[8..].copy_from_slice(&hi.to_le_bytes());
                SipKey::from_bytes(bytes)
            }
        }
    }

    /// Estimated distinct addresses seen in the current day.
    pub fn estimate(&self) -> u64 {
        self.sketch.estimate().round() as u64
    }

    /// The day the sketch covers.
    pub fn day(&self) -> Option<i64> {
        self.day
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::*;

    const DAY_MICROS: i64 = 86_400 * Timestamp::MICROS_PER_SEC;
    const NOON_DAY_20000: Timestamp = Timestamp(20_000 * DAY_MICROS + DAY_MICROS / 2);

    fn v4(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
    }

    fn counting_keys() -> Result<[u8; 16], getrandom::Error> {
        static NEXT: AtomicU8 = AtomicU8::new(1);
        Ok([NEXT.fetch_add(1, Ordering::Relaxed); 16])
    }

    fn failing_keys() -> Result<[u8; 16], getrandom::Error> {
        Err(getrandom::Error::UNSUPPORTED)
    }

    #[test]
    fn estimates_100k_distinct_addresses_within_three_percent() {
        for seed in 0..3u8 {
            let mut v = DailyVisitors::with_key_source(counting_keys).expect("key");
            // Fixed keys keep the test deterministic.
            v.key = SipKey::from_bytes([seed.wrapping_mul(77); 16]);
            for i in 0..100_000 {
                v.observe(v4(i), NOON_DAY_20000);
                // Repeat visits by the same address do not count twice.
                if i % 10 == 0 {
                    v.observe(v4(i), NOON_DAY_20000);
                }
            }
            let e = v.estimate() as f64;
            assert!((e - 100_000.0).abs() / 100_000.0 < 0.03, "seed {seed}: {e}");
        }
    }

    #[test]
    fn with_an_os_key_the_estimate_is_still_close() {
        let mut v = DailyVisitors::new().expect("os randomness");
        for i in 0..20_000 {
            v.observe(v4(i), NOON_DAY_20000);
        }
        let e = v.estimate() as f64;
        assert!((e - 20_000.0).abs() / 20_000.0 < 0.05, "{e}");
    }

    #[test]
    fn a_new_utc_day_replaces_the_key_and_clears_the_sketch() {
        let mut v = DailyVisitors::with_key_source(counting_keys).expect("key");
        for i in 0..1_000 {
            v.observe(v4(i), NOON_DAY_20000);
        }
        assert!(v.estimate() > 900);

        // Later the same day: same key, same sketch.
        let evening = Timestamp(NOON_DAY_20000.0 + DAY_MICROS / 2 - 1);
        let key_probe = v.key.hash(b"probe");
        v.observe(v4(0), evening);
        assert_eq!(v.key.hash(b"probe"), key_probe);
        assert!(v.estimate() > 900);

        // Midnight UTC: a new key and an empty sketch.
        let midnight = Timestamp(NOON_DAY_20000.0 + DAY_MICROS / 2);
        v.roll_over(midnight);
        assert_ne!(v.key.hash(b"probe"), key_probe);
        assert_eq!(v.estimate(), 0);
        assert_eq!(v.day(), Some(20_001));
        v.observe(v4(0), midnight);
        assert_eq!(v.estimate(), 1);
    }

    #[test]
    fn late_packets_from_yesterday_do_not_wipe_today() {
        let mut v = DailyVisitors::with_key_source(counting_keys).expect("key");
        let tomorrow = Timestamp(NOON_DAY_20000.0 + DAY_MICROS);
        for i in 0..100 {
            v.observe(v4(i), tomorrow);
        }
        let probe = v.key.hash(b"probe");
        v.observe(v4(1_000), NOON_DAY_20000);
        assert_eq!(v.key.hash(b"probe"), probe);
        assert_eq!(v.day(), Some(20_001));
        assert!(v.estimate().abs_diff(101) <= 2, "{}", v.estimate());
    }

    #[test]
    fn without_os_randomness_the_next_key_still_differs() {
        let mut v = DailyVisitors::with_key_source(counting_keys).expect("key");
        v.key_source = failing_keys;
        v.observe(v4(1), NOON_DAY_20000);
        let probe = v.key.hash(b"probe");
        v.roll_over(Timestamp(NOON_DAY_20000.0 + DAY_MICROS));
        assert_ne!(v.key.hash(b"probe"), probe);
        assert_eq!(v.estimate(), 0);
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_the_ipv4_address() {
        let mut v = DailyVisitors::with_key_source(counting_keys).expect("key");
        let a = Ipv4Addr::new(198, 51, 100, 7);
        v.observe(IpAddr::V4(a), NOON_DAY_20000);
        v.observe(IpAddr::V6(a.to_ipv6_mapped()), NOON_DAY_20000);
        v.observe(IpAddr::V6(Ipv6Addr::LOCALHOST), NOON_DAY_20000);
        assert_eq!(v.estimate(), 2);
    }

    #[test]
    fn debug_shows_no_key() {
        let v = DailyVisitors::with_key_source(counting_keys).expect("key");
        let text = format!("{v:?}");
        assert!(text.contains("DailyVisitors"));
        assert!(!text.contains("key"));
    }
}
