//! Header names compared with a lowercase name the monitor knows, a word at a time.
//!
//! `str::eq_ignore_ascii_case` folds both sides a byte at a time (about ten
//! instructions a byte); the session and the response filter compare every header name
//! of every head with a few known names. The known name is lowercase letters, digits
//! and `-`, so one side needs no folding: a byte of the header matches a letter when it
//! equals it with the case bit (0x20) set, and any other byte when it equals it
//! exactly. Eight bytes are compared at once that way.

/// The bit set in every ASCII letter's byte and in no digit or `-` (of the bytes a
/// known name holds); the case bit is this one shifted right by one.
const LETTER_BITS_64: u64 = 0x4040_4040_4040_4040;
const LETTER_BITS_32: u32 = 0x4040_4040;

/// Whether `lower` is a name [`is_name`] may compare with: lowercase ASCII letters,
/// digits and `-` only.
pub const fn is_known_name(lower: &str) -> bool {
    let b = lower.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit() || b[i] == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether the header name `name` is `lower` in any case (as `eq_ignore_ascii_case`).
/// `lower` must be a known name ([`is_known_name`]): lowercase letters, digits, `-`.
#[inline]
pub fn is_name(name: &str, lower: &str) -> bool {
    debug_assert!(is_known_name(lower), "{lower}");
    let (a, b) = (name.as_bytes(), lower.as_bytes());
    let n = b.len();
    if a.len() != n {
        return false;
    }
    if n >= 8 {
        // Whole words, the last one overlapping the one before when `n` is not a
        // multiple of eight.
        let mut at = 0;
        while at + 8 < n {
            if !word_is(a, b, at) {
                return false;
            }
            at += 8;
        }
        return word_is(a, b, n - 8);
    }
    if n >= 4 {
        return half_is(a, b, 0) && half_is(a, b, n - 4);
    }
    a.eq_ignore_ascii_case(b)
}

/// Whether the eight bytes of `a` at `at` are those of `lower` in any case.
#[inline]
fn word_is(a: &[u8], lower: &[u8], at: usize) -> bool {
    match (word(a, at), word(lower, at)) {
        (Some(x), Some(t)) => x | ((t & LETTER_BITS_64) >> 1) == t,
        _ => false,
    }
}

/// As [`word_is`], for four bytes.
#[inline]
fn half_is(a: &[u8], lower: &[u8], at: usize) -> bool {
    match (half(a, at), half(lower, at)) {
        (Some(x), Some(t)) => x | ((t & LETTER_BITS_32) >> 1) == t,
        _ => false,
    }
}

fn word(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn half(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [&str; 12] = [
        "content-length",
        "transfer-encoding",
        "content-type",
        "content-encoding",
        "location",
        "server",
        "host",
        "expect",
        "te",
        "x",
        "",
        "sec-ch-ua-2",
    ];

    /// Every byte value at every position of every known name: `is_name` says what
    /// `eq_ignore_ascii_case` says (the bytes around a letter's case, `-` against CR,
    /// which differs from it by the case bit, high bytes).
    #[test]
    fn agrees_with_eq_ignore_ascii_case_byte_by_byte() {
        for lower in KNOWN {
            assert!(is_known_name(lower), "{lower}");
            for upper in [lower.to_owned(), lower.to_ascii_uppercase()] {
                assert!(is_name(&upper, lower), "{upper}");
                for i in 0..upper.len() {
                    for byte in 0..=0x7fu8 {
                        let mut name = upper.clone().into_bytes();
                        name[i] = byte;
                        let name = String::from_utf8(name).expect("ascii");
                        assert_eq!(
                            is_name(&name, lower),
                            name.eq_ignore_ascii_case(lower),
                            "{name:?} against {lower}"
                        );
                    }
                    if i + 1 < upper.len() {
                        // Two bytes of the same length that are not ASCII.
                        let mut name = upper.clone();
                        name.replace_range(i..i + 2, "\u{e9}");
                        assert!(!is_name(&name, lower), "{name:?}");
                    }
                }
            }
            for other in ["", "a", "content-lengtH0", "Content-Length "] {
                assert_eq!(is_name(other, lower), other.eq_ignore_ascii_case(lower));
            }
        }
    }

    #[test]
    fn only_lowercase_letters_digits_and_dashes_are_known_names() {
        for bad in ["Host", "x_y", "a b", "caf\u{e9}", "a:"] {
            assert!(!is_known_name(bad), "{bad}");
        }
    }
}
