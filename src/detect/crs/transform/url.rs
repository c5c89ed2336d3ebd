//! URL-style codecs: `urlDecode`, `urlDecodeUni`, `urlEncode` and `utf8toUnicode`.

use super::unicode_map::best_fit;

/// Copies the run of bytes before the next `%` or `+` (the only bytes the URL decoders
/// act on) in one go; returns the index of that byte or the end.
fn copy_plain_run(input: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let end = memchr::memchr2(b'%', b'+', &input[i..]).map_or(input.len(), |p| i + p);
    out.extend_from_slice(&input[i..end]);
    end
}

/// Whether `b` is an ASCII hex digit (ModSecurity's `VALID_HEX`).
pub(super) fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// ModSecurity's `xsingle2c`: the value of one hex digit. For a byte that is not a hex
/// digit it yields the same garbage ModSecurity computes (some transformations, such as
/// `hexDecode`, apply it unchecked), with wrapping arithmetic instead of overflow.
pub(super) fn xsingle2c(b: u8) -> u8 {
    if b >= b'A' {
        (b & 0xdf).wrapping_sub(b'A').wrapping_add(10)
    } else {
        b.wrapping_sub(b'0')
    }
}

/// ModSecurity's `x2c`: two hex digits to a byte.
pub(super) fn x2c(hi: u8, lo: u8) -> u8 {
    xsingle2c(hi).wrapping_mul(16).wrapping_add(xsingle2c(lo))
}

/// Lowercase hex digits, as ModSecurity's `c2x` and `%x` print them.
pub(super) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// `urlDecode`: `%XX` with two hex digits decodes, `+` becomes a space, an invalid or
/// truncated `%` sequence stays as is (ModSecurity's non-strict decoder).
pub(super) fn url_decode(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        i = copy_plain_run(input, i, out);
        let Some(&b) = input.get(i) else { break };
        if b == b'%' && i + 2 < input.len() && is_hex(input[i + 1]) && is_hex(input[i + 2]) {
            out.push(x2c(input[i + 1], input[i + 2]));
            i += 3;
        } else {
            out.push(if b == b'+' { b' ' } else { b });
            i += 1;
        }
    }
}

/// `urlDecodeUni`: `urlDecode` plus IIS's `%uXXXX`. ModSecurity keeps only the low byte
/// of the code point, except full-width ASCII `%uFF01`-`%uFF5E`, which maps to `!`-`~`
/// (low byte + 0x20). With `map`, a code point in ModSecurity's 20127 best-fit table
/// (what `SecUnicodeMapFile unicode.mapping 20127` loads) decodes to its ASCII
/// look-alike first. An invalid or truncated `%u` sequence keeps the `%u` as is and
/// decoding resumes after it.
pub(super) fn url_decode_uni(input: &[u8], out: &mut Vec<u8>, map: bool) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        i = copy_plain_run(input, i, out);
        let Some(&b) = input.get(i) else { break };
        if b == b'%' {
            if i + 1 < n && (input[i + 1] == b'u' || input[i + 1] == b'U') {
                if i + 5 < n && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
                    let hex4 = &input[i + 2..i + 6];
                    let cp = u16::from_be_bytes([x2c(hex4[0], hex4[1]), x2c(hex4[2], hex4[3])]);
                    let mapped = if map { best_fit(cp) } else { None };
                    out.push(mapped.unwrap_or_else(|| unicode_low_byte(hex4)));
                    i += 6;
                } else {
                    out.extend_from_slice(&input[i..i + 2]);
                    i += 2;
                }
            } else if i + 2 < n && is_hex(input[i + 1]) && is_hex(input[i + 2]) {
                out.push(x2c(input[i + 1], input[i + 2]));
                i += 3;
            } else {
                out.push(b'%');
                i += 1;
            }
        } else {
            out.push(if b == b'+' { b' ' } else { b });
            i += 1;
        }
    }
}

