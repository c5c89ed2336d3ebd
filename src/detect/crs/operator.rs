//! SecLang operators, compiled once: `@rx` as a byte regex, `@pm` as Aho-Corasick, the
//! string and number comparisons with `%{macro}` arguments, the validators, `@ipMatch`
//! and libinjection's `@detectSQLi`/`@detectXSS`.
//!
//! Regexes compile with ModSecurity's flags (`.` matches a newline, `$` only at the end)
//! and Unicode off where the pattern allows, so they match bytes as PCRE does.

use std::net::IpAddr;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;
use regex::bytes::{Regex, RegexBuilder};

use super::injection;
use super::model::Var;
use super::validate::{self, ByteRanges};

/// Compiled regexes may use this much memory each.
const MAX_REGEX_BYTES: usize = 64 << 20;

/// A text with `%{collection.key}` macros.
#[derive(Debug, Clone)]
pub struct MacroText {
    pub parts: Vec<MacroPart>,
}

/// A literal run or a variable reference.
#[derive(Debug, Clone)]
pub enum MacroPart {
    Lit(Vec<u8>),
    /// A variable and its lowercase key (`tx.foo` -> Tx, "foo"); `rule.*` keys are
    /// resolved by the evaluator.
    Var(MacroVar),
}

/// A variable named in a macro.
#[derive(Debug, Clone)]
pub enum MacroVar {
    Var(Var, Option<String>),
    RuleId,
    RuleMsg,
    RuleSeverity,
    /// Unknown: expands to nothing.
    Unknown,
}

impl MacroText {
    /// Parses `text`, splitting out `%{...}` references.
    pub fn parse(text: &str) -> MacroText {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("%{") {
            let Some(j) = rest[i..].find('}') else { break };
            if i > 0 {
                parts.push(MacroPart::Lit(rest.as_bytes()[..i].to_vec()));
            }
            let name = &rest[i + 2..i + j];
            parts.push(MacroPart::Var(macro_var(name)));
            rest = &rest[i + j + 1..];
        }
        if !rest.is_empty() {
            parts.push(MacroPart::Lit(rest.as_bytes().to_vec()));
        }
        MacroText { parts }
    }

    /// The literal text when there are no macros.
    pub fn literal(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(b""),
            [MacroPart::Lit(l)] => Some(l),
            _ => None,
        }
    }
}

fn macro_var(name: &str) -> MacroVar {
    let (coll, key) = match name.split_once('.') {
        Some((c, k)) => (c, Some(k.to_ascii_lowercase())),
        None => (name, None),
    };
    if coll.eq_ignore_ascii_case("rule") {
        return match key.as_deref() {
            Some("id") => MacroVar::RuleId,
            Some("msg") => MacroVar::RuleMsg,
            Some("severity") => MacroVar::RuleSeverity,
            _ => MacroVar::Unknown,
        };
    }
    match Var::from_name(coll) {
        Some(v) => MacroVar::Var(v, key),
        None => MacroVar::Unknown,
    }
}

/// Something that expands macros (the evaluator's transaction state).
pub trait Expand {
    fn expand(&mut self, m: &MacroText, out: &mut Vec<u8>);
}

#[derive(Debug, Clone, Copy)]
pub enum StrOp {
    Eq,
    Contains,
    BeginsWith,
    EndsWith,
    Within,
}

#[derive(Debug, Clone, Copy)]
pub enum NumOp {
    Eq,
    Ge,
    Gt,
    Lt,
    Le,
}

/// A compiled operator.
#[derive(Debug)]
pub enum Operator {
    Rx(Regex),
    Pm(AhoCorasick),
    Str(StrOp, MacroText),
    Num(NumOp, MacroText),
    ByteRange(ByteRanges),
    UrlEncoding,
    Utf8Encoding,
    IpMatch(Vec<IpNet>),
    Unconditional,
    NoMatch,
    Sqli,
    Xss,
}

/// What a match yields as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A byte range of the inspected (transformed) value.
    Range(usize, usize),
    /// libinjection's fingerprint.
    Fingerprint([u8; 8]),
    None,
}

