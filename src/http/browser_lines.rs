//! Response header lines regrouped the way browsers read them, before the ordinary
//! lenient header reader sees them. Used only for responses that the strict parser
//! refused. Each rule is one the HTTP Evader cases show browsers applying:
//! - NUL bytes in a header name are dropped (`Transfer\0-Encoding`, cases 291-293,
//!   316-317, 335-336);
//! - a name on a line of its own continues on the next, folded, lines
//!   (`Transfer-Encoding\r\n :chunked`, cases 296-300, 318-319, 337-338);
//!
//! Lines are bounded by the head itself ([`super::parse::MAX_HEAD_BYTES`]).

use super::parse::is_token_char;

/// The head's header lines (after the status line), regrouped, and whether any rule
/// changed them (an anomaly the caller counts).
pub fn regroup<'a>(lines: impl Iterator<Item = &'a [u8]>) -> (Vec<Vec<u8>>, bool) {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut changed = false;
    // The last line was a name without a colon: continuations complete it.
    let mut pending_name = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let indented = line[0] == b' ' || line[0] == b'\t';
        let trimmed = trim(line);
        if indented && pending_name {
            if let Some(last) = out.last_mut() {
                changed = true;
                last.extend_from_slice(trimmed);
                pending_name = memchr::memchr(b':', last).is_none();
            }
            continue;
        }
        if trimmed.is_empty() {
            // A line of only whitespace (`\r\r\n`) is not the end of the head for
            // browsers (cases 284-285): skipped.
            changed = true;
            continue;
        }
        if trimmed[0] == 0 {
            // A name starting with NUL is no name (case 281): left for the reader to drop.
            changed = true;
            out.push(line.to_vec());
            pending_name = false;
            continue;
        }
        if indented {
            // Ordinary folding (the header reader joins it). Browsers disagree on an
            // indented `name: value` line (cases 268-269 against 270-273).
            out.push(line.to_vec());
            continue;
        }
        let colon = memchr::memchr(b':', trimmed);
        let name_end = colon.unwrap_or(trimmed.len());
        let mut fixed: Vec<u8> = trimmed[..name_end]
            .iter()
            .copied()
            .filter(|&b| b != 0)
            .collect();
        changed |= fixed.len() < name_end;
        fixed.extend_from_slice(&trimmed[name_end..]);
        pending_name =
            colon.is_none() && !fixed.is_empty() && fixed.iter().all(|&b| is_token_char(b));
        out.push(fixed);
    }
    (out, changed)
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let end = line.len()
        - line[start..]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    &line[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(head: &[u8]) -> Vec<String> {
        regroup(
            head.split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l)),
        )
        .0
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
    }

    #[test]
    fn regroups_as_browsers_do() {
        assert_eq!(
            run(b"Transfer\0-Encoding:chunked\r\n\r\n"),
            ["Transfer-Encoding:chunked"]
        );
        assert_eq!(
            run(b"Transfer-Encoding\r\n \r\n :\r\n chunked\r\nX: y\r\n\r\n"),
            ["Transfer-Encoding:", " chunked", "X: y"]
        );
        assert_eq!(
            run(b"X-Foo: bar\r\n folded: text\r\n\r\n"),
            ["X-Foo: bar", " folded: text"]
        );
    }
}
