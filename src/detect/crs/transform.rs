//! SecLang transformations (`t:name`), with ModSecurity v2/v3 semantics and edge cases.
//!
//! Each transformation reads a value and writes its transformed form into a reused
//! buffer, so evaluation allocates nothing per value in steady state. Every
//! transformation runs in time linear in its input, never panics on any bytes, and
//! bounds its output: at most the input length for the decoders and filters, 4 times it
//! for `utf8toUnicode`, 3 times for `urlEncode`, twice for `hexEncode`, and a fixed size
//! for `length`, `md5` and `sha1`.
//!
//! The semantics are libmodsecurity v3's (byte for byte, quirks included) where CRS's
//! regression tests depend on them; where v3 has a plain bug (out-of-bounds reads,
//! truncation at a NUL) the behaviour of ModSecurity v2 is taken. The tests check each
//! transformation against the input/output pairs of ModSecurity's own unit tests.
//!
//! Deployment settings that change a transformation are fixed to what ModSecurity's
//! recommended configuration (and the CRS reference containers) use: `urlDecodeUni`
//! folds `%uXXXX` with the code page 20127 best-fit table of
//! `SecUnicodeMapFile unicode.mapping 20127`.

mod codec;
mod markup;
mod path;
mod text;
mod unicode_map;
mod url;
#[cfg(test)]
mod edge_cases;
#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;

/// Two reused buffers for running a chain of transformations without allocating: each
/// step reads one and writes the other.
#[derive(Debug, Default)]
pub struct ChainBuffers {
    current: Vec<u8>,
    next: Vec<u8>,
}

/// Runs `chain` in order over `input` and returns the final value: `input` itself for an
/// empty chain, otherwise a view into `bufs`.
pub fn apply_chain<'a>(
    chain: &[Transform],
    input: &'a [u8],
    bufs: &'a mut ChainBuffers,
) -> &'a [u8] {
    let Some((first, rest)) = chain.split_first() else {
        return input;
    };
    first.apply(input, &mut bufs.current);
    for tf in rest {
        tf.apply(&bufs.current, &mut bufs.next);
        std::mem::swap(&mut bufs.current, &mut bufs.next);
    }
    &bufs.current
}

/// One transformation, as named in a rule's `t:` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transform {
    /// Base64 to bytes, stopping at the first byte outside the alphabet.
    Base64Decode,
    /// Forgiving base64: bytes outside the alphabet are skipped.
    Base64DecodeExt,
    /// Shell-evasion normaliser: drops `\ " ' ^`, folds separators, lowercases.
    CmdLine,
    /// Each whitespace run to one space.
    CompressWhitespace,
    /// CSS 2 backslash escapes.
    CssDecode,
    /// ANSI C escape sequences.
    EscapeSeqDecode,
    /// Hex pairs to bytes.
    HexDecode,
    /// Bytes to lowercase hex pairs.
    HexEncode,
    /// HTML numeric entities and `quot amp lt gt nbsp`, one byte each.
    HtmlEntityDecode,
    /// JavaScript escapes (`\uHHHH`, `\xHH`, octal, C letters).
    JsDecode,
    /// The value's byte length, in decimal.
    Length,
    /// ASCII lowercase.
    Lowercase,
    /// Raw MD5 digest (16 bytes).
    Md5,
    /// Resolves `.`, `..` and repeated `/` in a path.
    NormalizePath,
    /// `NormalizePath` with `\` as a separator too.
    NormalizePathWin,
    /// Removes `/* */` and `<!-- -->` comments, cuts at `--` or `#`.
    RemoveComments,
    /// Deletes comment markers only.
    RemoveCommentsChar,
    /// Deletes NUL bytes.
    RemoveNulls,
    /// Deletes whitespace and non-breaking space bytes.
    RemoveWhitespace,
    /// Each `/* */` comment to one space.
    ReplaceComments,
    /// Each NUL byte to a space.
    ReplaceNulls,
    /// Raw SHA-1 digest (20 bytes).
    Sha1,
    /// Strips leading and trailing whitespace.
    Trim,
    /// Strips leading whitespace.
    TrimLeft,
    /// Strips trailing whitespace.
    TrimRight,
    /// ASCII uppercase.
    Uppercase,
    /// `%XX` and `+` decoding; invalid escapes kept.
    UrlDecode,
    /// `UrlDecode` plus IIS `%uXXXX`, folded to ASCII as ModSecurity does.
    UrlDecodeUni,
    /// Percent-encodes all but letters, digits and `*`.
    UrlEncode,
    /// UTF-8 sequences to `%uXXXX` text.
    Utf8ToUnicode,
}

