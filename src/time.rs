//! Packet time: microseconds since the Unix epoch, passed into every stage.
//!
//! No stage reads the clock; replay takes time from packet headers, the daemon from the
//! capture, so expiry and windows behave the same in both.

use std::fmt::Write;

/// A point in time, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MICROS_PER_SEC: i64 = 1_000_000;

    /// From a pcap header's seconds and microseconds.
    pub fn from_secs_micros(secs: i64, micros: i64) -> Self {
        Timestamp(
            secs.saturating_mul(Self::MICROS_PER_SEC)
                .saturating_add(micros),
        )
    }

    /// Whole seconds since the epoch (negative times clamp to 0).
    pub fn secs(self) -> u64 {
        u64::try_from(self.0.div_euclid(Self::MICROS_PER_SEC)).unwrap_or(0)
    }

    /// Seconds elapsed since `earlier`, zero if `earlier` is later.
    pub fn secs_since(self, earlier: Timestamp) -> u64 {
        u64::try_from((self.0 - earlier.0).max(0) / Self::MICROS_PER_SEC).unwrap_or(0)
    }

    /// This time plus whole seconds.
    pub fn plus_secs(self, secs: u64) -> Timestamp {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX / Self::MICROS_PER_SEC);
        Timestamp(
            self.0
                .saturating_add(secs.saturating_mul(Self::MICROS_PER_SEC)),
        )
    }

    /// Zeek's form: seconds with six decimals, e.g. `1258577884.844956`.
    pub fn to_epoch_decimal(self) -> String {
        let secs = self.0.div_euclid(Self::MICROS_PER_SEC);
        let micros = self.0.rem_euclid(Self::MICROS_PER_SEC);
        format!("{secs}.{micros:06}")
    }

    /// Suricata EVE's form: `2026-11-22T10:00:00.123456+0000` (always UTC).
    pub fn to_eve(self) -> String {
        let secs = self.0.div_euclid(Self::MICROS_PER_SEC);
        let micros = self.0.rem_euclid(Self::MICROS_PER_SEC);
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let day_secs = secs.rem_euclid(86_400);
        let mut out = String::with_capacity(31);
        let _ = write!(
            out,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+0000",
            day_secs / 3600,
            (day_secs / 60) % 60,
            day_secs % 60
        );
        out
    }

    /// The UTC calendar day number (days since the epoch), for daily rotation.
    pub fn day(self) -> i64 {
        self.0.div_euclid(Self::MICROS_PER_SEC * 86_400)
    }
}

/// Days since the epoch to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_eve_timestamps_in_utc() {
        let t = Timestamp::from_secs_micros(1_795_341_600, 123_456);
        assert_eq!(t.to_eve(), "2026-11-22T10:00:00.123456+0000");
        assert_eq!(t.to_epoch_decimal(), "1795341600.123456");
    }

    #[test]
    fn formats_dates_before_and_across_leap_days() {
        assert_eq!(Timestamp(0).to_eve(), "1970-01-01T00:00:00.000000+0000");
        let leap = Timestamp::from_secs_micros(951_782_400, 0);
        assert_eq!(leap.to_eve(), "2000-02-29T00:00:00.000000+0000");
    }
}
