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
    raw.len() <= MAX_NORMALIZE_BYTES && !any_decoding_change(raw, plus_is_space)
}

/// Whether some byte of `raw` is one [`decoding_changes`], eight bytes at a time: a
/// word with no high byte, no zero byte and no `%`, `\` (or `+`) has none, and most
/// words are such; any other word is checked byte by byte.
fn any_decoding_change(raw: &[u8], plus_is_space: bool) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let zero = |y: u64| y.wrapping_sub(ONES) & !y & HIGH;
    let plus = if plus_is_space { u64::from(b'+') } else { 0 } * ONES;
    let mut words = raw.chunks_exact(8);
    for w in &mut words {
        let Ok(bytes) = <[u8; 8]>::try_from(w) else {
            continue;
        };
        let x = u64::from_le_bytes(bytes);
        let suspect = x & HIGH != 0
            || zero(x) | zero(x ^ (u64::from(b'%') * ONES)) | zero(x ^ (u64::from(b'\\') * ONES))
                != 0
            || (plus_is_space && zero(x ^ plus) != 0);
        if suspect && w.iter().any(|&b| decoding_changes(b, plus_is_space)) {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| decoding_changes(b, plus_is_space))
}

/// Whether a decoding step could change byte `b` (or the bytes after it).
fn decoding_changes(b: u8, plus_is_space: bool) -> bool {
    matches!(b, b'%' | b'\\' | 0 | 0xC0 | 0xC1 | 0xE0) || (plus_is_space && b == b'+')
}

/// Decodes a value for matching; `plus_is_space` for query strings and form bodies.
pub fn decode(raw: &[u8], plus_is_space: bool) -> Decoded {
    let mut out = Decoded::default();
    decode_into(raw, plus_is_space, &mut out);
    out
}

/// [`decode`] into `out`, whose buffer is reused: parameters are decoded on every
/// request that has some, and a fresh buffer per name and value was most of their cost.
pub fn decode_into(raw: &[u8], plus_is_space: bool, out: &mut Decoded) {
    let raw = raw.get(..raw.len().min(MAX_NORMALIZE_BYTES)).unwrap_or(raw);
    // Most values hold no byte any step below would change: one pass says so, and
    // the value is its own decoding.
    if !any_decoding_change(raw, plus_is_space) {
        out.text.clear();
        out.text.extend_from_slice(raw);
        out.rounds = 0;
        out.had_nul = false;
        out.had_overlong = false;
        out.had_percent_u = false;
        return;
    }
    *out = decode_all(raw, plus_is_space);
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
    // Most values have no `*` at all: a byte search says so before a substring
    // search is set up.
    memchr::memchr(b'*', text)?;
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
    // One search for whichever comes first (most targets have neither); a `?` after
    // the `#` is the fragment's.
    let Some(i) = memchr::memchr2(b'#', b'?', uri) else {
        return (uri, None);
    };
    let path = uri.get(..i).unwrap_or_default();
    if uri.get(i) == Some(&b'#') {
        return (path, None);
    }
    let rest = uri.get(i + 1..).unwrap_or_default();
    let query = match memchr::memchr(b'#', rest) {
        Some(j) => rest.get(..j).unwrap_or_default(),
        None => rest,
    };
    (path, Some(query))
}

/// Parameter pairs of a query string or form body, each side decoded; at most
/// `max` pairs.
pub fn params(query: &[u8], max: usize) -> Vec<(Decoded, Decoded)> {
    let mut out = Vec::new();
    let n = params_into(query, max, &mut out);
    out.truncate(n);
    out
}

/// [`params`] into `out`, reusing the pairs (and their buffers) it holds: the first
/// `n` pairs are the parameters, `n` returned; pairs past them are kept as spare room.
pub fn params_into(query: &[u8], max: usize, out: &mut Vec<(Decoded, Decoded)>) -> usize {
    let mut n = 0;
    for pair in query
        .split(|&b| b == b'&' || b == b';')
        .filter(|p| !p.is_empty())
        .take(max)
    {
        let (name, value) = match memchr::memchr(b'=', pair) {
            Some(i) => (
                pair.get(..i).unwrap_or_default(),
                pair.get(i + 1..).unwrap_or_default(),
            ),
            None => (pair, &b""[..]),
        };
        if out.len() <= n {
            out.push(Default::default());
        }
        if let Some((dn, dv)) = out.get_mut(n) {
            decode_into(name, true, dn);
            decode_into(value, true, dv);
        }
        n += 1;
    }
    n
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
#[path = "normalize_tests.rs"]
mod tests;
