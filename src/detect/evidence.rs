//! Evidence for a regex match that keeps the matched token and drops its surroundings.
//!
//! A rule such as `union\s+select\b.{0,200}\bfrom` matches arbitrary user text between
//! its keywords. Storing that match would store whatever the client typed there (an
//! email, a phone number). At compile time the regex is parsed with `regex-syntax` and
//! every *broad repetition* (a repeated sub-pattern that contains a class wider than a
//! single letter's case variants: `.{0,200}`, `.*`, `[^x]+`, `\s*`, `\d{3}`) is wrapped in
//! a named capture group; at match time those groups' spans are replaced by `…`. The
//! result is the rule's fixed tokens only: `union…select…from`.

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};
use regex_syntax::ParserBuilder;

/// What an elided span is replaced by.
pub const ELISION: &str = "…";
/// Prefix of the capture names added around broad repetitions.
const WILD_PREFIX: &str = "twwild";
/// Compiled size limit for an evidence regex (bytes of the regex program).
const EVIDENCE_REGEX_SIZE_LIMIT: usize = 4 << 20;

/// A regex rewritten so that the spans of its broad repetitions can be elided.
#[derive(Debug, Clone)]
pub struct EvidenceRegex {
    regex: Regex,
    wild_groups: Vec<usize>,
}

impl EvidenceRegex {
    /// Builds the evidence regex for a rule regex compiled case-insensitively without
    /// Unicode (as the rule set compiles them). `None` if the source cannot be
    /// analysed; callers then keep no token at all (`…`).
    pub fn new(source: &str) -> Option<EvidenceRegex> {
        let hir = ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .case_insensitive(true)
            .build()
            .parse(source)
            .ok()?;
        let mut next = 0usize;
        let rewritten = wrap_broad(hir, &mut next);
        let regex = RegexBuilder::new(&rewritten.to_string())
            .unicode(false)
            .size_limit(EVIDENCE_REGEX_SIZE_LIMIT)
            .build()
            .ok()?;
        let wild_groups = regex
            .capture_names()
            .enumerate()
            .filter(|(_, n)| n.is_some_and(|n| n.starts_with(WILD_PREFIX)))
            .map(|(i, _)| i)
            .collect();
        Some(EvidenceRegex { regex, wild_groups })
    }

    /// The first match in `value` with every broad span replaced by `…` (adjacent
    /// elisions merged). `None` if the regex does not match.
    pub fn evidence(&self, value: &[u8]) -> Option<Vec<u8>> {
        let caps = self.regex.captures(value)?;
        let whole = caps.get(0)?;
        let mut spans: Vec<(usize, usize)> = self
            .wild_groups
            .iter()
            .filter_map(|&g| caps.get(g))
            .filter(|m| !m.is_empty())
            .map(|m| (m.start(), m.end()))
            .collect();
        spans.sort_unstable();
        let mut out = Vec::with_capacity(whole.len().min(64));
        let mut pos = whole.start();
        for (start, end) in spans {
            if end <= pos {
                continue;
            }
            if start > pos {
                out.extend_from_slice(&value[pos..start]);
            }
            if !out.ends_with(ELISION.as_bytes()) {
                out.extend_from_slice(ELISION.as_bytes());
            }
            pos = end;
        }
        if pos < whole.end() {
            out.extend_from_slice(&value[pos..whole.end()]);
        }
        Some(out)
    }
}

/// Wraps every broad repetition of `hir` in a capture group named `twwildN`.
fn wrap_broad(hir: Hir, next: &mut usize) -> Hir {
    match hir.into_kind() {
        HirKind::Repetition(rep) => {
            let broad = rep.max != Some(1) && rep.max != Some(0) && has_broad_class(&rep.sub);
            if broad {
                let name = format!("{WILD_PREFIX}{next}");
                *next += 1;
                let index = u32::try_from(*next).unwrap_or(u32::MAX);
                Hir::capture(Capture {
                    index,
                    name: Some(name.into_boxed_str()),
                    sub: Box::new(Hir::repetition(rep)),
                })
            } else {
                let sub = wrap_broad(*rep.sub, next);
                Hir::repetition(Repetition {
                    sub: Box::new(sub),
                    ..rep
                })
            }
        }
        HirKind::Capture(cap) => {
            let sub = wrap_broad(*cap.sub, next);
            Hir::capture(Capture {
                sub: Box::new(sub),
                ..cap
            })
        }
        HirKind::Concat(items) => {
            Hir::concat(items.into_iter().map(|h| wrap_broad(h, next)).collect())
        }
        HirKind::Alternation(items) => {
            Hir::alternation(items.into_iter().map(|h| wrap_broad(h, next)).collect())
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) => Hir::literal(l.0),
        HirKind::Class(c) => Hir::class(c),
        HirKind::Look(l) => Hir::look(l),
    }
}

