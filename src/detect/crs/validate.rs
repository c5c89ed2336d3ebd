//! The byte-validation operators: `@validateByteRange`, `@validateUrlEncoding` and
//! `@validateUtf8Encoding`, with ModSecurity's semantics.
//!
//! These are pure functions over a value's bytes; the engine turns "not valid" into a
//! match. `ByteRanges` is parsed once at rule load into a 256-bit table, so a check is
//! one table lookup per byte.

/// The set of bytes an `@validateByteRange` argument allows, as a 256-bit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteRanges {
    bits: [u64; 4],
}

impl ByteRanges {
    /// Parses the operator argument: comma-separated decimal bytes or inclusive ranges,
    /// e.g. `1-255` or `9,10,13,32-126`. Blanks around parts are allowed. An empty part,
    /// a value above 255, a reversed range or anything not a number is an error, so a
    /// typo in a rule fails at load instead of silently allowing or rejecting bytes.
    pub fn parse(arg: &str) -> Result<ByteRanges, String> {
        let mut ranges = ByteRanges { bits: [0; 4] };
        for part in arg.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("empty range in byte range list {arg:?}"));
            }
            let (lo, hi) = match part.split_once('-') {
                Some((lo, hi)) => (parse_byte(lo.trim(), arg)?, parse_byte(hi.trim(), arg)?),
                None => {
                    let b = parse_byte(part, arg)?;
                    (b, b)
                }
            };
            if lo > hi {
                return Err(format!(
                    "reversed range {part:?} in byte range list {arg:?}"
                ));
            }
            for b in lo..=hi {
                ranges.bits[usize::from(b >> 6)] |= 1u64 << (b & 63);
            }
        }
        Ok(ranges)
    }

    /// Whether `b` is allowed.
    pub fn allows(&self, b: u8) -> bool {
        self.bits[usize::from(b >> 6)] & (1u64 << (b & 63)) != 0
    }

    /// Whether every byte of `value` is allowed; the operator matches when this is false.
    pub fn all_allowed(&self, value: &[u8]) -> bool {
        value.iter().all(|&b| self.allows(b))
    }
}

fn parse_byte(s: &str, arg: &str) -> Result<u8, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{s:?} is not a byte value in byte range list {arg:?}"
        ));
    }
    s.parse::<u8>()
        .map_err(|_| format!("{s:?} is above 255 in byte range list {arg:?}"))
}

