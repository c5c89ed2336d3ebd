//! Required literals of a regex: a cheap test that rules a regex out before it runs.
//!
//! Every match of `union\s+select\b.{0,200}\bfrom` contains `union`, a space-like byte,
//! `select` and `from`. At compile time the regex is parsed with `regex-syntax` (with
//! the flags the rule set compiles it with) and reduced to such a *gate*: a list of
//! clauses, each a set of literals, where every match contains at least one literal of
//! every clause. A value in which some clause has no literal cannot match, so the regex
//! is not run on it. Gates only ever rule out, never in: a value that passes its gate
//! is still given to the regex, so the verdict is the regex's own.
//!
//! Literals are lowercase; they are searched ASCII case-insensitively, as the rule
//! regexes match.

use regex_syntax::hir::{Class, Hir, HirKind};
use regex_syntax::ParserBuilder;

/// Literal strings an exact set may hold (a product of alternations past it gives up).
const MAX_EXACT_STRINGS: usize = 64;
/// Longest literal an exact set keeps building (longer ones stop growing).
const MAX_LITERAL_BYTES: usize = 32;
/// A byte class of at most this many bytes (after case folding) is a set of literals.
const MAX_CLASS_BYTES: usize = 10;
/// Clauses a gate keeps (the most selective: longest shortest literal).
const MAX_CLAUSES: usize = 6;

/// A set of literals, one of which every match contains.
pub type Clause = Vec<Vec<u8>>;

/// What a node of the regex requires of every match: `exact` is the full set of
/// strings it can match when that set is small, `cnf` clauses that every match
/// satisfies.
struct Info {
    exact: Option<Vec<Vec<u8>>>,
    cnf: Vec<Clause>,
}

/// The gate of a rule regex: clauses every match satisfies. Empty when nothing is
/// required (or the source cannot be analysed): the regex then always runs.
pub fn required(source: &str) -> Vec<Clause> {
    match ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(true)
        .build()
        .parse(source)
    {
        Ok(hir) => required_of(&hir),
        Err(_) => Vec::new(),
    }
}

/// [`required`] of a regex parsed with the flags the rule set compiles it with (as
/// the rule loader's check parses it: [`crate::detect::rules::ParsedRegexes`]).
pub fn required_of(hir: &Hir) -> Vec<Clause> {
    let info = analyse(hir);
    let mut cnf = info.cnf;
    if let Some(exact) = info.exact {
        push_clause(&mut cnf, exact);
    }
    cnf.sort_by_key(|c| std::cmp::Reverse(score(c)));
    cnf.dedup();
    cnf.truncate(MAX_CLAUSES);
    cnf
}

/// How selective a clause is: its shortest literal's length.
fn score(c: &Clause) -> usize {
    c.iter().map(Vec::len).min().unwrap_or(0)
}

/// Adds a clause unless it is trivially satisfied (holds the empty string) or empty.
fn push_clause(cnf: &mut Vec<Clause>, mut clause: Clause) {
    if clause.is_empty() || clause.iter().any(Vec::is_empty) {
        return;
    }
    clause.sort();
    clause.dedup();
    // A literal holding another of the clause adds nothing (`../` holds `..`).
    let all = clause.clone();
    clause.retain(|lit| {
        !all.iter()
            .any(|other| other != lit && memchr::memmem::find(lit, other).is_some())
    });
    cnf.push(clause);
}

/// The best single clause of a node, if it requires anything.
fn best_clause(info: &Info) -> Option<Clause> {
    let mut candidates: Vec<&Clause> = info.cnf.iter().collect();
    if let Some(e) = &info.exact {
        if !e.iter().any(Vec::is_empty) && !e.is_empty() {
            candidates.push(e);
        }
    }
    candidates
        .into_iter()
        .max_by_key(|c| (score(c), std::cmp::Reverse(c.len())))
        .cloned()
}

