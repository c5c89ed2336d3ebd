//! Normalization before matching, because attackers encode to evade.
//!
//! Percent-decoding is repeated (double and triple encoding), overlong UTF-8 forms of
//! ASCII (`%c0%ae` for `.`) are folded, backslashes become slashes and NUL bytes are
//! dropped; IIS-style `%uXXXX` escapes are decoded too. Paths then have `//`, `/./` and
//! `/../` resolved. Rules see both these forms and the raw one; parameter values are
//! also seen with SQL comments folded to spaces ([`fold_sql_comments`]). Work is bounded: input is capped at [`MAX_NORMALIZE_BYTES`] and
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
    /// A `%uXXXX` escape was decoded.
    pub had_percent_u: bool,
}

/// Whether [`decode`] gives `raw` back unchanged with nothing revealed: within the
/// length cap, and no byte any decoding step would change. Most paths and values are
/// their own decoding, and then need no decoded copy.
pub fn decodes_to_itself(raw: &[u8], plus_is_space: bool) -> bool {
    raw.len() <= MAX_NORMALIZE_BYTES && !raw.iter().any(|&b| decoding_changes(b, plus_is_space))
}

/// Whether a decoding step could change byte `b` (or the bytes after it).
fn decoding_changes(b: u8, plus_is_space: bool) -> bool {
    matches!(b, b'%' | b'\\' | 0 | 0xC0 | 0xC1 | 0xE0) || (plus_is_space && b == b'+')
}

/// Decodes a value for matching; `plus_is_space` for query strings and form bodies.
pub fn decode(raw: &[u8], plus_is_space: bool) -> Decoded {
    let raw = &raw[..raw.len().min(MAX_NORMALIZE_BYTES)];
    // Most values hold no byte any step below would change: one pass says so, and
    // the value is its own decoding.
    if !raw.iter().any(|&b| decoding_changes(b, plus_is_space)) {
        return Decoded {
            text: raw.to_vec(),
            ..Decoded::default()
        };
    }
    decode_all(raw, plus_is_space)
}

/// [`decode`] step by step (`raw` already within [`MAX_NORMALIZE_BYTES`]).
fn decode_all(raw: &[u8], plus_is_space: bool) -> Decoded {
    let mut text = raw.to_vec();
    let mut rounds = 0;
    let mut had_percent_u = false;
    for _ in 0..MAX_DECODE_ROUNDS {
        if memchr::memchr(b'%', &text).is_none() {
            break;
        }
        let mut next = percent_decode(&text);
        if let Some(u) = percent_u_decode(&next) {
            next = u;
            had_percent_u = true;
        }
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
        had_percent_u,
    }
}