/// Whether `hir` contains a class wider than one letter's case variants.
fn has_broad_class(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            let n: usize = c
                .ranges()
                .iter()
                .map(|r| usize::from(r.end() - r.start()) + 1)
                .sum();
            n > 2 || (n == 2 && !is_case_pair_bytes(c))
        }
        HirKind::Class(Class::Unicode(c)) => {
            let n: usize = c
                .ranges()
                .iter()
                .map(|r| (u32::from(r.end()) - u32::from(r.start())) as usize + 1)
                .sum();
            n > 2
        }
        HirKind::Repetition(r) => has_broad_class(&r.sub),
        HirKind::Capture(c) => has_broad_class(&c.sub),
        HirKind::Concat(items) | HirKind::Alternation(items) => items.iter().any(has_broad_class),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Look(_) => false,
    }
}

/// Whether a two-byte class is one ASCII letter in both cases (`[Aa]`).
fn is_case_pair_bytes(c: &regex_syntax::hir::ClassBytes) -> bool {
    let bytes: Vec<u8> = c.iter().flat_map(|r| r.start()..=r.end()).collect();
    matches!(bytes.as_slice(), [a, b] if a.eq_ignore_ascii_case(b) && a != b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(re: &str, value: &str) -> String {
        let e = EvidenceRegex::new(re).expect("analysable");
        String::from_utf8(e.evidence(value.as_bytes()).expect("matches")).expect("utf8")
    }

    #[test]
    fn wildcard_spans_are_elided_keywords_kept() {
        let got = ev(
            r"union\s+(all\s+)?select\b.{0,200}\bfrom",
            "q=' UNION SELECT canary@x.test, 123-45-6789 FROM users--",
        );
        assert_eq!(got, "UNION…SELECT…FROM");
        assert!(!got.contains("canary"));
    }

    #[test]
    fn negated_class_runs_and_dot_star_are_elided() {
        assert_eq!(
            ev(r"<script[^>]*>", "<script src=//evil.test/a.js>"),
            "<script…>"
        );
        assert_eq!(ev(r"onerror.*=", "x onerror secret ="), "onerror…=");
    }

    #[test]
    fn fixed_tokens_and_literal_repeats_are_kept() {
        assert_eq!(
            ev(r"(\.\./){2,}etc/passwd", "a/../../../etc/passwd"),
            "../../../etc/passwd"
        );
        assert_eq!(ev(r"(?i)(select)+", "SELECTSELECT"), "SELECTSELECT");
    }

    #[test]
    fn adjacent_elisions_merge() {
        assert_eq!(ev(r"a\s*.*b", "a  secret b"), "a…b");
    }
}

#[cfg(test)]
mod default_rules {
    use super::EvidenceRegex;
    use crate::detect::rules::{load, Condition, Op};

    fn regexes(c: &Condition, out: &mut Vec<String>) {
        match c {
            Condition::All(items) | Condition::Any(items) => {
                items.iter().for_each(|i| regexes(i, out))
            }
            Condition::Not(inner) => regexes(inner, out),
            Condition::Test {
                op: Op::Regex(r), ..
            } => out.push(r.clone()),
            Condition::Test { .. } => {}
        }
    }

    /// Every regex of the bundled rules can be analysed, so no rule falls back to
    /// keeping no token at all.
    #[test]
    fn every_bundled_rule_regex_is_analysable() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let defs = load(&dir).expect("bundled rules");
        let mut all = Vec::new();
        for d in &defs.rules {
            regexes(&d.condition, &mut all);
        }
        assert!(all.len() > 10, "only {} regexes found", all.len());
        for r in &all {
            assert!(EvidenceRegex::new(r).is_some(), "not analysable: {r}");
        }
    }
}
