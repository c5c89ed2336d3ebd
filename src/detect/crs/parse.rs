//! SecLang text to directives: comments, continuation lines and Apache-style quoting.
//!
//! A directive is a name and its arguments. Lines ending in `\` continue on the next
//! line; `#` starts a comment line; arguments are separated by whitespace and may be
//! double-quoted, where `\"` is a literal quote and every other backslash is kept (the
//! regexes need them). Each directive remembers the line it starts on, so later errors
//! can name `file:line`.

use super::CrsError;

/// One directive with its arguments, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// 1-based line where the directive starts.
    pub line: usize,
}

/// Splits `text` (the contents of `file`) into directives.
pub fn directives(text: &str, file: &str) -> Result<Vec<Directive>, CrsError> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if logical.is_empty() {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            start = line_no;
        }
        if let Some(body) = line.strip_suffix('\\') {
            logical.push_str(body);
            continue;
        }
        logical.push_str(line);
        out.push(split(&logical, file, start)?);
        logical.clear();
    }
    if !logical.is_empty() {
        out.push(split(&logical, file, start)?);
    }
    Ok(out)
}

fn split(text: &str, file: &str, line: usize) -> Result<Directive, CrsError> {
    let err = |reason: &str| CrsError::Parse {
        file: file.to_string(),
        line,
        reason: reason.to_string(),
    };
    let mut words = Vec::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&'"') => {
                        word.push('"');
                        chars.next();
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => word.push(c),
                }
            }
            if !closed {
                return Err(err("unterminated double quote"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    let mut it = words.into_iter();
    let name = it.next().ok_or_else(|| err("empty directive"))?;
    Ok(Directive {
        name,
        args: it.collect(),
        line,
    })
}

/// Splits an action list at commas outside single quotes; each item is `(name, value)`
/// with the value's single quotes removed (`\'` kept as a quote).
pub fn actions(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut items = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted && chars.peek() == Some(&'\'') => {
                cur.push('\x01');
                chars.next();
            }
            '\'' => {
                quoted = !quoted;
                cur.push('\x02');
            }
            ',' if !quoted => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated single quote in actions".into());
    }
    items.push(cur);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let unq = |s: &str| s.replace('\x02', "").replace('\x01', "'");
        match item.split_once(':') {
            Some((n, v)) => out.push((unq(n).trim().to_string(), Some(unq(v.trim())))),
            None => out.push((unq(item), None)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_join_and_keep_the_starting_line() {
        let text =
            "# c\n\nSecRule ARGS \"@rx a\\\"b\\d\" \\\n    \"id:1,\\\n    pass\"\nSecMarker END\n";
        let d = directives(text, "f.conf").expect("parses");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "SecRule");
        assert_eq!(d[0].line, 3);
        assert_eq!(d[0].args[1], "@rx a\"b\\d");
        assert_eq!(d[0].args[2], "id:1,    pass");
        assert_eq!(d[1].line, 6);
        assert_eq!(d[1].args, vec!["END".to_string()]);
    }

    #[test]
    fn unterminated_quote_names_file_and_line() {
        let e = directives("\nSecRule ARGS \"@rx a", "x.conf").expect_err("unterminated");
        assert_eq!(e.to_string(), "x.conf:2: unterminated double quote");
    }

    #[test]
    fn actions_split_outside_single_quotes() {
        let a =
            actions("id:1, msg:'a, b', setvar:'tx.x=%{tx.y}',t:none,tag:'it\\'s'").expect("parses");
        assert_eq!(a[0], ("id".into(), Some("1".into())));
        assert_eq!(a[1], ("msg".into(), Some("a, b".into())));
        assert_eq!(a[2], ("setvar".into(), Some("tx.x=%{tx.y}".into())));
        assert_eq!(a[3], ("t".into(), Some("none".into())));
        assert_eq!(a[4], ("tag".into(), Some("it's".into())));
        assert!(actions("msg:'x").is_err());
    }
}
