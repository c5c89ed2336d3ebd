//! Header parameters (`form-data; name="f"; filename="a.pdf"`) split the way servers
//! split them, so a quoted `;` or a single-quoted value cannot hide a filename.
//!
//! Quoting follows PHP's rfc1867 reader, the most permissive one in use: a value may be
//! quoted with `"` (RFC 7578) or `'`, a backslash escapes the quote or itself inside
//! quotes, and a `;` inside quotes does not end the parameter. RFC 5987 extended values
//! (`filename*=UTF-8''shell.php`) are decoded by [`decode_ext_value`]. Parameters per
//! header are capped at [`MAX_PARAMS`]; the rest are counted, never read.

use super::uri::percent_decode;

/// Parameters read from one header value; more are counted as dropped.
pub const MAX_PARAMS: usize = 16;

/// One `name=value` parameter: the name lowercased, the value unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: String,
}

/// Splits a header value into its parameters (the leading token, such as `form-data`,
/// has no `=` and is skipped). Returns the parameters and how many were dropped.
pub fn split_params(value: &str) -> (Vec<Param>, u32) {
    let mut params = Vec::new();
    let mut dropped = 0u32;
    for segment in segments(value) {
        let Some((name, raw)) = segment.split_once('=') else {
            continue;
        };
        if params.len() >= MAX_PARAMS {
            dropped = dropped.saturating_add(1);
            continue;
        }
        params.push(Param {
            name: name.trim().to_ascii_lowercase(),
            value: unquote(raw.trim()),
        });
    }
    (params, dropped)
}

/// Splits on `;` outside `"` or `'` quotes.
fn segments(value: &str) -> impl Iterator<Item = &str> {
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        if start > bytes.len() {
            return None;
        }
        while i < bytes.len() {
            match bytes[i] {
                b';' => {
                    let seg = &value[start..i];
                    i += 1;
                    start = i;
                    return Some(seg);
                }
                q @ (b'"' | b'\'') => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != q {
                        i += if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&q) {
                            2
                        } else {
                            1
                        };
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        let seg = value.get(start..).unwrap_or_default();
        start = bytes.len() + 1;
        Some(seg)
    })
}

/// A parameter value without its quotes; backslash escapes inside quotes are undone.
fn unquote(raw: &str) -> String {
    let Some(q) = raw.chars().next().filter(|&c| c == '"' || c == '\'') else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw[1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == q {
            break;
        }
        if c == '\\' && chars.peek().is_some_and(|&n| n == q || n == '\\') {
            if let Some(n) = chars.next() {
                out.push(n);
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Decodes an RFC 5987 extended value (`charset'language'percent-encoded`); a value
/// without the two quotes is taken as percent-encoded text.
pub fn decode_ext_value(value: &str) -> String {
    let encoded = match value.splitn(3, '\'').collect::<Vec<_>>().as_slice() {
        [_, _, text] => *text,
        _ => value,
    };
    String::from_utf8_lossy(&percent_decode(encoded.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(value: &str, name: &str) -> Vec<String> {
        split_params(value)
            .0
            .into_iter()
            .filter(|p| p.name == name)
            .map(|p| p.value)
            .collect()
    }

    #[test]
    fn a_quoted_semicolon_does_not_end_the_filename() {
        assert_eq!(
            get(
                r#"form-data; name="f"; filename="Plans; 2026.pdf""#,
                "filename"
            ),
            vec!["Plans; 2026.pdf"]
        );
        assert_eq!(
            get(r#"form-data; filename="shell;.php""#, "filename"),
            vec!["shell;.php"]
        );
    }

    #[test]
    fn single_quotes_quote_as_php_reads_them() {
        assert_eq!(
            get("form-data; name='f'; filename='permit.pdf'", "filename"),
            vec!["permit.pdf"]
        );
        assert_eq!(
            get("form-data; filename='a;b.pdf'", "filename"),
            vec!["a;b.pdf"]
        );
        // An apostrophe inside double quotes is just a character.
        assert_eq!(
            get(r#"form-data; filename="O'Neil.pdf""#, "filename"),
            vec!["O'Neil.pdf"]
        );
    }

    #[test]
    fn backslash_escapes_the_quote_inside_quotes() {
        assert_eq!(
            get(r#"form-data; filename="a\"b.php""#, "filename"),
            vec![r#"a"b.php"#]
        );
    }

    #[test]
    fn every_occurrence_of_a_parameter_is_returned() {
        assert_eq!(
            get(
                r#"form-data; filename="a.pdf"; filename="b.php""#,
                "filename"
            ),
            vec!["a.pdf", "b.php"]
        );
    }

    #[test]
    fn parameters_are_capped_and_counted() {
        let value: String = (0..100).map(|i| format!("; p{i}=v")).collect();
        let (params, dropped) = split_params(&value);
        assert_eq!(params.len(), MAX_PARAMS);
        assert_eq!(dropped as usize, 100 - MAX_PARAMS);
    }

    #[test]
    fn decodes_rfc5987_extended_values() {
        assert_eq!(decode_ext_value("UTF-8''shell.php"), "shell.php");
        assert_eq!(
            decode_ext_value("utf-8'en'%E2%82%AC%20rates.pdf"),
            "€ rates.pdf"
        );
        assert_eq!(decode_ext_value("shell%2ephp"), "shell.php");
    }

    #[test]
    fn no_short_input_panics() {
        let alphabet = [";", "=", "\"", "'", "\\", "a", "é"];
        let mut layer = vec![String::new()];
        for _ in 0..5 {
            layer = layer
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            for s in &layer {
                let _ = split_params(s);
                let _ = decode_ext_value(s);
            }
        }
    }

    #[test]
    fn unterminated_quotes_do_not_panic() {
        assert_eq!(get("form-data; filename=\"abc", "filename"), vec!["abc"]);
        assert_eq!(get("form-data; filename='", "filename"), vec![""]);
        assert_eq!(get(";;;=;'\\", "x"), Vec::<String>::new());
    }
}