/// The byte ModSecurity keeps for a 4-hex-digit code point (`%uXXXX`, `\uXXXX`): the low
/// byte, with full-width ASCII (U+FF01-U+FF5E) folded to ASCII.
pub(super) fn unicode_low_byte(hex4: &[u8]) -> u8 {
    let mut low = x2c(hex4[2], hex4[3]);
    let full_width_page =
        hex4[0].eq_ignore_ascii_case(&b'f') && hex4[1].eq_ignore_ascii_case(&b'f');
    if full_width_page && low > 0x00 && low < 0x5f {
        low += 0x20;
    }
    low
}

/// `urlEncode`: letters, digits and `*` stay, a space becomes `+`, every other byte
/// becomes `%xx` in lowercase hex.
pub(super) fn url_encode(input: &[u8], out: &mut Vec<u8>) {
    for &b in input {
        if b == b' ' {
            out.push(b'+');
        } else if b == b'*' || b.is_ascii_alphanumeric() {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX_LOWER[usize::from(b >> 4)],
                HEX_LOWER[usize::from(b & 15)],
            ]);
        }
    }
}

/// `utf8toUnicode`, with ModSecurity v3's exact output: each well-formed 2-4 byte UTF-8
/// sequence becomes `%uXXXX` (lowercase hex, at least 4 digits). Its quirks are kept:
/// a lead byte whose continuation bytes are missing or invalid is dropped and decoding
/// resumes at the next byte; a NUL is dropped unless it is the last byte; a surrogate or
/// overlong sequence is written as `%uXXXX` followed by its raw lead byte; lead bytes
/// `F5`-`F7` are written raw before their decoded form; other invalid bytes pass as is.
pub(super) fn utf8_to_unicode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let at = |k: usize| input.get(k).copied().unwrap_or(0);
    let cont = |k: usize| at(k) & 0xc0 == 0x80;
    let mut i = 0;
    while i < n {
        let c = input[i];
        // (sequence length, code point); length 0 = error, nothing written for it.
        let (len, d): (usize, u32) = if c & 0x80 == 0 {
            if c != 0 || i + 1 == n {
                out.push(c);
            }
            (1, 0)
        } else if c & 0xe0 == 0xc0 {
            if n >= 2 && cont(i + 1) {
                (2, (u32::from(c & 0x1f) << 6) | u32::from(at(i + 1) & 0x3f))
            } else {
                (0, 0)
            }
        } else if c & 0xf0 == 0xe0 {
            if n >= 3 && cont(i + 1) && cont(i + 2) {
                let d = (u32::from(c & 0x0f) << 12)
                    | (u32::from(at(i + 1) & 0x3f) << 6)
                    | u32::from(at(i + 2) & 0x3f);
                (3, d)
            } else {
                (0, 0)
            }
        } else if c & 0xf8 == 0xf0 {
            if c >= 0xf5 {
                out.push(c);
            }
            if n >= 4 && cont(i + 1) && cont(i + 2) && cont(i + 3) {
                let d = (u32::from(c & 0x07) << 18)
                    | (u32::from(at(i + 1) & 0x3f) << 12)
                    | (u32::from(at(i + 2) & 0x3f) << 6)
                    | u32::from(at(i + 3) & 0x3f);
                (4, d)
            } else {
                (0, 0)
            }
        } else {
            out.push(c);
            (1, 0)
        };
        if len >= 2 {
            push_percent_u(d, out);
        }
        if (0xd800..=0xdfff).contains(&d) {
            out.push(c);
        }
        let overlong = match len {
            4 => d < 0x1_0000,
            3 => d < 0x800,
            2 => d < 0x80,
            _ => false,
        };
        if overlong {
            out.push(c);
        }
        i += len.max(1);
    }
}

/// Writes `%u` and `d` in lowercase hex, zero-padded to at least 4 digits.
fn push_percent_u(d: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"%u");
    let digits = (32 - d.leading_zeros()).div_ceil(4).max(4);
    for k in (0..digits).rev() {
        out.push(HEX_LOWER[((d >> (4 * k)) & 15) as usize]);
    }
}
