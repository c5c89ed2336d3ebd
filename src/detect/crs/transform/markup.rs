//! Escape decoders of markup and programming languages: `htmlEntityDecode`, `jsDecode`,
//! `cssDecode` and `escapeSeqDecode`.

use super::url::{is_hex, unicode_low_byte, x2c, xsingle2c};

/// Copies the bytes from `i` up to the next `stop` byte in one go; returns its index or
/// the end. The decoders only act at their escape byte, so plain runs cost one memchr.
fn copy_until(input: &[u8], i: usize, stop: u8, out: &mut Vec<u8>) -> usize {
    let end = memchr::memchr(stop, &input[i..]).map_or(input.len(), |p| i + p);
    out.extend_from_slice(&input[i..end]);
    end
}

/// Whether `b` is an octal digit (ModSecurity's `ISODIGIT`).
fn is_octal(b: u8) -> bool {
    (b'0'..=b'7').contains(&b)
}

/// C's `isspace` in the C locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
pub(super) fn is_c_space(b: u8) -> bool {
    b == b' ' || (0x09..=0x0d).contains(&b)
}

/// The value of a run of digits in `base`, as C's `strtol` then a cast to a byte gives it:
/// the low byte, or 0xff once the value saturates at `LONG_MAX`.
fn digits_to_byte(digits: &[u8], base: u32) -> u8 {
    let mut v: u64 = 0;
    for &d in digits {
        let x = u64::from(if base == 16 {
            xsingle2c(d)
        } else {
            d.wrapping_sub(b'0')
        });
        v = match v
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(x))
        {
            Some(v) if v <= i64::MAX as u64 => v,
            _ => return 0xff,
        };
    }
    (v & 0xff) as u8
}

/// Named entities ModSecurity decodes, matched case-insensitively as a prefix of the
/// alphanumeric run after `&` (so `&ltx;` decodes to `<` and the whole run is consumed).
const NAMED_ENTITIES: [(&[u8], u8); 5] = [
    (b"quot", b'"'),
    (b"amp", b'&'),
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"nbsp", 0xa0),
];

/// `htmlEntityDecode`: `&#DDD;`, `&#xHH;` (the `;` optional, any number of digits, the
/// value truncated to a byte: ModSecurity emits one byte, not UTF-8) and the named
/// entities `quot`, `amp`, `lt`, `gt`, `nbsp` (`nbsp` to byte 0xa0). Anything else,
/// including `&#` without digits and unknown names, stays as is.
pub(super) fn html_entity_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        i = copy_until(input, i, b'&', out);
        if i >= n {
            break;
        }
        // Bytes to copy verbatim when no entity decodes at `i`.
        let mut copy = 1;
        if input[i] == b'&' && i + 1 < n {
            let mut j = i + 1;
            if input[j] == b'#' {
                copy = 2;
                j += 1;
                let hex = j < n && (input[j] == b'x' || input[j] == b'X');
                if hex {
                    copy = 3;
                    j += 1;
                }
                let k = j;
                while j < n
                    && if hex {
                        is_hex(input[j])
                    } else {
                        input[j].is_ascii_digit()
                    }
                {
                    j += 1;
                }
                if j > k {
                    out.push(digits_to_byte(&input[k..j], if hex { 16 } else { 10 }));
                    i = if j < n && input[j] == b';' { j + 1 } else { j };
                    continue;
                }
            } else {
                let k = j;
                while j < n && input[j].is_ascii_alphanumeric() {
                    j += 1;
                }
                if j > k {
                    let run = &input[k..j];
                    let named = NAMED_ENTITIES.iter().find(|(name, _)| {
                        run.len() >= name.len() && run[..name.len()].eq_ignore_ascii_case(name)
                    });
                    match named {
                        Some(&(_, byte)) => {
                            out.push(byte);
                            i = if j < n && input[j] == b';' { j + 1 } else { j };
                            continue;
                        }
                        None => copy = j - k + 1,
                    }
                }
            }
        }
        let end = (i + copy).min(n);
        out.extend_from_slice(&input[i..end]);
        i = end;
    }
}

