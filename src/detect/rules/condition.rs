//! Rule conditions: the tree a rule matches with (`all` / `any` / `not` over field
//! tests) and its parsing from YAML values, each operator checked against the field it
//! applies to (numbers for numeric fields, CIDRs for `src`, regexes compiled once here
//! so a bad one fails at load time). Errors are plain reasons; the caller adds
//! file:line.

use std::collections::HashMap;

use ipnet::IpNet;
use regex_syntax::hir::Hir;
use serde_yaml::Value;

use crate::detect::fields::Field;

/// The largest compiled program (heap bytes of its NFA) a rule's regex may have: the
/// rule engine's set grants each regex this much (`ruleset::REGEX_SIZE_LIMIT`).
pub const RULE_REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The rule engine's syntax settings for a rule regex: bytes, case-insensitive, no
/// Unicode classes.
fn syntax() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .case_insensitive(true)
        .unicode(false)
        .utf8(false)
}

/// The NFA compiler of the load-time check, within [`RULE_REGEX_SIZE_LIMIT`].
fn nfa_compiler() -> regex_automata::nfa::thompson::Compiler {
    use regex_automata::nfa::thompson;
    let mut c = thompson::Compiler::new();
    c.syntax(syntax()).configure(
        thompson::Config::new()
            .utf8(false)
            .nfa_size_limit(Some(RULE_REGEX_SIZE_LIMIT)),
    );
    c
}

fn bad_regex(pattern: &str, e: &regex_automata::nfa::thompson::BuildError) -> String {
    match e.size_limit() {
        Some(limit) => {
            format!("bad regex {pattern:?}: compiled regex exceeds size limit of {limit} bytes")
        }
        None => format!("bad regex {pattern:?}: {e}"),
    }
}

/// Parses a rule's regex as the rule engine compiles it and checks it within
/// [`RULE_REGEX_SIZE_LIMIT`]. Only the NFA is built (from the parse, which the rule
/// set's gate analysis reuses: a parse is as dear as the NFA): the engine compiles the
/// regex again, in full, when a value first gets through its gate.
pub(super) fn parse_regex(pattern: &str) -> Result<Hir, String> {
    let compiler = nfa_compiler();
    let hir = match regex_automata::util::syntax::parse_with(pattern, &syntax()) {
        Ok(hir) => hir,
        // The check's own message: its build parses with these settings and fails.
        Err(parse) => {
            return Err(match compiler.build(pattern) {
                Err(e) => bad_regex(pattern, &e),
                Ok(_) => format!("bad regex {pattern:?}: {parse}"),
            })
        }
    };
    compiler
        .build_from_hir(&hir)
        .map_err(|e| bad_regex(pattern, &e))?;
    Ok(hir)
}

/// The check as it was, from the source alone: the reference [`parse_regex`] is
/// tested against.
#[cfg(test)]
fn check_regex(pattern: &str) -> Result<(), String> {
    nfa_compiler()
        .build(pattern)
        .map(drop)
        .map_err(|e| bad_regex(pattern, &e))
}

/// Deepest nesting of all/any/not accepted.
const MAX_CONDITION_DEPTH: usize = 16;

/// A comparison in a test.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Equals one of these (lowercased).
    In(Vec<Vec<u8>>),
    Prefix(Vec<Vec<u8>>),
    Suffix(Vec<Vec<u8>>),
    Contains(Vec<Vec<u8>>),
    Regex(String),
    Lt(u64),
    Le(u64),
    Gt(u64),
    Ge(u64),
    Cidr(Vec<IpNet>),
    Exists,
}

/// A condition tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test { field: Field, op: Op },
}

/// Each distinct regex of the rules loaded, checked and parsed by [`parse_regex`]:
/// rules test one regex on several fields, and each check builds the regex's NFA
/// (the bulk of loading the bundled rules); the rule set's gates start from the parse.
pub type ParsedRegexes = HashMap<String, Hir>;

