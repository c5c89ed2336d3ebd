//! TCP sequence numbers: 32-bit and wrapping, compared as RFC 9293 §3.4 says.

use std::ops::{Add, Sub};

/// A TCP sequence number; `a - b` is the signed distance, correct across wrap-around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Sub for SeqNumber {
    type Output = i64;
    /// Signed distance from `rhs` to `self`, within ±2^31.
    fn sub(self, rhs: SeqNumber) -> i64 {
        i64::from(self.0.wrapping_sub(rhs.0) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_correct_across_wraparound() {
        let before = SeqNumber(u32::MAX - 9);
        let after = before + 20;
        assert_eq!(after.0, 10);
        assert_eq!(after - before, 20);
        assert_eq!(before - after, -20);
    }
}
