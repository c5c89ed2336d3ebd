//! Text normalisations: `cmdLine`, whitespace, trimming, NUL handling and comments.

use super::markup::is_c_space;

/// `cmdLine`, as ModSecurity's: deletes `\ " ' ^`; turns each run of blanks, `,` and
/// `;` into one space; deletes a space before `/` or `(`; lowercases ASCII.
pub(super) fn cmd_line(input: &[u8], out: &mut Vec<u8>) {
    let mut space = false;
    for &b in input {
        match b {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(b);
            }
            _ => {
                out.push(b.to_ascii_lowercase());
                space = false;
            }
        }
    }
}

/// `compressWhitespace`: each run of C-locale whitespace becomes one space.
pub(super) fn compress_whitespace(input: &[u8], out: &mut Vec<u8>) {
    let mut in_space = false;
    for &b in input {
        if is_c_space(b) {
            if !in_space {
                out.push(b' ');
                in_space = true;
            }
        } else {
            out.push(b);
            in_space = false;
        }
    }
}

/// `removeWhitespace`: deletes C-locale whitespace and the non-breaking space bytes
/// ModSecurity v3 deletes, 0xa0 and 0xc2 (so UTF-8 U+00A0 `C2 A0` disappears whole).
pub(super) fn remove_whitespace(input: &[u8], out: &mut Vec<u8>) {
    out.extend(
        input
            .iter()
            .copied()
            .filter(|&b| !is_c_space(b) && b != 0xa0 && b != 0xc2),
    );
}

/// `trimLeft`, `trimRight` and `trim` over C-locale whitespace.
pub(super) fn trim(input: &[u8], left: bool, right: bool, out: &mut Vec<u8>) {
    let mut s = input;
    if left {
        let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
        s = &s[start..];
    }
    if right {
        let end = s.iter().rposition(|&b| !is_c_space(b)).map_or(0, |p| p + 1);
        s = &s[..end];
    }
    out.extend_from_slice(s);
}

/// `replaceComments`: each C comment `/* ... */` becomes one space; an unterminated
/// comment runs to the end and becomes one space too. A stray `*/` stays.
pub(super) fn replace_comments(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut in_comment = false;
    let mut i = 0;
    while i < n {
        if !in_comment {
            if input[i] == b'/' && i + 1 < n && input[i + 1] == b'*' {
                in_comment = true;
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if input[i] == b'*' && i + 1 < n && input[i + 1] == b'/' {
            in_comment = false;
            out.push(b' ');
            i += 2;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
}

/// `removeComments`, with ModSecurity v3's exact output: `/* */` and `<!-- -->` comments
/// are removed; `--` or `#` outside a comment ends the value there. Its quirks are kept:
/// the byte right after a comment's end is copied unexamined (a NUL when the comment
/// closes at the very end), and an unterminated comment becomes one space.
pub(super) fn remove_comments(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let at = |k: usize| input.get(k).copied().unwrap_or(0);
    let mut in_comment = false;
    let mut i = 0;
    while i < n {
        if !in_comment {
            if input[i] == b'/' && at(i + 1) == b'*' {
                in_comment = true;
                i += 2;
            } else if input[i..].starts_with(b"<!--") {
                in_comment = true;
                i += 4;
            } else if input[i] == b'#' || input[i..].starts_with(b"--") {
                break;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if input[i] == b'*' && at(i + 1) == b'/' {
            in_comment = false;
            out.push(at(i + 2));
            i += 3;
        } else if input[i..].starts_with(b"-->") {
            in_comment = false;
            out.push(at(i + 3));
            i += 4;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
}

/// `removeCommentsChar`: deletes the comment markers `/*`, `*/`, `<!--`, `-->`, `--`
/// and `#`, keeping what is between them.
pub(super) fn remove_comments_char(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        let rest = &input[i..];
        if rest.starts_with(b"/*") || rest.starts_with(b"*/") {
            i += 2;
        } else if rest.starts_with(b"<!--") {
            i += 4;
        } else if rest.starts_with(b"-->") {
            i += 3;
        } else if rest.starts_with(b"--") {
            i += 2;
        } else if rest[0] == b'#' {
            i += 1;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
}
