//! Lowercasing values as they are copied into a transaction's field storage (rules
//! match ASCII case-insensitively, and the regex gates search lowercase bytes), and
//! comparing names with case ignored, both a word at a time.

/// Appends `src` to `out` with ASCII letters lowercased: under a word, byte by byte;
/// otherwise one copy, then the copy
/// lowercased in place a word at a time, its last partial word by lowercasing the
/// last eight bytes again (lowercasing twice changes nothing). The standard library's
/// `make_ascii_lowercase` goes byte by byte, and appending word by word checked the
/// capacity and advanced the length for each word and each tail byte.
pub(super) fn append_lowercase(out: &mut Vec<u8>, src: &[u8]) {
    if src.len() < 8 {
        // A method, a status, a short parameter: byte by byte costs less than the
        // call a copy of a few bytes makes.
        out.reserve(src.len());
        for &b in src {
            out.push(b.to_ascii_lowercase());
        }
        return;
    }
    let start = out.len();
    out.extend_from_slice(src);
    let Some(copy) = out.get_mut(start..) else {
        return;
    };
    let lower = |w: &mut [u8; 8]| *w = lowercase_word(u64::from_le_bytes(*w)).to_le_bytes();
    let mut words = copy.chunks_exact_mut(8);
    for w in &mut words {
        if let Ok(w) = <&mut [u8; 8]>::try_from(w) {
            lower(w);
        }
    }
    if !words.into_remainder().is_empty() {
        if let Some(w) = copy.last_chunk_mut::<8>() {
            lower(w);
        }
    }
}

/// Eight bytes with `A`..=`Z` made lowercase, other bytes unchanged.
fn lowercase_word(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    // Per byte, with the high bit cleared so that no addition carries into the next
    // byte: the high bit of `b + (0x80 - 'A')` says b >= 'A', of `b + (0x7F - 'Z')`
    // says b > 'Z'.
    let low7 = x & !HIGH;
    let ge_a = low7 + ONES * u64::from(0x80 - b'A');
    let gt_z = low7 + ONES * u64::from(0x7F - b'Z');
    // Upper case: ASCII (high bit clear), at least 'A', not past 'Z'.
    let upper = !x & (ge_a ^ gt_z) & HIGH;
    // 0x80 >> 2 is 0x20, the case bit.
    x | (upper >> 2)
}

/// Whether `a` and `b` are equal with ASCII case ignored (as the standard library's
/// `eq_ignore_ascii_case`), a word at a time: header names and methods are compared
/// several times per request, and the standard library's comparison goes through a
/// call and a chunked loop for a handful of bytes.
#[inline(always)]
pub(in crate::detect) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    // Inline, the length and first-byte tests reject most names before any call
    // (bytes equal but for case are equal with the case bit set; the converse does
    // not hold, and `eq_same_len` decides).
    a.len() == b.len()
        && a.first().map(|&x| x | 0x20) == b.first().map(|&y| y | 0x20)
        && eq_same_len(a, b)
}

/// [`eq_ignore_case`] of two slices of the same length.
fn eq_same_len(a: &[u8], b: &[u8]) -> bool {
    let same = |x: u64, y: u64| lowercase_word(x) == lowercase_word(y);
    let half = |c: &[u8; 4]| u64::from(u32::from_le_bytes(*c));
    match a.len() {
        // Up to three bytes gathered into a word (no call, no loop per byte).
        0..=3 => {
            let word = |s: &[u8]| s.iter().rev().fold(0u64, |w, &c| w << 8 | u64::from(c));
            same(word(a), word(b))
        }
        // The first and the last four bytes (overlapping when under eight).
        4..=7 => match (
            a.first_chunk::<4>(),
            b.first_chunk::<4>(),
            a.last_chunk::<4>(),
            b.last_chunk::<4>(),
        ) {
            (Some(a0), Some(b0), Some(a1), Some(b1)) => {
                same(half(a0), half(b0)) && same(half(a1), half(b1))
            }
            _ => false,
        },
        // Whole words, then the last eight bytes (overlapping the last whole word).
        _ => {
            let mut wa = a.chunks_exact(8);
            let mut wb = b.chunks_exact(8);
            for (x, y) in (&mut wa).zip(&mut wb) {
                let (mut xw, mut yw) = ([0u8; 8], [0u8; 8]);
                xw.copy_from_slice(x);
                yw.copy_from_slice(y);
                if !same(u64::from_le_bytes(xw), u64::from_le_bytes(yw)) {
                    return false;
                }
            }
            wa.remainder().is_empty()
                || match (a.last_chunk::<8>(), b.last_chunk::<8>()) {
                    (Some(x), Some(y)) => same(u64::from_le_bytes(*x), u64::from_le_bytes(*y)),
                    _ => false,
                }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Agrees with the standard library, on names and their case-flipped,
        /// shortened and altered copies.
        #[test]
        fn eq_ignore_case_agrees_with_the_standard_library(
            a in prop::collection::vec(prop_oneof![any::<u8>(), b'@'..=b'`', b'a'..=b'z'], 0..30),
            flips in prop::collection::vec(any::<bool>(), 30),
            change in any::<(usize, u8)>(),
            cut in any::<bool>(),
        ) {
            let mut b: Vec<u8> = a
                .iter()
                .zip(&flips)
                .map(|(&x, &f)| if f { x ^ (u8::from(x.is_ascii_alphabetic()) << 5) } else { x })
                .collect();
            prop_assert!(eq_ignore_case(&a, &b));
            if let Some(x) = b.get_mut(change.0 % 30) {
                *x = change.1;
            }
            if cut {
                b.pop();
            }
            prop_assert_eq!(eq_ignore_case(&a, &b), a.eq_ignore_ascii_case(&b));
            prop_assert_eq!(eq_ignore_case(&b, &a), b.eq_ignore_ascii_case(&a));
        }
    }
}