/// Compiles a byte regex with ModSecurity's flags.
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    let build = |unicode: bool| {
        RegexBuilder::new(pattern)
            .unicode(unicode)
            .dot_matches_new_line(true)
            .size_limit(MAX_REGEX_BYTES)
            .dfa_size_limit(MAX_REGEX_BYTES)
            .build()
    };
    build(false)
        .or_else(|_| build(true))
        .map_err(|e| format!("bad regex: {}", e.to_string().lines().last().unwrap_or("")))
}

impl Operator {
    /// Compiles operator `name` (lowercase, no `@`) with argument `arg`.
    pub fn compile(name: &str, arg: &str) -> Result<Operator, String> {
        Ok(match name {
            "rx" => Operator::Rx(compile_regex(arg)?),
            "pm" => phrases(arg.split_whitespace())?,
            "pmfromfile" | "pmf" => phrases(arg.lines())?,
            "streq" => Operator::Str(StrOp::Eq, MacroText::parse(arg)),
            "contains" => Operator::Str(StrOp::Contains, MacroText::parse(arg)),
            "beginswith" => Operator::Str(StrOp::BeginsWith, MacroText::parse(arg)),
            "endswith" => Operator::Str(StrOp::EndsWith, MacroText::parse(arg)),
            "within" => Operator::Str(StrOp::Within, MacroText::parse(arg)),
            "eq" => Operator::Num(NumOp::Eq, MacroText::parse(arg)),
            "ge" => Operator::Num(NumOp::Ge, MacroText::parse(arg)),
            "gt" => Operator::Num(NumOp::Gt, MacroText::parse(arg)),
            "lt" => Operator::Num(NumOp::Lt, MacroText::parse(arg)),
            "le" => Operator::Num(NumOp::Le, MacroText::parse(arg)),
            "validatebyterange" => Operator::ByteRange(ByteRanges::parse(arg)?),
            "validateurlencoding" => Operator::UrlEncoding,
            "validateutf8encoding" => Operator::Utf8Encoding,
            "ipmatch" => Operator::IpMatch(
                arg.split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(parse_net)
                    .collect::<Result<_, _>>()?,
            ),
            "unconditionalmatch" => Operator::Unconditional,
            "nomatch" => Operator::NoMatch,
            "detectsqli" => Operator::Sqli,
            "detectxss" => Operator::Xss,
            other => return Err(format!("unknown operator @{other}")),
        })
    }

    /// Whether the result depends on nothing but the input value (no macro argument, no
    /// fallback to the client address): such a link's misses can be remembered by value.
    pub fn value_only(&self) -> bool {
        match self {
            Operator::Str(_, m) | Operator::Num(_, m) => m.literal().is_some(),
            Operator::IpMatch(_) => false,
            _ => true,
        }
    }

    /// Whether the operator uses `%{macros}` (its argument depends on the transaction).
    pub fn is_regex(&self) -> bool {
        matches!(self, Operator::Rx(_))
    }

