//! Whether a short value holds any of one to three bytes, eight bytes at a time in
//! plain integer arithmetic: the test most header values and paths get (does it hold
//! `$`, `` ` `` or `{`?), where `memchr3` spends more on dispatch and set-up than on
//! the few bytes it searches.
//!
//! Each eight-byte word is XORed with each byte repeated; a word that then has a zero
//! byte held that byte. The zero-byte test (`(x - 0x01…) & !x & 0x80…` is non-zero
//! exactly when some byte of `x` is zero) is exact, so the answer is the same as a
//! byte-by-byte search.

/// Values shorter than this are searched a word at a time; longer ones are left to
/// `memchr`, whose vector loop is faster past a couple of its vectors.
pub(super) const MAX_FEW_BYTES_SCAN: usize = 48;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = ONES * 0x80;

/// One to three bytes, each repeated across a word.
#[derive(Debug, Clone, Copy)]
pub(super) struct FewBytes {
    splat: [u64; 3],
    /// The bytes (the first standing in for missing ones), for values under a word.
    bytes: [u8; 3],
}

impl FewBytes {
    /// The set of `bytes`, or `None` unless it has one to three bytes.
    pub(super) fn new(bytes: &[u8]) -> Option<FewBytes> {
        let (&first, _) = bytes.split_first()?;
        if bytes.len() > 3 {
            return None;
        }
        // Fewer than three: the first byte stands in for the missing ones.
        let at = |i: usize| bytes.get(i).copied().unwrap_or(first);
        let set = [at(0), at(1), at(2)];
        Some(FewBytes {
            splat: set.map(|b| u64::from(b) * ONES),
            bytes: set,
        })
    }

    /// Whether `value` holds any of the bytes.
    #[inline(always)]
    pub(super) fn any_in(&self, value: &[u8]) -> bool {
        let [a, b, c] = self.bytes;
        if value.len() < 8 {
            return value.iter().any(|&x| x == a || x == b || x == c);
        }
        let mut words = value.chunks_exact(8);
        for w in &mut words {
            if <[u8; 8]>::try_from(w).is_ok_and(|w| self.in_word(u64::from_le_bytes(w))) {
                return true;
            }
        }
        // The last partial word: the value's last eight bytes, some seen already
        // (they held none of the bytes, so seeing them again changes nothing).
        !words.remainder().is_empty()
            && value
                .last_chunk::<8>()
                .is_some_and(|w| self.in_word(u64::from_le_bytes(*w)))
    }

    #[inline]
    fn in_word(&self, x: u64) -> bool {
        let zero = |y: u64| y.wrapping_sub(ONES) & !y & HIGH;
        let [a, b, c] = self.splat;
        (zero(x ^ a) | zero(x ^ b) | zero(x ^ c)) != 0
    }
}

/// Two bytes in a row (a two-byte literal such as `..`), searched the same way: a
/// word's bytes equal to the first and to the second are found exactly (no
/// borrow between bytes), and the pair is there when a byte equal to the first is
/// followed by one equal to the second. Words overlap by one byte so that a pair
/// across two words is seen.
#[derive(Debug, Clone, Copy)]
pub(super) struct BytePair {
    splat: [u64; 2],
    pair: [u8; 2],
}

impl BytePair {
    /// The search for `pair`.
    pub(super) fn new(pair: [u8; 2]) -> BytePair {
        BytePair {
            splat: pair.map(|b| u64::from(b) * ONES),
            pair,
        }
    }

    /// Whether `value` holds the two bytes in a row.
    #[inline]
    pub(super) fn in_value(&self, value: &[u8]) -> bool {
        if value.len() < 8 {
            return value.windows(2).any(|w| w == self.pair);
        }
        // A word starting at `at` sees the pairs starting at `at..at + 7`.
        let mut at = 0;
        while let Some(w) = value.get(at..at + 8) {
            if <[u8; 8]>::try_from(w).is_ok_and(|w| self.in_word(u64::from_le_bytes(w))) {
                return true;
            }
            at += 7;
        }
        // The pairs the last step left: in the value's last eight bytes.
        value
            .last_chunk::<8>()
            .is_some_and(|w| self.in_word(u64::from_le_bytes(*w)))
    }

    #[inline]
    fn in_word(&self, x: u64) -> bool {
        // High bit of each byte of `y` that is zero, exactly (no borrow into the next).
        let zero = |y: u64| !(((y & !HIGH).wrapping_add(!HIGH)) | y | !HIGH);
        let [a, b] = self.splat;
        zero(x ^ a) & (zero(x ^ b) >> 8) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_a_pair_in_and_across_words() {
        let dots = BytePair::new(*b"..");
        assert!(dots.in_value(b".."));
        assert!(dots.in_value(b"/a/../b"));
        assert!(dots.in_value(b"/abcdef..x"));
        assert!(dots.in_value(b"/abcdefghijklmn.."));
        assert!(!dots.in_value(b"/a/./b/c.d/e.f/g.h"));
        assert!(!dots.in_value(b"."));
        assert!(!dots.in_value(b""));
        // A byte one above the first (`/` after `.`) is no match.
        assert!(!dots.in_value(b"./././././././././"));
        let dollar = BytePair::new(*b"${");
        assert!(dollar.in_value(b"abcdefg${jndi"));
        assert!(!dollar.in_value(b"abcdefg{$jndi"));
    }

    proptest! {
        /// Agrees with a search of every two bytes in a row.
        #[test]
        fn pair_agrees_with_a_window_search(
            pair in prop::array::uniform2(prop_oneof![any::<u8>(), Just(b'.'), Just(b'/')]),
            value in prop::collection::vec(prop_oneof![any::<u8>(), Just(b'.'), Just(b'/'), Just(0u8), Just(0xffu8)], 0..40),
        ) {
            let p = BytePair::new(pair);
            prop_assert_eq!(p.in_value(&value), value.windows(2).any(|w| w == pair));
        }
    }

    #[test]
    fn finds_each_byte_anywhere_and_in_the_last_word() {
        let set = FewBytes::new(b"$`{").expect("three bytes");
        assert!(set.any_in(b"$"));
        assert!(set.any_in(b"abcdefgh`"));
        assert!(set.any_in(b"abcdefg{"));
        assert!(!set.any_in(b""));
        assert!(!set.any_in(b"mozilla/5.0 (x11; linux x86_64)"));
        let zero = FewBytes::new(&[0]).expect("one byte");
        assert!(!zero.any_in(b"abc"));
        assert!(zero.any_in(b"ab\0"));
        assert!(zero.any_in(b"abcdefghi\0"));
        assert!(!zero.any_in(b"abcdefghij"));
        assert!(FewBytes::new(b"").is_none());
        assert!(FewBytes::new(b"abcd").is_none());
    }

    proptest! {
        /// Agrees with a byte-by-byte search, on values made mostly of bytes near
        /// the set's (so carries between bytes are exercised).
        #[test]
        fn agrees_with_a_byte_search(
            set in prop::collection::vec(any::<u8>(), 1..4),
            value in prop::collection::vec(prop_oneof![any::<u8>(), 0x20u8..0x30, Just(0x80u8), Just(0xffu8)], 0..40),
        ) {
            let few = FewBytes::new(&set).expect("one to three bytes");
            prop_assert_eq!(few.any_in(&value), value.iter().any(|b| set.contains(b)));
        }
    }
}
