//! `@detectSQLi` and `@detectXSS`: thin wrappers over `libinjectionrs`, the pure-Rust port
//! of libinjection that ModSecurity and Coraza use for the same operators.
//!
//! The wrappers keep the crate's types out of the engine: SQLi yields libinjection's
//! fingerprint (ModSecurity puts it into `TX:0`), XSS a yes/no.

/// The libinjection fingerprint of `value` when libinjection classifies it as SQL
/// injection; `None` otherwise. The fingerprint is up to 5 token-type letters (for example
/// `s&sos`), NUL-padded to 8 bytes as libinjection stores it.
pub fn detect_sqli(value: &[u8]) -> Option<[u8; 8]> {
    let result = libinjectionrs::detect_sqli(value);
    if !result.is_injection() {
        return None;
    }
    let mut fp = [0u8; 8];
    if let Some(f) = result.fingerprint.as_ref() {
        let bytes = f.as_bytes();
        let n = bytes.len().min(fp.len());
        fp[..n].copy_from_slice(&bytes[..n]);
    }
    Some(fp)
}

/// The fingerprint's text: the bytes before the first NUL.
pub fn fingerprint_str(fp: &[u8; 8]) -> &[u8] {
    let end = fp.iter().position(|&b| b == 0).unwrap_or(fp.len());
    &fp[..end]
}

/// Whether libinjection classifies `value` as cross-site scripting.
pub fn detect_xss(value: &[u8]) -> bool {
    libinjectionrs::detect_xss(value).is_injection()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_sqli_payloads_are_detected_with_a_fingerprint() {
        for payload in [
            &b"1' OR '1'='1"[..],
            b"1 UNION SELECT username, password FROM users--",
            b"admin'--",
            b"1; DROP TABLE users",
            b"' or 1=1#",
            b"1 AND SLEEP(5)",
            // From ModSecurity's operator unit tests (operators/detectSQLi.json).
            b"ascii(substring(version() from 1 for 1))",
        ] {
            let fp = detect_sqli(payload);
            let Some(fp) = fp else {
                panic!("{:?} not detected", String::from_utf8_lossy(payload));
            };
            let text = fingerprint_str(&fp);
            assert!(!text.is_empty() && text.len() <= 5, "{text:?}");
            assert!(text.iter().all(u8::is_ascii_graphic));
        }
    }

    #[test]
    fn benign_english_is_not_sqli() {
        for text in [
            &b"O'Reilly"[..],
            b"drop off at union street",
            b"select board meeting minutes",
            b"order by date, please",
            b"hello world",
            b"",
            b"Caf\xc3\xa9 & Bar",
            b"this is not isqli",
        ] {
            assert_eq!(
                detect_sqli(text),
                None,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn xss_payloads_are_detected_and_prose_is_not() {
        for payload in [
            &b"<script>alert(1)</script>"[..],
            b"<img src=x onerror=alert(1)>",
            // From ModSecurity's operator unit tests (operators/detectXSS.json).
            b"<a href=\"javascript:alert(1)\">)",
            b"\"><svg onload=alert(1)>",
            b"<a href=\"javascript:alert(1)\">x</a>",
        ] {
            assert!(
                detect_xss(payload),
                "{:?}",
                String::from_utf8_lossy(payload)
            );
        }
        for text in [
            &b"O'Reilly"[..],
            b"5 < 6 and 7 > 3",
            b"this is not an XSS",
            b"Tom & Jerry",
            b"see you at 10am",
            b"",
        ] {
            assert!(!detect_xss(text), "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut buf = Vec::new();
        for _ in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 64) as usize;
            buf.clear();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Bias towards SQL/HTML punctuation so the tokenizers see their edge cases.
                const ALPHABET: &[u8] = b"'\"<>=/-#;()*&%\\ \t\n0aZsOR\x00\xc3\xff";
                buf.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            let _ = detect_sqli(&buf);
            let _ = detect_xss(&buf);
        }
    }
}