    /// Runs the operator over `input`. `caps`, when given, receives TX:0-9 for `@rx`
    /// (and the fingerprint for `@detectSQLi`); `buf` is scratch for macro expansion.
    pub fn exec(
        &self,
        input: &[u8],
        env: &mut dyn Expand,
        buf: &mut Vec<u8>,
        caps: Option<&mut Vec<Vec<u8>>>,
        remote: Option<IpAddr>,
    ) -> Option<Evidence> {
        match self {
            // `^.*$` (920450's header-name capture) matches every value whole: `.`
            // takes a newline too (dot_matches_new_line) and `$` is the end of input.
            Operator::Rx(re) if re.as_str() == WHOLE_VALUE_RX => {
                if let Some(caps) = caps {
                    caps.truncate(1);
                    if caps.is_empty() {
                        caps.push(Vec::new());
                    }
                    caps[0].clear();
                    caps[0].extend_from_slice(input);
                }
                Some(Evidence::Range(0, input.len()))
            }
            Operator::Rx(re) => match caps {
                None => re.find(input).map(|m| Evidence::Range(m.start(), m.end())),
                Some(caps) => {
                    // Most values miss: a plain search first, captures only on a hit.
                    re.find(input)?;
                    let c = re.captures(input)?;
                    // The capture buffers are reused from match to match.
                    let mut n = 0;
                    for g in c.iter().take(10) {
                        if caps.len() <= n {
                            caps.push(Vec::new());
                        }
                        caps[n].clear();
                        caps[n].extend_from_slice(g.map_or(&b""[..], |m| m.as_bytes()));
                        n += 1;
                    }
                    caps.truncate(n);
                    let m = c.get(0)?;
                    Some(Evidence::Range(m.start(), m.end()))
                }
            },
            Operator::Pm(ac) => ac.find(input).map(|m| {
                if let Some(caps) = caps {
                    caps.clear();
                    caps.push(input[m.start()..m.end()].to_vec());
                }
                Evidence::Range(m.start(), m.end())
            }),
            Operator::Str(op, arg) => {
                let p: &[u8] = match arg.literal() {
                    Some(l) => l,
                    None => {
                        env.expand(arg, buf);
                        buf
                    }
                };
                let hit = match op {
                    StrOp::Eq => input == p,
                    StrOp::Contains => memchr::memmem::find(input, p).is_some(),
                    StrOp::BeginsWith => input.starts_with(p),
                    StrOp::EndsWith => input.ends_with(p),
                    StrOp::Within => within(input, p),
                };
                hit.then_some(Evidence::None)
            }
            Operator::Num(op, arg) => {
                let p = match arg.literal() {
                    Some(l) => atoi(l),
                    None => {
                        env.expand(arg, buf);
                        atoi(buf)
                    }
                };
                let v = atoi(input);
                let hit = match op {
                    NumOp::Eq => v == p,
                    NumOp::Ge => v >= p,
                    NumOp::Gt => v > p,
                    NumOp::Lt => v < p,
                    NumOp::Le => v <= p,
                };
                hit.then_some(Evidence::None)
            }
            Operator::ByteRange(r) => (!r.all_allowed(input)).then(|| {
                let i = input.iter().position(|&b| !r.allows(b)).unwrap_or(0);
                Evidence::Range(i, (i + 1).min(input.len()))
            }),
            Operator::UrlEncoding => {
                (!validate::url_encoding_valid(input)).then_some(Evidence::None)
            }
            Operator::Utf8Encoding => {
                (!validate::utf8_encoding_valid(input)).then_some(Evidence::None)
            }
            Operator::IpMatch(nets) => {
                let ip = std::str::from_utf8(input)
                    .ok()
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .or(remote)?;
                nets.iter()
                    .any(|n| n.contains(&ip))
                    .then_some(Evidence::None)
            }
            Operator::Unconditional => Some(Evidence::None),
            Operator::NoMatch => None,
            Operator::Sqli => injection::detect_sqli(input).map(|fp| {
                if let Some(caps) = caps {
                    caps.clear();
                    caps.push(injection::fingerprint_str(&fp).to_vec());
                }
                Evidence::Fingerprint(fp)
            }),
            Operator::Xss => injection::detect_xss(input).then_some(Evidence::None),
        }
    }
}

fn phrases<'a>(words: impl Iterator<Item = &'a str>) -> Result<Operator, String> {
    let words: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(words)
        .map(Operator::Pm)
        .map_err(|e| format!("bad phrase list: {e}"))
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("bad address {s}"))
}

/// ModSecurity's number conversion: optional sign, leading digits, anything else 0.
pub fn atoi(s: &[u8]) -> i64 {
    let s = s.trim_ascii();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// A regex that matches every value from start to end.
const WHOLE_VALUE_RX: &str = "^.*$";

/// `@within`: whether `needle` occurs in `hay` (a list such as
/// `/proxy/ /lock-token/ ...`). Building `memmem`'s searcher for a needle used once costs
/// more than searching a short list, so a short list is scanned for the needle's first
/// letter or digit (its punctuation, like the list's `/` separators, is everywhere) and
/// each hit compared in place.
fn within(needle: &[u8], hay: &[u8]) -> bool {
    /// Lists up to this many bytes take the simple scan.
    const SIMPLE_SCAN_MAX_BYTES: usize = 1024;
    if needle.is_empty() {
        return true;
    }
    if hay.len() > SIMPLE_SCAN_MAX_BYTES {
        return memchr::memmem::find(hay, needle).is_some();
    }
    let k = needle
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .unwrap_or(0);
    memchr::memchr_iter(needle[k], hay).any(|i| i >= k && hay[i - k..].starts_with(needle))
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod tests;