/// ModSecurity's `@validateUrlEncoding` check: every `%` must be followed by two hex
/// digits (a `%` with fewer than two bytes after it is invalid too). Bytes other than
/// `%` are not examined, as in ModSecurity.
pub fn url_encoding_valid(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            match (value.get(i + 1), value.get(i + 2)) {
                (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// ModSecurity's `@validateUtf8Encoding` check: the value must be well-formed UTF-8.
/// Truncated sequences, stray continuation bytes, overlong forms (`C0 AF`, `E0 80 AF`),
/// UTF-16 surrogates (`ED A0 80`) and lead bytes `F5`-`FF` are invalid. Code points
/// above U+10FFFF (`F4 90 80 80`) are invalid too; ModSecurity v3 lets those through,
/// which is a bug, not a behaviour CRS relies on.
pub fn utf8_encoding_valid(value: &[u8]) -> bool {
    std::str::from_utf8(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_range_single_values_and_ranges() {
        let r = ByteRanges::parse("9,10,13,32-126").expect("parses");
        assert!(r.allows(9) && r.allows(10) && r.allows(13));
        assert!(!r.allows(11) && !r.allows(0) && !r.allows(31) && !r.allows(127));
        assert!(r.allows(32) && r.allows(126) && r.allows(b'a'));
        assert!(r.all_allowed(b"GET /index.html\r\n"));
        assert!(!r.all_allowed(b"a\x00b"));
        assert!(!r.all_allowed(b"caf\xc3\xa9"));
        assert!(r.all_allowed(b""));
    }

    #[test]
    fn byte_range_full_and_edges() {
        let r = ByteRanges::parse("1-255").expect("parses");
        assert!(!r.allows(0));
        assert!((1..=255u8).all(|b| r.allows(b)));
        let r = ByteRanges::parse("0-255").expect("parses");
        assert!((0..=255u8).all(|b| r.allows(b)));
        let r = ByteRanges::parse(" 38, 44 - 46 ,255").expect("blanks are allowed");
        assert!(r.allows(38) && r.allows(45) && r.allows(255) && !r.allows(47));
    }

    #[test]
    fn byte_range_crs_arguments_parse() {
        for arg in [
            "20,45-47,48-57,65-90,95,97-122",
            "32,34,38,42-59,61,65-90,95,97-122",
            "32-36,38-126",
            "38,44-46,48-58,61,65-90,95,97-122",
            "9,10,13,32-126,128-255",
        ] {
            let r = ByteRanges::parse(arg).expect("CRS argument parses");
            assert!(r.allows(b'a') && !r.allows(0), "{arg}");
        }
    }

    #[test]
    fn byte_range_rejects_bad_arguments() {
        for arg in ["", "xxx", "1-", "-5", "256", "10-5", "1,,2", "1-2-3", "+5"] {
            assert!(ByteRanges::parse(arg).is_err(), "{arg:?} must be rejected");
        }
    }

    #[test]
    fn url_encoding_checks_every_percent() {
        assert!(url_encoding_valid(b""));
        assert!(url_encoding_valid(b"plain text"));
        assert!(url_encoding_valid(b"a%20b%2Fc%ff"));
        assert!(!url_encoding_valid(b"%"));
        assert!(!url_encoding_valid(b"abc%2"));
        assert!(!url_encoding_valid(b"%g0"));
        assert!(!url_encoding_valid(b"%0g"));
        assert!(!url_encoding_valid(b"100%"));
        assert!(!url_encoding_valid(b"%20%%20"));
        // A valid %25 does not make the next "%" part of it.
        assert!(url_encoding_valid(b"%25%41"));
    }

    #[test]
    fn utf8_encoding_rejects_malformed_sequences() {
        assert!(utf8_encoding_valid(b""));
        assert!(utf8_encoding_valid("Grüße, 東京, 🎉".as_bytes()));
        assert!(utf8_encoding_valid(b"\xf4\x8f\xbf\xbf")); // U+10FFFF
        assert!(!utf8_encoding_valid(b"\xc0\xaf")); // overlong '/'
        assert!(!utf8_encoding_valid(b"\xe0\x80\xaf")); // overlong '/'
        assert!(!utf8_encoding_valid(b"\xf0\x80\x80\xaf")); // overlong '/'
        assert!(!utf8_encoding_valid(b"\xed\xa0\x80")); // surrogate
        assert!(!utf8_encoding_valid(b"\xf4\x90\x80\x80")); // above U+10FFFF
        assert!(!utf8_encoding_valid(b"\xf5\x80\x80\x80")); // restricted lead byte
        assert!(!utf8_encoding_valid(b"abc\xc3")); // truncated
        assert!(!utf8_encoding_valid(b"\x80abc")); // stray continuation
        assert!(!utf8_encoding_valid(b"\xc3\x28")); // bad continuation
        assert!(!utf8_encoding_valid(b"\xff"));
    }

    /// The operator cases of ModSecurity's unit tests (secrules-language-tests,
    /// `operators/validate*.json`, Apache-2.0), as (matches, input): a match means
    /// invalid.
    #[test]
    fn matches_modsecurity_operator_cases() {
        let url: [(bool, &[u8]); 14] = [
            (false, b""),
            (false, b"Hello%20World!"),
            (false, b"Hello+World!"),
            (false, b"HelloWorld!"),
            (false, b"%00Hello%20World!"),
            (false, b"Hello%20World!%00"),
            (false, b"%00"),
            (false, b"%ff"),
            (true, b"%0"),
            (true, b"%f"),
            (true, b"%"),
            (true, b"%0z"),
            (true, b"%z0"),
            (true, b"%0%"),
        ];
        for (matches, input) in url {
            assert_eq!(
                !url_encoding_valid(input),
                matches,
                "{}",
                input.escape_ascii()
            );
        }
        let utf8: [(bool, &[u8]); 7] = [
            (false, b""),
            (
                false,
                "Puedo comer vidrio, no me hace da\u{f1}o.".as_bytes(),
            ),
            (
                false,
                "\u{1f50}\u{3b1}\u{3bb}\u{3bf}\u{3bd} \u{2160}".as_bytes(),
            ),
            (true, b"\\0\xe4"),
            (true, b"\xe4"),
            (true, b"\x03\xbf"),
            (true, b"\xc9\x3b"),
        ];
        for (matches, input) in utf8 {
            assert_eq!(
                !utf8_encoding_valid(input),
                matches,
                "{}",
                input.escape_ascii()
            );
        }
        let ranges: [(bool, &str, &[u8]); 5] = [
            (false, "0-255", b""),
            (false, "0-255", b"abcdefghi"),
            (false, "97-105", b"abcdefghi"),
            (true, "97-105", b"abcdefghij"),
            (false, "0-255", b"\xd0\x90"),
        ];
        for (matches, arg, input) in ranges {
            let r = ByteRanges::parse(arg).expect("parses");
            assert_eq!(
                !r.all_allowed(input),
                matches,
                "{arg} {}",
                input.escape_ascii()
            );
        }
    }
}
