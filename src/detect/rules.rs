//! Rule files: YAML in, validated rule definitions out, every error with file:line.
//!
//! A rule file is a YAML list of rules:
//!
//! ```yaml
//! - id: 100101
//!   name: upload.script-extension
//!   signature: Server-side script or executable uploaded
//!   category: upload
//!   severity: 1
//!   match:
//!     any:
//!       - { field: upload.extension, in: [php, jsp] }
//!       - { field: upload.detected, in: [php, jsp, asp, shell, elf, pe] }
//!   threshold: { count: 10, window_secs: 60, distinct: path }   # optional
//! ```
//!
//! A condition is `all: [...]`, `any: [...]`, `not: {...}` or a test
//! `{ field: F, OP: VALUE }` with OP one of `equals`, `in`, `prefix`, `suffix`,
//! `contains`, `regex`, `lt`, `le`, `gt`, `ge`, `cidr`, `exists`. All matching is
//! ASCII case-insensitive, and regex classes (`\w`, `\s`, `\b`) are ASCII: values are
//! bytes, not necessarily UTF-8.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

use super::alert::Category;
use super::fields::Field;

mod condition;

use condition::parse_condition;
pub use condition::{Condition, Op, ParsedRegexes};

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Invalid {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: no rule files (*.yaml) found")]
    Empty { path: PathBuf },
}

/// Counting before firing: matches per client within a window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Matches (or distinct values) within the window that fire the rule.
    pub count: u32,
    /// Window length in seconds; after firing, the rule is quiet for the window.
    pub window_secs: u64,
    /// Count distinct values of this field instead of matches (e.g. `path`).
    #[serde(default)]
    pub distinct: Option<String>,
}

/// One validated rule.
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub id: u32,
    pub name: String,
    pub signature: String,
    pub category: Category,
    pub severity: u8,
    pub condition: Condition,
    pub threshold: Option<Threshold>,
    pub distinct_field: Option<Field>,
    /// Where the rule was defined, for messages.
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: u32,
    name: String,
    signature: String,
    category: String,
    severity: u8,
    #[serde(rename = "match")]
    condition: Value,
    #[serde(default)]
    threshold: Option<Threshold>,
}

/// Loaded rule definitions and the header names their fields use.
#[derive(Debug, Default)]
pub struct RuleDefs {
    pub rules: Vec<RuleDef>,
    pub headers: Vec<String>,
    /// The rules' regexes as parsed by the load-time check, for the rule set's gates
    /// (a regex missing here is parsed again there).
    pub regexes: ParsedRegexes,
}

/// Loads every `*.yaml` file of a directory (sorted by name), or one file. An empty
/// directory is zero rules (policy-free runs, benchmarks); `rules check` refuses it.
pub fn load(path: &Path) -> Result<RuleDefs, RuleError> {
    let meta = std::fs::metadata(path).map_err(|source| RuleError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = if meta.is_dir() {
        std::fs::read_dir(path)
            .map_err(|source| RuleError::Read {
                path: path.to_path_buf(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    files.sort();
    let mut defs = RuleDefs::default();
    let mut seen: BTreeMap<u32, (PathBuf, usize)> = BTreeMap::new();
    let mut seen_names: BTreeMap<String, u32> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| RuleError::Read {
            path: file.clone(),
            source,
        })?;
        for rule in parse_file_with(&text, &file, &mut defs.headers, &mut defs.regexes)? {
            if let Some((other, line)) = seen.get(&rule.id) {
                return Err(invalid(
                    &rule.file,
                    rule.line,
                    format!(
                        "duplicate rule id {} (first defined at {}:{line})",
                        rule.id,
                        other.display()
                    ),
                ));
            }
            if let Some(other) = seen_names.get(&rule.name) {
                return Err(invalid(
                    &rule.file,
                    rule.line,
                    format!("duplicate rule name {:?} (also rule {other})", rule.name),
                ));
            }
            seen.insert(rule.id, (rule.file.clone(), rule.line));
            seen_names.insert(rule.name.clone(), rule.id);
            defs.rules.push(rule);
        }
    }
    Ok(defs)
}

fn invalid(path: &Path, line: usize, reason: String) -> RuleError {
    RuleError::Invalid {
        path: path.to_path_buf(),
        line,
        reason,
    }
}

/// Parses one rule file's text.
pub fn parse_file(
    text: &str,
    path: &Path,
    headers: &mut Vec<String>,
) -> Result<Vec<RuleDef>, RuleError> {
    parse_file_with(text, path, headers, &mut ParsedRegexes::new())
}

/// [`parse_file`], keeping each regex's parse in `regexes` (a regex already there is
/// not checked again).
pub fn parse_file_with(
    text: &str,
    path: &Path,
    headers: &mut Vec<String>,
    regexes: &mut ParsedRegexes,
) -> Result<Vec<RuleDef>, RuleError> {
    let yaml_error = |e: serde_yaml::Error| {
        invalid(
            path,
            e.location().map(|l| l.line()).unwrap_or(0),
            e.to_string(),
        )
    };
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    // Parse as a list of raw values first, so each rule's errors can name its line.
    let items: Vec<Value> = serde_yaml::from_str(text).map_err(yaml_error)?;
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let line = rule_line(text, &item, index);
        let raw: RawRule =
            serde_yaml::from_value(item).map_err(|e| invalid(path, line, e.to_string()))?;
        let at = |reason: String| invalid(path, line, format!("rule {}: {reason}", raw.id));
        let category = Category::parse(&raw.category).ok_or_else(|| {
            at(format!(
                "unknown category {:?} (one of upload, modification, injection, traversal, recon, brute_force, flood, protocol)",
                raw.category
            ))
        })?;
        if !(1..=3).contains(&raw.severity) {
            return Err(at(format!("severity {} is not 1, 2 or 3", raw.severity)));
        }
        if raw.name.is_empty()
            || raw.name.len() > 64
            || !raw
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(at(format!(
                "name {:?} must be 1-64 characters of [A-Za-z0-9._-]",
                raw.name
            )));
        }
        let condition = parse_condition(&raw.condition, headers, regexes, 0).map_err(at)?;
        let distinct_field = match &raw.threshold {
            Some(t) => {
                if t.count == 0 || t.window_secs == 0 {
                    return Err(at(
                        "threshold count and window_secs must be positive".to_owned()
                    ));
                }
                match &t.distinct {
                    Some(name) => Some(Field::parse(name, headers).ok_or_else(|| {
                        at(format!("unknown field {name:?} in threshold.distinct"))
                    })?),
                    None => None,
                }
            }
            None => None,
        };
        out.push(RuleDef {
            id: raw.id,
            name: raw.name,
            signature: raw.signature,
            category,
            severity: raw.severity,
            condition,
            threshold: raw.threshold,
            distinct_field,
            file: path.to_path_buf(),
            line,
        });
    }
    Ok(out)
}

/// The line of a rule's `id:` (serde_yaml values carry no positions), else its index.
fn rule_line(text: &str, item: &Value, index: usize) -> usize {
    let id = item.get("id").and_then(Value::as_u64);
    let mut starts = 0;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(id) = id {
            let t = t.trim_start_matches("- ").trim_start();
            if let Some(rest) = t.strip_prefix("id:") {
                if rest.trim().parse::<u64>().ok() == Some(id) {
                    return n + 1;
                }
            }
        } else if line.starts_with("- ") {
            if starts == index {
                return n + 1;
            }
            starts += 1;
        }
    }
    0
}
