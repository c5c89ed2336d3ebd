//! CRS regexes are written for PCRE in its default, non-UTF mode, where a pattern
//! matches bytes: `\x{e2}\x80\x99` is the three bytes of U+2019 in UTF-8. The regex
//! crate reads `\x{e2}` as the code point U+00E2 (two bytes in UTF-8) even with
//! Unicode off, so 942420's `\x{e2}\x80[\x98\x99]` (curly quotes in a cookie) and
//! 941310's `\x{bc}`/`\x{be}` (US-ASCII-mangled `<`/`>`) never matched what the server
//! receives. [`byte_escapes`] turns each such escape into the two-digit form, which is
//! a byte in the regex crate's bytes mode, as in PCRE.

use std::borrow::Cow;

/// `pattern` with every `\x{H}` or `\x{HH}` written `\xHH` (a byte, as PCRE reads it
/// without UTF). Escaped backslashes (`\\x{..}`) are left as they are, and so are
/// wider escapes: `\x{2019}` is an error in non-UTF PCRE, a code point here;
/// `\x{0e2}` (a byte to PCRE) does not occur in CRS.
pub fn byte_escapes(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains("\\x{") {
        return Cow::Borrowed(pattern);
    }
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        if let Some(digits) = short_brace_hex(&bytes[i + 1..]) {
            out.push_str(&pattern[copied..i]);
            out.push_str("\\x");
            if digits.len() == 1 {
                out.push('0');
            }
            out.push_str(digits);
            // `x{` + digits + `}`
            i += 1 + 2 + digits.len() + 1;
            copied = i;
        } else {
            // Whatever follows a backslash is escaped by it (`\\` included).
            i += 2;
        }
    }
    out.push_str(&pattern[copied.min(pattern.len())..]);
    Cow::Owned(out)
}

/// The one or two hex digits of `x{H}` / `x{HH}` at the start of `rest`.
fn short_brace_hex(rest: &[u8]) -> Option<&str> {
    let body = rest.strip_prefix(b"x{")?;
    let end = body.iter().position(|&b| b == b'}')?;
    let digits = &body[..end];
    if digits.is_empty() || digits.len() > 2 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    std::str::from_utf8(digits).ok()
}

#[cfg(test)]
mod tests {
    use super::byte_escapes;
    use crate::detect::crs::operator::compile_regex;

    #[test]
    fn short_brace_escapes_become_bytes() {
        assert_eq!(
            byte_escapes(r"\x{e2}\x80[\x{98}\x99]"),
            r"\xe2\x80[\x98\x99]"
        );
        assert_eq!(byte_escapes(r"a\x{9}b"), r"a\x09b");
        assert_eq!(byte_escapes(r"[\x{bc}-\x{BE}]"), r"[\xbc-\xBE]");
    }

    #[test]
    fn other_escapes_are_left_alone() {
        for p in [
            r"plain",
            r"\\x{e2}",
            r"\x{2019}",
            r"\x{}",
            r"\x{zz}",
            r"\x{e2",
            r"\\\\x{41}",
        ] {
            assert_eq!(byte_escapes(p), p, "{p}");
        }
        // An escaped backslash, then an escape to rewrite.
        assert_eq!(byte_escapes(r"\\\x{41}"), r"\\\x41");
        assert_eq!(byte_escapes("x{41}\\"), "x{41}\\");
    }

    proptest::proptest! {
        /// Any pattern text is rewritten without a panic; a rewrite only shortens it
        /// (`\x{e2}` to `\xe2`), and a pattern without `\x{` is left alone.
        #[test]
        fn any_pattern_is_rewritten_without_panic(p in "(\\\\|x|\\{|\\}|[0-9a-fA-F]|é|’){0,40}") {
            let out = byte_escapes(&p);
            proptest::prop_assert!(out.len() <= p.len());
            if !p.contains(r"\x{") {
                proptest::prop_assert_eq!(out.as_ref(), p.as_str());
            }
        }
    }

    #[test]
    fn crs_942420_matches_curly_quotes_as_utf8_bytes() {
        // The rule's own pattern (CRS v4.28.0): eight "special" characters in a cookie,
        // U+2019 counting as one.
        let rule = r"((?:(?:[!-\+\-:->@\[\]\^`\{-~]|\x{c2}\x{b4}|\x{e2}\x80[\x98\x99])[^!-\+\-:->@\[\]\^`\{-~]*?){8})";
        let quotes = "a\u{2019}b\u{2019}c\u{2019}d\u{2019}e\u{2019}f\u{2019}g\u{2019}h\u{2019}i";
        let as_written = compile_regex(rule).expect("compiles");
        assert!(
            !as_written.is_match(quotes.as_bytes()),
            "the regex crate's reading"
        );
        let fixed = compile_regex(&byte_escapes(rule)).expect("compiles");
        assert!(fixed.is_match(quotes.as_bytes()));
        // U+00E2 U+0080 U+0099 (what `\x{e2}` meant before) no longer counts.
        let latin = "a\u{e2}\u{80}\u{99}b".repeat(8);
        assert!(!fixed.is_match(latin.as_bytes()));
    }
}