fn analyse(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info {
            exact: Some(vec![Vec::new()]),
            cnf: Vec::new(),
        },
        HirKind::Literal(l) => Info {
            exact: Some(vec![l.0.to_ascii_lowercase()]),
            cnf: Vec::new(),
        },
        HirKind::Class(c) => Info {
            exact: class_bytes(c).map(|bytes| bytes.into_iter().map(|b| vec![b]).collect()),
            cnf: Vec::new(),
        },
        HirKind::Capture(c) => analyse(&c.sub),
        HirKind::Repetition(r) => {
            let sub = analyse(&r.sub);
            if r.min == 0 {
                // May match nothing: requires nothing; `x?` is still a small set.
                let exact = match (r.max, sub.exact) {
                    (Some(1), Some(mut e)) if e.len() < MAX_EXACT_STRINGS => {
                        e.push(Vec::new());
                        Some(e)
                    }
                    _ => None,
                };
                return Info {
                    exact,
                    cnf: Vec::new(),
                };
            }
            if r.max == Some(1) {
                // Exactly once.
                return sub;
            }
            let mut cnf = sub.cnf;
            if let Some(e) = sub.exact {
                push_clause(&mut cnf, e);
            }
            Info { exact: None, cnf }
        }
        HirKind::Concat(items) => concat(items),
        HirKind::Alternation(items) => {
            let infos: Vec<Info> = items.iter().map(analyse).collect();
            let mut exact: Option<Vec<Vec<u8>>> = Some(Vec::new());
            for i in &infos {
                exact = match (exact, &i.exact) {
                    (Some(mut all), Some(e)) if all.len() + e.len() <= MAX_EXACT_STRINGS => {
                        all.extend(e.iter().cloned());
                        Some(all)
                    }
                    _ => None,
                };
            }
            if exact.is_some() {
                return Info {
                    exact,
                    cnf: Vec::new(),
                };
            }
            // Each branch's best clause, together: a match of the alternation is a
            // match of one branch, which holds a literal of that branch's clause.
            let mut union: Clause = Vec::new();
            for i in &infos {
                match best_clause(i) {
                    Some(c) => union.extend(c),
                    None => {
                        return Info {
                            exact: None,
                            cnf: Vec::new(),
                        }
                    }
                }
            }
            let mut cnf = Vec::new();
            push_clause(&mut cnf, union);
            Info { exact: None, cnf }
        }
    }
}

/// A concatenation: runs of children with exact sets are multiplied out into longer
/// literals (a match holds one of them contiguously); the other children add their
/// own clauses.
fn concat(items: &[Hir]) -> Info {
    let mut cnf: Vec<Clause> = Vec::new();
    let mut run: Option<Vec<Vec<u8>>> = Some(vec![Vec::new()]);
    let mut whole_exact = true;
    for item in items {
        let info = analyse(item);
        match info.exact {
            Some(e) => {
                let product = run.as_ref().and_then(|r| multiply(r, &e));
                match product {
                    Some(p) => run = Some(p),
                    None => {
                        whole_exact = false;
                        if let Some(r) = run.take() {
                            push_clause(&mut cnf, r);
                        }
                        run = Some(e);
                    }
                }
            }
            None => {
                whole_exact = false;
                if let Some(r) = run.take() {
                    push_clause(&mut cnf, r);
                }
                cnf.extend(info.cnf);
                run = Some(vec![Vec::new()]);
            }
        }
    }
    if whole_exact {
        return Info { exact: run, cnf };
    }
    if let Some(r) = run {
        push_clause(&mut cnf, r);
    }
    Info { exact: None, cnf }
}

/// Every string of `a` followed by one of `b`, or `None` past the caps.
fn multiply(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > MAX_EXACT_STRINGS {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            if x.len() + y.len() > MAX_LITERAL_BYTES {
                return None;
            }
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// The bytes of a small class, lowercased and deduplicated (`[Ss]` is `s`).
fn class_bytes(c: &Class) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                if usize::from(r.end() - r.start()) >= 2 * MAX_CLASS_BYTES {
                    return None;
                }
                out.extend((r.start()..=r.end()).map(|b| b.to_ascii_lowercase()));
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                let (start, end) = (u32::from(r.start()), u32::from(r.end()));
                if end > 0x7F || end - start >= 2 * MAX_CLASS_BYTES as u32 {
                    return None;
                }
                out.extend(
                    (start..=end)
                        .filter_map(|c| u8::try_from(c).ok())
                        .map(|b| b.to_ascii_lowercase()),
                );
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    (!out.is_empty() && out.len() <= MAX_CLASS_BYTES).then_some(out)
}

/// Whether `value` satisfies every clause (ASCII case ignored). The slow reference
/// the compiled gate is tested against.
#[cfg(test)]
pub fn passes(gate: &[Clause], value: &[u8]) -> bool {
    let v = value.to_ascii_lowercase();
    gate.iter()
        .all(|c| c.iter().any(|lit| memchr::memmem::find(&v, lit).is_some()))
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
