//! Binary codecs and digests: `base64Decode`, `base64DecodeExt`, `hexDecode`,
//! `hexEncode`, `length`, `md5` and `sha1`.

use md5::Md5;
use sha1::{Digest, Sha1};

use super::url::{x2c, HEX_LOWER};

/// The 6-bit value of a standard base64 alphabet byte.
fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Accumulates 6-bit groups and emits whole bytes, as a base64 decoder does.
struct Sextets {
    acc: u32,
    count: u32,
}

impl Sextets {
    fn new() -> Sextets {
        Sextets { acc: 0, count: 0 }
    }

    fn push(&mut self, v: u8, out: &mut Vec<u8>) {
        self.acc = (self.acc << 6) | u32::from(v);
        self.count += 1;
        if self.count == 4 {
            out.extend_from_slice(&[
                (self.acc >> 16) as u8,
                (self.acc >> 8) as u8,
                self.acc as u8,
            ]);
            self.acc = 0;
            self.count = 0;
        }
    }

    /// Emits the whole bytes of a trailing partial group (2 sextets: 1 byte, 3: 2 bytes).
    fn finish(self, out: &mut Vec<u8>) {
        match self.count {
            2 => out.push((self.acc >> 4) as u8),
            3 => out.extend_from_slice(&[(self.acc >> 10) as u8, (self.acc >> 2) as u8]),
            _ => {}
        }
    }
}

/// `base64Decode`: decodes until the first byte that is neither base64 nor a line break:
/// `=` padding, a blank, a NUL or any other byte ends the value (ModSecurity stops there
/// and keeps what it decoded). `\r` and `\n` are skipped. A trailing partial group yields
/// its whole bytes.
pub(super) fn base64_decode(input: &[u8], out: &mut Vec<u8>) {
    let mut s = Sextets::new();
    for &b in input {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        match b64_value(b) {
            Some(v) => s.push(v, out),
            None => break,
        }
    }
    s.finish(out);
}

/// `base64DecodeExt`, ModSecurity v3's forgiving decoder: bytes outside the alphabet
/// (including `.`, blanks and `-`) are skipped, `=` is skipped, and only whole bytes are
/// emitted. As in ModSecurity, a single `=` right after the first sextet of a group
/// (`Q=x`: not decodable) makes the whole output empty.
pub(super) fn base64_decode_ext(input: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let mut s = Sextets::new();
    for (k, &b) in input.iter().enumerate() {
        if b == b'=' {
            let next = input.get(k + 1).copied().unwrap_or(0);
            if next != b'=' && s.count % 4 == 1 {
                out.truncate(start);
                return;
            }
            continue;
        }
        if let Some(v) = b64_value(b) {
            s.push(v, out);
        }
    }
    // Only whole bytes: a partial group's bytes are emitted as the decoder would have
    // produced them one sextet at a time.
    s.finish(out);
}

/// `hexDecode`, as ModSecurity v3: each pair of bytes becomes one byte; a byte that is
/// not a hex digit is converted with ModSecurity's arithmetic anyway (`0z` gives `#`);
/// a trailing odd byte is dropped.
pub(super) fn hex_decode(input: &[u8], out: &mut Vec<u8>) {
    out.extend(input.chunks_exact(2).map(|p| x2c(p[0], p[1])));
}

/// `hexEncode`: each byte as two lowercase hex digits.
pub(super) fn hex_encode(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(input.len() * 2);
    for &b in input {
        out.extend_from_slice(&[
            HEX_LOWER[usize::from(b >> 4)],
            HEX_LOWER[usize::from(b & 15)],
        ]);
    }
}

/// `length`: the byte length in decimal.
pub(super) fn length(input: &[u8], out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut n = input.len();
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[k..]);
}

/// `md5`: the raw 16-byte digest (not hex), as ModSecurity.
pub(super) fn md5(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&Md5::digest(input));
}

/// `sha1`: the raw 20-byte digest (not hex), as ModSecurity.
pub(super) fn sha1(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&Sha1::digest(input));
}
