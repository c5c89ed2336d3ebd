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

/// The strings a node matches exactly, when they are few.
type ExactSet = Vec<Vec<u8>>;

/// What a node of the regex requires of every match: `exact` is the full set of
/// strings it can match when that set is small, `cnf` clauses that every match
/// satisfies.
struct Info {
    exact: Option<ExactSet>,
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
    // A literal holding another of the clause adds nothing (`../` holds `..`); the
    // literals are distinct, so only a shorter one can be inside another.
    let redundant = |lit: &[u8]| {
        clause.iter().any(|other| {
            other.len() < lit.len()
                && match other.as_slice() {
                    [b] => memchr::memchr(*b, lit).is_some(),
                    _ => memchr::memmem::find(lit, other).is_some(),
                }
        })
    };
    let redundant_at: Vec<bool> = clause.iter().map(|lit| redundant(lit)).collect();
    if redundant_at.contains(&true) {
        let mut each = redundant_at.into_iter();
        clause.retain(|_| !each.next().unwrap_or(false));
    }
    cnf.push(clause);
}

/// The best single clause of a node, if it requires anything: the most selective
/// (of equals, the fewest literals; of those, the last of `cnf` then `exact`).
fn best_clause(info: Info) -> Option<Clause> {
    let key = |c: &Clause| (score(c), std::cmp::Reverse(c.len()));
    let exact = info
        .exact
        .filter(|e| !e.iter().any(Vec::is_empty) && !e.is_empty());
    // As `max_by_key`, which keeps the last of equal maxima.
    info.cnf
        .into_iter()
        .chain(exact)
        .reduce(|best, c| if key(&c) >= key(&best) { c } else { best })
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
            exact: class_bytes(c),
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
            // One exact set while every branch has one and all fit together.
            let mut total = 0usize;
            let all_exact = infos.iter().all(|i| match &i.exact {
                Some(e) => {
                    total += e.len();
                    total <= MAX_EXACT_STRINGS
                }
                None => false,
            });
            if all_exact {
                let mut exact = Vec::with_capacity(total);
                for i in infos {
                    exact.extend(i.exact.into_iter().flatten());
                }
                return Info {
                    exact: Some(exact),
                    cnf: Vec::new(),
                };
            }
            // Each branch's best clause, together: a match of the alternation is a
            // match of one branch, which holds a literal of that branch's clause.
            let mut union: Clause = Vec::new();
            for i in infos {
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
    let mut run: ExactSet = vec![Vec::new()];
    let mut whole_exact = true;
    for item in items {
        let info = analyse(item);
        match info.exact {
            Some(e) => match multiply(run, e) {
                Ok(p) => run = p,
                Err((r, e)) => {
                    whole_exact = false;
                    push_clause(&mut cnf, r);
                    run = e;
                }
            },
            None => {
                whole_exact = false;
                push_clause(&mut cnf, std::mem::take(&mut run));
                cnf.extend(info.cnf);
                run = vec![Vec::new()];
            }
        }
    }
    if whole_exact {
        return Info {
            exact: Some(run),
            cnf,
        };
    }
    push_clause(&mut cnf, run);
    Info { exact: None, cnf }
}

/// Every string of `a` followed by one of `b`, sorted and deduplicated; past the
/// caps, `a` and `b` back.
fn multiply(mut a: ExactSet, b: ExactSet) -> Result<ExactSet, (ExactSet, ExactSet)> {
    let longest = |s: &[Vec<u8>]| s.iter().map(Vec::len).max();
    let too_long = match (longest(&a), longest(&b)) {
        (Some(x), Some(y)) => x + y > MAX_LITERAL_BYTES,
        _ => false,
    };
    if a.len().saturating_mul(b.len()) > MAX_EXACT_STRINGS || too_long {
        return Err((a, b));
    }
    let mut out = match (a.as_slice(), b.as_slice()) {
        // The start of a run, or a literal or a one-byte class after it: no new
        // strings to make.
        ([x], _) if x.is_empty() => b,
        (_, [y]) => {
            for x in &mut a {
                x.extend_from_slice(y);
            }
            a
        }
        _ => {
            let mut out = Vec::with_capacity(a.len() * b.len());
            for x in &a {
                for y in &b {
                    let mut s = Vec::with_capacity(x.len() + y.len());
                    s.extend_from_slice(x);
                    s.extend_from_slice(y);
                    out.push(s);
                }
            }
            out
        }
    };
    out.sort();
    out.dedup();
    Ok(out)
}

/// The bytes of a small class, lowercased, deduplicated and sorted (`[Ss]` is `s`),
/// each as a one-byte literal.
fn class_bytes(c: &Class) -> Option<ExactSet> {
    // A bit per byte value.
    let mut seen = [0u64; 4];
    let mut add = |start: u32, end: u32| -> bool {
        if end - start >= 2 * MAX_CLASS_BYTES as u32 {
            return false;
        }
        for b in (start..=end).filter_map(|c| u8::try_from(c).ok()) {
            let b = b.to_ascii_lowercase();
            if let Some(w) = seen.get_mut(usize::from(b >> 6)) {
                *w |= 1 << (b & 63);
            }
        }
        true
    };
    let small = match c {
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .all(|r| add(u32::from(r.start()), u32::from(r.end()))),
        Class::Unicode(u) => u.ranges().iter().all(|r| {
            let (start, end) = (u32::from(r.start()), u32::from(r.end()));
            end <= 0x7F && add(start, end)
        }),
    };
    let count: u32 = seen.iter().map(|w| w.count_ones()).sum();
    if !small || count == 0 || count > MAX_CLASS_BYTES as u32 {
        return None;
    }
    let mut out = Vec::with_capacity(count as usize);
    for (i, &word) in (0u8..).zip(seen.iter()) {
        let mut w = word;
        while w != 0 {
            let bit = w.trailing_zeros() as u8;
            out.push(vec![(i << 6) | bit]);
            w &= w - 1;
        }
    }
    Some(out)
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