/// Decodes `%uXXXX` escapes (IIS, and ASP.NET's `Server.UrlDecode`) into UTF-8, or
/// `None` when there are none. Malformed escapes stay as they are.
fn percent_u_decode(input: &[u8]) -> Option<Vec<u8>> {
    let first =
        memchr::memmem::find(input, b"%u").or_else(|| memchr::memmem::find(input, b"%U"))?;
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut found = false;
    let mut i = first;
    while i < input.len() {
        if input[i] == b'%' && matches!(input.get(i + 1), Some(b'u' | b'U')) {
            let code = input
                .get(i + 2..i + 6)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32);
            if let Some(c) = code {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                found = true;
                i += 6;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    found.then_some(out)
}

/// Folds SQL comments to a space as MySQL reads them: `/**/` and `/* x */` separate
/// tokens, and a version comment `/*!50000UNION*/` is executed, so its content is
/// kept. Returns `None` when there is no complete comment. Linear in the input.
pub fn fold_sql_comments(text: &[u8]) -> Option<Vec<u8>> {
    let mut at = memchr::memmem::find(text, b"/*")?;
    memchr::memmem::find(&text[at + 2..], b"*/")?;
    let mut out = Vec::with_capacity(text.len());
    let mut from = 0;
    while let Some(end_rel) = memchr::memmem::find(&text[at + 2..], b"*/") {
        let end = at + 2 + end_rel;
        out.extend_from_slice(&text[from..at]);
        out.push(b' ');
        if text.get(at + 2) == Some(&b'!') {
            let inner = &text[at + 3..end];
            let digits = inner.iter().take_while(|b| b.is_ascii_digit()).count();
            out.extend_from_slice(&inner[digits..]);
            out.push(b' ');
        }
        from = end + 2;
        match memchr::memmem::find(&text[from..], b"/*") {
            Some(next) => at = from + next,
            None => break,
        }
    }
    out.extend_from_slice(&text[from..]);
    Some(out)
}

/// Folds overlong 2- and 3-byte UTF-8 encodings of ASCII into the ASCII byte
/// (`C0 AE` → `.`, `E0 80 AF` → `/`); returns whether any was found.
fn fold_overlong(text: &mut Vec<u8>) -> bool {
    // Nearly every value has no lead byte of an overlong form: no copy then.
    if !text.iter().any(|&b| b == 0xC0 || b == 0xC1 || b == 0xE0) {
        return false;
    }
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

/// Whether [`resolve_path`] gives `path` back unchanged (and it climbs nowhere): it
/// starts with `/`, and has no empty segment but the last and no `.` or `..` segment.
/// Nearly every path is already resolved, and then needs no resolved copy.
pub fn is_resolved(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/") else {
        return false;
    };
    let mut segments = rest.split(|&b| b == b'/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if (seg.is_empty() && !last) || seg == b"." || seg == b".." {
            return false;
        }
    }
    true
}

/// Resolves `//`, `/./` and `/../` in a decoded path (RFC 3986 §5.2.4). Returns the
/// resolved path and whether `..` tried to climb above the root.
pub fn resolve_path(path: &[u8]) -> (Vec<u8>, bool) {
    let mut escaped_root = false;
    let trailing_slash = path.ends_with(b"/") || path.ends_with(b"/.") || path.ends_with(b"/..");
    // `out` is the stack of kept segments, each written as `/segment`: `..` pops one by
    // cutting `out` at its last `/`.
    let mut out = Vec::with_capacity(path.len() + 1);
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => match memchr::memrchr(b'/', &out) {
                Some(last) => out.truncate(last),
                None => escaped_root = true,
            },
            s => {
                out.push(b'/');
                out.extend_from_slice(s);
            }
        }
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

/// Whether a query or form body has more than `max` parameters (the rest are not read).
pub fn params_over(query: &[u8], max: usize) -> bool {
    query
        .split(|&b| b == b'&' || b == b';')
        .filter(|p| !p.is_empty())
        .nth(max)
        .is_some()
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
    fn decodes_percent_u_escapes() {
        let d = decode(b"1%u0027%20OR%201=1", true);
        assert_eq!(d.text, b"1' OR 1=1");
        assert!(d.had_percent_u);
        assert_eq!(decode(b"%u2215etc", false).text, "\u{2215}etc".as_bytes());
        let bad = decode(b"%u00zz%u12", false);
        assert_eq!(bad.text, b"%u00zz%u12");
        assert!(!bad.had_percent_u);
    }

    #[test]
    fn percent_u_hidden_under_percent_encoding_is_decoded() {
        assert_eq!(decode(b"%25u003cscript", false).text, b"<script");
    }

    #[test]
    fn folds_sql_comments_as_mysql_reads_them() {
        assert_eq!(
            fold_sql_comments(b"1 union/**/select/**/1,2").as_deref(),
            Some(&b"1 union select 1,2"[..])
        );
        assert_eq!(
            fold_sql_comments(b"1 /*!50000union*/ /*!select*/ 1").as_deref(),
            Some(&b"1  union   select  1"[..])
        );
        assert_eq!(fold_sql_comments(b"no comment here"), None);
        assert_eq!(fold_sql_comments(b"files/*.txt"), None);
        assert_eq!(
            fold_sql_comments(b"a/*x*/b/*unterminated").as_deref(),
            Some(&b"a b/*unterminated"[..])
        );
    }

    /// Every string of up to 6 bytes over the bytes that matter, plus `%u` tails.
    fn small_strings(alphabet: &[u8]) -> Vec<Vec<u8>> {
        let mut all = vec![Vec::new()];
        let mut layer = vec![Vec::new()];
        for _ in 0..6 {
            layer = layer
                .iter()
                .flat_map(|s: &Vec<u8>| {
                    alphabet.iter().map(move |&b| {
                        let mut n = s.clone();
                        n.push(b);
                        n
                    })
                })
                .collect();
            all.extend(layer.iter().cloned());
        }
        all
    }

    /// The shortcut for values without a byte to decode gives what every step gives.
    #[test]
    fn identity_shortcut_equals_the_full_decoding() {
        for s in small_strings(b"%2e+\\\0\xc0\xaeu") {
            for plus in [false, true] {
                assert_eq!(decode(&s, plus), decode_all(&s, plus), "{s:?} plus={plus}");
            }
        }
    }

    #[test]
    fn comment_folding_and_percent_u_never_panic_on_short_inputs() {
        for s in small_strings(b"/*!1u%") {
            let _ = fold_sql_comments(&s);
            let _ = decode(&s, true);
        }
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
        assert_eq!(resolve_path(b"/a/b/.."), (b"/a/".to_vec(), false));
        assert_eq!(resolve_path(b"/a/../../b/."), (b"/b/".to_vec(), true));
        assert_eq!(resolve_path(b"a/..x/../.y/z"), (b"/a/.y/z".to_vec(), false));
        assert_eq!(resolve_path(b"//../"), (b"/".to_vec(), true));
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
    fn counts_parameters_over_the_cap() {
        assert!(!params_over(b"a=1&b=2", 2));
        assert!(params_over(b"a=1&b=2&c", 2));
        assert!(!params_over(b"a=1&&;b=2", 2));
    }

    #[test]
    fn splits_params_and_decodes_both_sides() {
        let p = params(b"id=1%27+OR+1%3D1&flag&x=%2e", 10);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].1.text, b"1' OR 1=1");
        assert_eq!(p[1].0.text, b"flag");
        assert_eq!(p[2].1.text, b".");
    }

    /// The fast-path checks agree with the full steps: a value said to decode to
    /// itself does, and a path said to be resolved is, on paths of every shape.
    #[test]
    fn fast_paths_agree_with_decoding_and_resolving() {
        let paths: [&[u8]; 24] = [
            b"/",
            b"",
            b"/a",
            b"/a/",
            b"/a//b",
            b"//",
            b"/./",
            b"/.",
            b"/..",
            b"/a/..",
            b"/a/./b",
            b"/a/b.c/d",
            b"a/b",
            b"*",
            b"/a/.b/..c",
            b"/%2e%2e/",
            b"/a\\b",
            b"/a+b",
            b"/a\0b",
            b"/\xc0\xae",
            b"/a/b/",
            b"/.hidden/",
            b"/a/...",
            b"/a/b//",
        ];
        for p in paths {
            for plus in [false, true] {
                if decodes_to_itself(p, plus) {
                    assert_eq!(
                        decode(p, plus),
                        Decoded {
                            text: p.to_vec(),
                            ..Decoded::default()
                        }
                    );
                }
            }
            let (resolved, escaped) = resolve_path(p);
            assert_eq!(
                is_resolved(p),
                resolved == p && !escaped,
                "{:?}",
                String::from_utf8_lossy(p)
            );
        }
        assert!(is_resolved(b"/a/b/"));
        assert!(!is_resolved(b"/a/../b"));
        assert!(!decodes_to_itself(
            &vec![b'a'; MAX_NORMALIZE_BYTES + 1],
            false
        ));
    }
}
