//! Lowercasing values as they are copied into a transaction's field storage: rules
//! match ASCII case-insensitively, and the regex gates search lowercase bytes.

/// Appends `src` to `out` with ASCII letters lowercased, a word at a time, in one
/// pass (copying, then lowercasing in place, read every byte twice; the standard
/// library's `make_ascii_lowercase` goes byte by byte).
pub(super) fn append_lowercase(out: &mut Vec<u8>, src: &[u8]) {
    out.reserve(src.len());
    let mut words = src.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        out.extend_from_slice(&lowercase_word(u64::from_le_bytes(word)).to_le_bytes());
    }
    // The tail (under eight bytes) byte by byte: copying it into a word and back
    // out took two `memcpy` calls.
    out.extend(words.remainder().iter().map(u8::to_ascii_lowercase));
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
