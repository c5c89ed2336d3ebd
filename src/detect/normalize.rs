//! Normalization before matching, because attackers encode to evade.
//!
//! Percent-decoding is repeated (double and triple encoding), overlong UTF-8 forms of
//! ASCII (`%c0%ae` for `.`) are folded, backslashes become slashes and NUL bytes are
//! dropped; paths then have `//`, `/./` and `/../` resolved. Rules see both these forms
//! and the raw one. Work is bounded: input is capped at [`MAX_NORMALIZE_BYTES`] and
//! decoding stops after [`MAX_DECODE_ROUNDS`] rounds.

use crate::http::uri::percent_decode;

/// Longer input is cut before normalizing (URIs beyond this are themselves suspicious).
pub const MAX_NORMALIZE_BYTES: usize = 16 * 1024;
/// Percent-decoding rounds (3 covers triple encoding; more is counted as evasion).
pub const MAX_DECODE_ROUNDS: usize = 3;

/// A value decoded for matching, with what decoding revealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Percent-decoded (repeatedly), overlong UTF-8 folded, `\` → `/`, NUL removed.
    pub text: Vec<u8>,
    /// How many percent-decoding rounds changed the value (2+ = double encoding).
    pub rounds: usize,
    /// A NUL byte was present after decoding.
    pub had_nul: bool,
    /// An overlong UTF-8 sequence was present.
    pub had_overlong: bool,
}

/// Decodes a value for matching; `plus_is_space` for query strings and form bodies.
pub fn decode(raw: &[u8], plus_is_space: bool) -> Decoded {
    let raw = &raw[..raw.len().min(MAX_NORMALIZE_BYTES)];
    let mut text = raw.to_vec();
    let mut rounds = 0;
    for _ in 0..MAX_DECODE_ROUNDS {
        if memchr::memchr(b'%', &text).is_none() {
            break;
        }
        let next = percent_decode(&text);
        if next == text {
            break;
        }
        text = next;
        rounds += 1;
    }
    if plus_is_space {
        for b in text.iter_mut() {
            if *b == b'+' {
                *b = b' ';
            }
        }
    }
    let had_overlong = fold_overlong(&mut text);
    let had_nul = text.contains(&0);
    text.retain(|&b| b != 0);
    for b in text.iter_mut() {
        if *b == b'\\' {
            *b = b'/';
        }
    }
    Decoded {
        text,
        rounds,
        had_nul,
        had_overlong,
    }
}

/// Folds overlong 2- and 3-byte UTF-8 encodings of ASCII into the ASCII byte
/// (`C0 AE` → `.`, `E0 80 AF` → `/`); returns whether any was found.
fn fold_overlong(text: &mut Vec<u8>) -> bool {
    let mut out = Vec::with_capacity(text.len());
    let mut found = false;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if (b == 0xC0 || b == 0xC1) && i + 1 < text.len() && text[i + 1] & 0xC0 == 0x80 {
            out.push(((b & 0x1F) << 6) | (text[i + 1] & 0x3F));
            found = true;
            i += 2;
        } else if b == 0xE0
            && i + 2 < text.len()
            && text[i + 1] & 0xE0 == 0x80
            && text[i + 2] & 0xC0 == 0x80
        {
            out.push(((text[i + 1] & 0x3F) << 6) | (text[i + 2] & 0x3F));
            found = true;
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if found {
        *text = out;
    }
    found
}

/// Resolves `//`, `/./` and `/../` in a decoded path (RFC 3986 §5.2.4). Returns the
/// resolved path and whether `..` tried to climb above the root.
pub fn resolve_path(path: &[u8]) -> (Vec<u8>, bool) {
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut escaped_root = false;
    let trailing_slash = path.ends_with(b"/") || path.ends_with(b"/.") || path.ends_with(b"/..");
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if segments.pop().is_none() {
                    escaped_root = true;
                }
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() || trailing_slash {
        out.push(b'/');
    }
    (out, escaped_root)
}

/// Splits a raw request target into path and query (without `?`); drops a fragment.
pub fn split_target(uri: &[u8]) -> (&[u8], Option<&[u8]>) {
    let uri = match memchr::memchr(b'#', uri) {
        Some(i) => &uri[..i],
        None => uri,
    };
    match memchr::memchr(b'?', uri) {
        Some(i) => (&uri[..i], Some(&uri[i + 1..])),
        None => (uri, None),
    }
}

/// Parameter pairs of a query string or form body, each side decoded; at most
/// `max` pairs.
pub fn params(query: &[u8], max: usize) -> Vec<(Decoded, Decoded)> {
    query
        .split(|&b| b == b'&' || b == b';')
        .filter(|p| !p.is_empty())
        .take(max)
        .map(|pair| {
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            (decode(name, true), decode(value, true))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_double_encoding_and_counts_rounds() {
        let d = decode(b"/%252e%252e%252fetc/passwd", false);
        assert_eq!(d.text, b"/../etc/passwd");
        assert_eq!(d.rounds, 2);
    }

    #[test]
    fn folds_overlong_utf8_and_backslashes() {
        let d = decode(b"/%c0%ae%c0%ae%c0%afetc\\passwd", false);
        assert_eq!(d.text, b"/../etc/passwd");
        assert!(d.had_overlong);
    }

    #[test]
    fn drops_nul_and_remembers_it() {
        let d = decode(b"/shell.php%00.jpg", false);
        assert_eq!(d.text, b"/shell.php.jpg");
        assert!(d.had_nul);
    }

    #[test]
    fn plus_is_space_only_in_queries() {
        assert_eq!(decode(b"a+b", true).text, b"a b");
        assert_eq!(decode(b"a+b", false).text, b"a+b");
    }

    #[test]
    fn resolves_dot_segments_and_notes_escape_above_root() {
        assert_eq!(resolve_path(b"/a//b/./c/../d"), (b"/a/b/d".to_vec(), false));
        assert_eq!(
            resolve_path(b"/../../etc/passwd"),
            (b"/etc/passwd".to_vec(), true)
        );
        assert_eq!(resolve_path(b"/admin/"), (b"/admin/".to_vec(), false));
        assert_eq!(resolve_path(b""), (b"/".to_vec(), false));
    }

    #[test]
    fn decoding_is_bounded() {
        let mut deep = b"%".to_vec();
        for _ in 0..10 {
            deep = percent_encode_all(&deep);
        }
        let d = decode(&deep, false);
        assert_eq!(d.rounds, MAX_DECODE_ROUNDS);
        let huge = vec![b'%'; MAX_NORMALIZE_BYTES * 4];
        assert!(decode(&huge, false).text.len() <= MAX_NORMALIZE_BYTES);
    }

    fn percent_encode_all(b: &[u8]) -> Vec<u8> {
        b.iter()
            .flat_map(|c| format!("%{c:02X}").into_bytes())
            .collect()
    }

    #[test]
    fn splits_params_and_decodes_both_sides() {
        let p = params(b"id=1%27+OR+1%3D1&flag&x=%2e", 10);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].1.text, b"1' OR 1=1");
        assert_eq!(p[1].0.text, b"flag");
        assert_eq!(p[2].1.text, b".");
    }
}