impl Transform {
    /// The transformation named `name` (case-insensitive, as ModSecurity accepts
    /// `base64decode` for `base64Decode`); `None` for an unknown name. `none` is not a
    /// transformation but a reset, handled by the rule parser.
    pub fn from_name(name: &str) -> Option<Transform> {
        use Transform::*;
        let t = match name.to_ascii_lowercase().as_str() {
            "base64decode" => Base64Decode,
            "base64decodeext" => Base64DecodeExt,
            "cmdline" => CmdLine,
            "compresswhitespace" => CompressWhitespace,
            "cssdecode" => CssDecode,
            "escapeseqdecode" => EscapeSeqDecode,
            "hexdecode" => HexDecode,
            "hexencode" => HexEncode,
            "htmlentitydecode" => HtmlEntityDecode,
            "jsdecode" => JsDecode,
            "length" => Length,
            "lowercase" => Lowercase,
            "md5" => Md5,
            "normalizepath" | "normalisepath" => NormalizePath,
            "normalizepathwin" | "normalisepathwin" => NormalizePathWin,
            "removecomments" => RemoveComments,
            "removecommentschar" => RemoveCommentsChar,
            "removenulls" => RemoveNulls,
            "removewhitespace" => RemoveWhitespace,
            "replacecomments" => ReplaceComments,
            "replacenulls" => ReplaceNulls,
            "sha1" => Sha1,
            "trim" => Trim,
            "trimleft" => TrimLeft,
            "trimright" => TrimRight,
            "uppercase" => Uppercase,
            "urldecode" => UrlDecode,
            "urldecodeuni" => UrlDecodeUni,
            "urlencode" => UrlEncode,
            "utf8tounicode" => Utf8ToUnicode,
            _ => return None,
        };
        Some(t)
    }

    /// The transformation's name as ModSecurity documents it, for logs and `rules check`.
    pub fn name(self) -> &'static str {
        use Transform::*;
        match self {
            Base64Decode => "base64Decode",
            Base64DecodeExt => "base64DecodeExt",
            CmdLine => "cmdLine",
            CompressWhitespace => "compressWhitespace",
            CssDecode => "cssDecode",
            EscapeSeqDecode => "escapeSeqDecode",
            HexDecode => "hexDecode",
            HexEncode => "hexEncode",
            HtmlEntityDecode => "htmlEntityDecode",
            JsDecode => "jsDecode",
            Length => "length",
            Lowercase => "lowercase",
            Md5 => "md5",
            NormalizePath => "normalizePath",
            NormalizePathWin => "normalizePathWin",
            RemoveComments => "removeComments",
            RemoveCommentsChar => "removeCommentsChar",
            RemoveNulls => "removeNulls",
            RemoveWhitespace => "removeWhitespace",
            ReplaceComments => "replaceComments",
            ReplaceNulls => "replaceNulls",
            Sha1 => "sha1",
            Trim => "trim",
            TrimLeft => "trimLeft",
            TrimRight => "trimRight",
            Uppercase => "uppercase",
            UrlDecode => "urlDecode",
            UrlDecodeUni => "urlDecodeUni",
            UrlEncode => "urlEncode",
            Utf8ToUnicode => "utf8toUnicode",
        }
    }

    /// Writes the transformed `input` into `out` (cleared first). `out` is the caller's
    /// reused buffer; nothing else is allocated.
    pub fn apply(self, input: &[u8], out: &mut Vec<u8>) {
        use Transform::*;
        out.clear();
        match self {
            Base64Decode => codec::base64_decode(input, out),
            Base64DecodeExt => codec::base64_decode_ext(input, out),
            CmdLine => text::cmd_line(input, out),
            CompressWhitespace => text::compress_whitespace(input, out),
            CssDecode => markup::css_decode(input, out),
            EscapeSeqDecode => markup::escape_seq_decode(input, out),
            HexDecode => codec::hex_decode(input, out),
            HexEncode => codec::hex_encode(input, out),
            HtmlEntityDecode => markup::html_entity_decode(input, out),
            JsDecode => markup::js_decode(input, out),
            Length => codec::length(input, out),
            Lowercase => out.extend(input.iter().map(u8::to_ascii_lowercase)),
            Md5 => codec::md5(input, out),
            NormalizePath | NormalizePathWin => {
                out.extend_from_slice(input);
                path::normalize_path(out, self == NormalizePathWin);
            }
            RemoveComments => text::remove_comments(input, out),
            RemoveCommentsChar => text::remove_comments_char(input, out),
            RemoveNulls => out.extend(input.iter().copied().filter(|&b| b != 0)),
            RemoveWhitespace => text::remove_whitespace(input, out),
            ReplaceComments => text::replace_comments(input, out),
            ReplaceNulls => out.extend(input.iter().map(|&b| if b == 0 { b' ' } else { b })),
            Sha1 => codec::sha1(input, out),
            Trim => text::trim(input, true, true, out),
            TrimLeft => text::trim(input, true, false, out),
            TrimRight => text::trim(input, false, true, out),
            Uppercase => out.extend(input.iter().map(u8::to_ascii_uppercase)),
            UrlDecode => url::url_decode(input, out),
            UrlDecodeUni => url::url_decode_uni(input, out, true),
            UrlEncode => url::url_encode(input, out),
            Utf8ToUnicode => url::utf8_to_unicode(input, out),
        }
    }

    /// The most bytes `apply` can write for an input of `len` bytes, so a caller can cap
    /// values before transforming and size buffers once.
    pub fn max_output_len(self, len: usize) -> usize {
        use Transform::*;
        match self {
            Utf8ToUnicode => len.saturating_mul(4),
            UrlEncode => len.saturating_mul(3),
            HexEncode => len.saturating_mul(2),
            Length => 20,
            Md5 => 16,
            Sha1 => 20,
            _ => len,
        }
    }
}