/// Decodes up to 3 octal digits at `input[start..]` as ModSecurity's `\ooo` does: at most
/// 3 digits, and only 2 when a 3-digit value would exceed one byte and `cap_byte` is set.
/// Returns (byte, digits used); 0 digits when `input[start]` is not octal.
fn octal_escape(input: &[u8], start: usize, cap_byte: bool) -> (u8, usize) {
    let mut j = 0;
    while j < 3 && start + j < input.len() && is_octal(input[start + j]) {
        j += 1;
    }
    if cap_byte && j == 3 && input[start] > b'3' {
        j = 2;
    }
    let mut v: u32 = 0;
    for &d in &input[start..start + j] {
        v = v * 8 + u32::from(d - b'0');
    }
    ((v & 0xff) as u8, j)
}

/// The control character for a C escape letter (`\a \b \f \n \r \t \v`).
fn c_escape(letter: u8) -> Option<u8> {
    Some(match letter {
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        _ => return None,
    })
}

/// `jsDecode`: `\uHHHH` (low byte, full-width ASCII folded), `\xHH`, octal `\ooo` (one
/// byte at most), the C letters `\a \b \f \n \r \t \v`, and `\C` to `C` for any other
/// byte. A backslash at the very end stays.
pub(super) fn js_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        i = copy_until(input, i, b'\\', out);
        if i >= n {
            break;
        }
        if i + 5 < n && input[i + 1] == b'u' && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
            out.push(unicode_low_byte(&input[i + 2..i + 6]));
            i += 6;
        } else if i + 3 < n && input[i + 1] == b'x' && is_hex(input[i + 2]) && is_hex(input[i + 3])
        {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if i + 1 < n && is_octal(input[i + 1]) {
            let (b, used) = octal_escape(input, i + 1, true);
            out.push(b);
            i += 1 + used;
        } else if i + 1 < n {
            let c = input[i + 1];
            out.push(c_escape(c).unwrap_or(c));
            i += 2;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
}

/// `cssDecode` (CSS 2 escapes): `\` and 1-6 hex digits decode to one byte, the last two
/// digits (full-width ASCII folded for `\FFxx`, `\0FFxx`, `\00FFxx`), and one blank after
/// the digits is swallowed; `\` then newline is removed; `\` then any other byte gives
/// that byte; a trailing `\` is removed.
pub(super) fn css_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        i = copy_until(input, i, b'\\', out);
        if i >= n {
            break;
        }
        if i + 1 >= n {
            // A trailing backslash continues to nothing.
            break;
        }
        i += 1;
        let mut j = 0;
        while j < 6 && i + j < n && is_hex(input[i + j]) {
            j += 1;
        }
        if j == 0 {
            if input[i] != b'\n' {
                out.push(input[i]);
            }
            i += 1;
            continue;
        }
        let digits = &input[i..i + j];
        let mut b = if j == 1 {
            xsingle2c(digits[0])
        } else {
            x2c(digits[j - 2], digits[j - 1])
        };
        let full_check = match j {
            4 => true,
            5 => digits[0] == b'0',
            6 => digits[0] == b'0' && digits[1] == b'0',
            _ => false,
        };
        if full_check
            && b > 0x00
            && b < 0x5f
            && digits[j - 3].eq_ignore_ascii_case(&b'f')
            && digits[j - 4].eq_ignore_ascii_case(&b'f')
        {
            b += 0x20;
        }
        out.push(b);
        if i + j < n && is_c_space(input[i + j]) {
            j += 1;
        }
        i += j;
    }
}

/// `escapeSeqDecode` (ANSI C escapes): the letters `\a \b \f \n \r \t \v`, `\\ \? \' \"`,
/// `\xHH` (`\XHH` too), octal `\o` to `\ooo` (value truncated to a byte); any other `\C`
/// gives `C`, and a trailing `\` stays.
pub(super) fn escape_seq_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' || i + 1 >= n {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let c = input[i + 1];
        if let Some(b) = c_escape(c) {
            out.push(b);
            i += 2;
        } else if matches!(c, b'\\' | b'?' | b'\'' | b'"') {
            out.push(c);
            i += 2;
        } else if (c == b'x' || c == b'X')
            && i + 3 < n
            && is_hex(input[i + 2])
            && is_hex(input[i + 3])
        {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if is_octal(c) {
            let (b, used) = octal_escape(input, i + 1, false);
            out.push(b);
            i += 1 + used;
        } else {
            out.push(c);
            i += 2;
        }
    }
}