pub(super) fn parse_condition(
    v: &Value,
    headers: &mut Vec<String>,
    checked: &mut ParsedRegexes,
    depth: usize,
) -> Result<Condition, String> {
    if depth > MAX_CONDITION_DEPTH {
        return Err(format!(
            "conditions nested deeper than {MAX_CONDITION_DEPTH}"
        ));
    }
    let map = v
        .as_mapping()
        .ok_or("a condition must be a mapping (all/any/not or field + operator)")?;
    let key = |k: &str| map.get(Value::String(k.to_owned()));
    if let Some(list) = key("all").or_else(|| key("any")) {
        if map.len() != 1 {
            return Err("all/any must stand alone in their mapping".to_owned());
        }
        let items = list.as_sequence().ok_or("all/any take a list")?;
        if items.is_empty() {
            return Err("all/any need at least one condition".to_owned());
        }
        let parsed = items
            .iter()
            .map(|c| parse_condition(c, headers, checked, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if key("all").is_some() {
            Condition::All(parsed)
        } else {
            Condition::Any(parsed)
        });
    }
    if let Some(inner) = key("not") {
        if map.len() != 1 {
            return Err("not must stand alone in its mapping".to_owned());
        }
        return Ok(Condition::Not(Box::new(parse_condition(
            inner,
            headers,
            checked,
            depth + 1,
        )?)));
    }
    let field_name = key("field")
        .and_then(Value::as_str)
        .ok_or("a test needs `field:`")?;
    let field =
        Field::parse(field_name, headers).ok_or_else(|| format!("unknown field {field_name:?}"))?;
    let ops: Vec<(&str, &Value)> = map
        .iter()
        .filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
        .filter(|(k, _)| *k != "field")
        .collect();
    let [(op_name, arg)] = ops.as_slice() else {
        return Err(format!("test on {field_name:?} needs exactly one operator"));
    };
    let op = parse_op(op_name, arg, field, checked)?;
    Ok(Condition::Test { field, op })
}

fn literals(arg: &Value) -> Result<Vec<Vec<u8>>, String> {
    let one = |v: &Value| -> Result<Vec<u8>, String> {
        match v {
            Value::String(s) => Ok(s.to_ascii_lowercase().into_bytes()),
            Value::Number(n) => Ok(n.to_string().into_bytes()),
            Value::Bool(b) => Ok(b.to_string().into_bytes()),
            _ => Err("literals must be strings or numbers".to_owned()),
        }
    };
    let out = match arg {
        Value::Sequence(items) => items.iter().map(one).collect::<Result<Vec<_>, _>>()?,
        other => vec![one(other)?],
    };
    if out.is_empty() || out.iter().any(Vec::is_empty) {
        return Err("literals must be non-empty".to_owned());
    }
    Ok(out)
}

fn parse_op(
    name: &str,
    arg: &Value,
    field: Field,
    checked: &mut ParsedRegexes,
) -> Result<Op, String> {
    let number = || {
        arg.as_u64()
            .ok_or_else(|| format!("{name} takes a non-negative number"))
    };
    let numeric_only = |op: Op| {
        if field.is_numeric() {
            Ok(op)
        } else {
            Err(format!(
                "{name} needs a numeric field (status, request.body_len, upload.size)"
            ))
        }
    };
    match name {
        "equals" | "in" => Ok(Op::In(literals(arg)?)),
        "prefix" => Ok(Op::Prefix(literals(arg)?)),
        "suffix" => Ok(Op::Suffix(literals(arg)?)),
        "contains" => Ok(Op::Contains(literals(arg)?)),
        "regex" => {
            let pattern = arg.as_str().ok_or("regex takes a string")?;
            if !checked.contains_key(pattern) {
                let hir = parse_regex(pattern)?;
                checked.insert(pattern.to_owned(), hir);
            }
            Ok(Op::Regex(pattern.to_owned()))
        }
        "lt" => numeric_only(Op::Lt(number()?)),
        "le" => numeric_only(Op::Le(number()?)),
        "gt" => numeric_only(Op::Gt(number()?)),
        "ge" => numeric_only(Op::Ge(number()?)),
        "cidr" => {
            if field != Field::Src {
                return Err("cidr applies to the `src` field only".to_owned());
            }
            let items = match arg {
                Value::Sequence(s) => s.clone(),
                other => vec![other.clone()],
            };
            let nets = items
                .iter()
                .map(|v| {
                    let s = v.as_str().ok_or("cidr takes strings")?;
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("bad CIDR {s:?}"))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Op::Cidr(nets))
        }
        "exists" => match arg.as_bool() {
            Some(true) => Ok(Op::Exists),
            _ => Err("exists takes `true` (use not: for absence)".to_owned()),
        },
        other => Err(format!(
            "unknown operator {other:?} (one of equals, in, prefix, suffix, contains, regex, lt, le, gt, ge, cidr, exists)"
        )),
    }
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
