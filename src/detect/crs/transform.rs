//! SecLang transformations (`t:name`), with ModSecurity v2/v3 semantics and edge cases.
//!
//! Each transformation reads a value and writes its transformed form into a reused
//! buffer, so evaluation allocates nothing per value in steady state.

/// One transformation, as named in a rule's `t:` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transform {
    Base64Decode,
    Base64DecodeExt,
    CmdLine,
    CompressWhitespace,
    CssDecode,
    EscapeSeqDecode,
    HexDecode,
    HexEncode,
    HtmlEntityDecode,
    JsDecode,
    Length,
    Lowercase,
    Md5,
    NormalizePath,
    NormalizePathWin,
    RemoveComments,
    RemoveCommentsChar,
    RemoveNulls,
    RemoveWhitespace,
    ReplaceComments,
    ReplaceNulls,
    Sha1,
    Trim,
    TrimLeft,
    TrimRight,
    Uppercase,
    UrlDecode,
    UrlDecodeUni,
    UrlEncode,
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

    /// Writes the transformed `input` into `out` (cleared first).
    pub fn apply(self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        match self {
            Transform::Lowercase => out.extend(input.iter().map(u8::to_ascii_lowercase)),
            Transform::Uppercase => out.extend(input.iter().map(u8::to_ascii_uppercase)),
            Transform::RemoveNulls => out.extend(input.iter().copied().filter(|&b| b != 0)),
            Transform::Length => out.extend_from_slice(input.len().to_string().as_bytes()),
            // Placeholder until the full implementations land: identity.
            _ => out.extend_from_slice(input),
        }
    }
}
