//! Parsed rules to a runnable program: operators and selectors compiled, transformation
//! chains interned (so transformed values can be cached per chain), rules split into
//! per-phase lists with their markers.

use std::collections::HashMap;

use regex::bytes::Regex;

use super::literals::op_literals;
use super::load::Item;
use super::model::{Ctl, Rule, SelectorSpec, SetVar, SetVarOp, TargetSpec, Var};
use super::operator::{compile_regex, MacroPart, MacroText, MacroVar, Operator};
use super::prefilter::{ChainGate, Prefilter};
use super::transform::Transform;
use super::{CrsError, CrsSettings};

/// Link ids, unique in the process (so a memo never confuses two loaded engines).
static UID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A compiled selector.
#[derive(Debug)]
pub enum Sel {
    /// Lowercase name.
    Name(Vec<u8>),
    Regex(Regex),
}

impl Sel {
    pub fn matches(&self, name: &[u8]) -> bool {
        match self {
            Sel::Name(n) => n.eq_ignore_ascii_case(name),
            Sel::Regex(r) => r.is_match(name),
        }
    }

    pub fn compile(s: &SelectorSpec) -> Result<Sel, String> {
        Ok(match s {
            SelectorSpec::Name(n) => Sel::Name(n.as_bytes().to_vec()),
            SelectorSpec::Regex(r) => Sel::Regex(compile_regex(&format!("(?i){r}"))?),
        })
    }
}

/// A compiled target: variable, optional selector, count flag, exclusions for it.
#[derive(Debug)]
pub struct Target {
    pub var: Var,
    pub sel: Option<Sel>,
    pub count: bool,
    pub excl: Vec<Sel>,
    /// `!VAR` without selector: the whole variable is excluded.
    pub excluded: bool,
    /// For a TX target that is not one name (a regex selector or the whole
    /// collection): a dense id under which the evaluator caches which TX names it
    /// selects (filled by the evaluator; `u32::MAX` otherwise).
    pub tx_sel: u32,
    /// The memo value sources the target reads, one bit per source (filled by the
    /// evaluator; 0 for a target that reads none).
    pub src_mask: u64,
}

/// A compiled `setvar`.
#[derive(Debug)]
pub struct CSetVar {
    pub tx: bool,
    pub name: MacroText,
    pub op: SetVarOp,
    pub value: MacroText,
    /// `tx.inbound_anomaly_score_plN` the rule adds to, if any.
    pub score_pl: Option<u8>,
}

/// One link of a (possibly chained) rule.
#[derive(Debug)]
pub struct Link {
    pub targets: Vec<Target>,
    pub op: Option<Operator>,
    pub negated: bool,
    pub chain_id: u16,
    pub transforms: Vec<Transform>,
    pub capture: bool,
    pub multi_match: bool,
    pub setvars: Vec<CSetVar>,
    /// Some setvar's name can differ per matching value (921170's
    /// `paramcounter_%{MATCHED_VAR_NAME}`, 922150's numbered content types): every
    /// matching value runs the setvars, as in ModSecurity v3 and Coraza, where
    /// non-disruptive actions run per match. Other last links' setvars (the anomaly
    /// scores) run once per rule match.
    pub each_match: bool,
    pub ctls: Vec<Ctl>,
    /// Unique per link, for the per-thread memo of values a link did not match.
    pub uid: u32,
    /// Whether misses are worth remembering for copied values (TX, MATCHED_*): the
    /// operator costs more than hashing the value.
    pub memo: bool,
    /// Whether the result depends only on the value ([`Operator::value_only`]): misses
    /// over request values are remembered per thread (see `eval::memo`).
    pub pure: bool,
    /// Dense index of the link in its program (filled by the evaluator).
    pub idx: u32,
    /// When every target reads value sources (`eval::memo` numbering) and the link is
    /// pure and counts nothing: those sources. `None`: the link cannot be skipped by
    /// the memo (filled by the evaluator).
    pub memo_srcs: Option<Vec<u16>>,
    /// `memo_srcs` as a bit mask (filled by the evaluator; 0 without memo sources).
    pub memo_mask: u64,
    /// Index of the link's source set among the program's distinct sets (links share
    /// them: the intersection over a set is computed once per phase).
    pub memo_group: u32,
    /// The literal gate ([`super::prefilter`]): when no value of the link's targets,
    /// transformed by its chain, contains one of the gate's literals, the link cannot
    /// match. `None` for links that always run (negated, multiMatch, TX or MATCHED_*
    /// targets, counts, operators without a required literal).
    pub gate: Option<u32>,
    /// The value sources the gate looks at (filled by the evaluator).
    pub gate_srcs: Vec<u16>,
}

/// A compiled rule (the head of a chain and its links).
#[derive(Debug)]
pub struct CRule {
    pub id: u32,
    pub phase: u8,
    pub paranoia_level: u8,
    pub severity: u8,
    pub msg: String,
    pub tags: Vec<String>,
    pub nolog: bool,
    pub links: Vec<Link>,
    pub skip_after: Option<String>,
    pub skip: u32,
    /// Whether some `ctl:ruleRemoveTarget*` of the program names this rule (by id or
    /// tag), so its targets can change per transaction (filled by the evaluator).
    pub target_ctl: bool,
    /// Dense index of the rule in its program (filled by the evaluator).
    pub idx: u32,
}

/// An entry of a phase's rule list.
#[derive(Debug, Clone)]
pub enum Entry {
    Rule(u32),
    Marker(String),
}

/// All rules, compiled, split per phase.
#[derive(Debug)]
pub struct Compiled {
    pub rules: Vec<CRule>,
    /// Entries of phases 1 and 2.
    pub phases: [Vec<Entry>; 2],
    pub chains: usize,
    /// When each transformation chain (by id) can be skipped for the literal scan.
    pub chain_gates: Vec<ChainGate>,
    /// The automaton of every gate's literals.
    pub prefilter: Prefilter,
    /// Per phase (1, 2) and memo value source, the links of that phase's rules reading
    /// it (bit sets over `Link::idx`, filled by the evaluator).
    pub src_users: Vec<u64>,
    /// Per phase (1, 2): the value sources its links read, each with the range of
    /// `u64` words of `src_users` holding its readers (filled by the evaluator).
    pub phase_srcs: [Vec<(u16, u32, u32)>; 2],
    /// Words of a link set that hold the links with memo sources (numbered first, see
    /// `eval::number`; filled by the evaluator).
    pub memo_words: usize,
}

/// Compiles `items`.
pub fn compile(items: Vec<Item>, settings: &CrsSettings) -> Result<Compiled, CrsError> {
    let detection_pl = settings
        .detection_paranoia_level
        .max(settings.paranoia_level);
    let mut rules = Vec::new();
    let mut phases: [Vec<Entry>; 2] = [Vec::new(), Vec::new()];
    let mut chains: HashMap<Vec<Transform>, u16> = HashMap::new();
    let mut gates: Vec<Vec<Vec<u8>>> = Vec::new();
    for item in items {
        match item {
            Item::Marker(m) => {
                phases[0].push(Entry::Marker(m.clone()));
                phases[1].push(Entry::Marker(m));
            }
            Item::Rule(r) => {
                let phase = r.actions.phase.unwrap_or(2);
                let err = |reason: String| CrsError::Parse {
                    file: r.file.clone(),
                    line: r.line,
                    reason,
                };
                let id = r.actions.id.ok_or_else(|| err("rule without id".into()))?;
                if r.actions.paranoia_level() > detection_pl {
                    // Never runs at this level (CRS skips it): check it, do not build it.
                    check_only(&r)?;
                    continue;
                }
                let mut links = Vec::new();
                let mut link: Option<&Rule> = Some(&r);
                while let Some(l) = link {
                    let c = compile_link(l, &mut chains, &mut gates).map_err(|reason| {
                        CrsError::Parse {
                            file: l.file.clone(),
                            line: l.line,
                            reason,
                        }
                    })?;
                    links.push(c);
                    link = l.next.as_deref();
                }
                if !(1..=2).contains(&phase) {
                    continue;
                }
                let idx = u32::try_from(rules.len()).map_err(|_| err("too many rules".into()))?;
                rules.push(CRule {
                    id,
                    phase,
                    paranoia_level: r.actions.paranoia_level(),
                    severity: r.actions.severity.unwrap_or(9),
                    msg: r.actions.msg.clone().unwrap_or_default(),
                    tags: r.actions.tags.clone(),
                    nolog: r.actions.nolog,
                    links,
                    skip_after: r.actions.skip_after.clone(),
                    skip: r.actions.skip,
                    target_ctl: false,
                    idx: 0,
                });
                phases[usize::from(phase - 1)].push(Entry::Rule(idx));
            }
        }
    }
    let mut chain_gates = vec![ChainGate::new(&[]); chains.len()];
    for (t, id) in &chains {
        if let Some(g) = chain_gates.get_mut(usize::from(*id)) {
            *g = ChainGate::new(t);
        }
    }
    let prefilter = Prefilter::build(&gates);
    Ok(Compiled {
        rules,
        phases,
        chains: chains.len(),
        chain_gates,
        prefilter,
        src_users: Vec::new(),
        phase_srcs: [Vec::new(), Vec::new()],
        memo_words: 0,
    })
}

/// Validates a rule that will not run: operator names, regex syntax, selectors.
fn check_only(r: &Rule) -> Result<(), CrsError> {
    let mut link: Option<&Rule> = Some(r);
    while let Some(l) = link {
        let res = match l.op.as_deref() {
            Some("rx") => regex_syntax::ParserBuilder::new()
                .utf8(false)
                .unicode(false)
                .build()
                .parse(&l.op_arg)
                .map(|_| ())
                .or_else(|_| {
                    regex_syntax::Parser::new()
                        .parse(&l.op_arg)
                        .map(|_| ())
                        .map_err(|e| format!("bad regex: {e}"))
                }),
            Some(name) => Operator::compile(name, &l.op_arg).map(|_| ()),
            None => Ok(()),
        };
        res.map_err(|reason| CrsError::Parse {
            file: l.file.clone(),
            line: l.line,
            reason,
        })?;
        link = l.next.as_deref();
    }
    Ok(())
}

fn compile_link(
    r: &Rule,
    chains: &mut HashMap<Vec<Transform>, u16>,
    gates: &mut Vec<Vec<Vec<u8>>>,
) -> Result<Link, String> {
    let mut targets: Vec<Target> = Vec::new();
    for t in &r.targets.include {
        targets.push(Target {
            var: t.var,
            sel: t.selector.as_ref().map(Sel::compile).transpose()?,
            count: t.count,
            excl: Vec::new(),
            excluded: false,
            tx_sel: u32::MAX,
            src_mask: 0,
        });
    }
    for e in &r.targets.exclude {
        add_exclusion(&mut targets, e)?;
    }
    let op = match &r.op {
        Some(name) => Some(Operator::compile(name, &r.op_arg)?),
        None => None,
    };
    // Only operators that cost more than hashing the value and looking it up: string
    // and number comparisons and the byte validators are cheaper than the memo.
    let memo = matches!(
        &op,
        Some(Operator::Rx(_)) | Some(Operator::Pm(_)) | Some(Operator::Sqli) | Some(Operator::Xss)
    );
    let uid =
        u32::try_from(UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).unwrap_or(u32::MAX);
    let next_id = u16::try_from(chains.len()).map_err(|_| "too many transformation chains")?;
    let chain_id = *chains
        .entry(r.actions.transforms.clone())
        .or_insert(next_id);
    let gateable = !r.negated
        && !r.actions.multi_match
        && r.targets.include.iter().all(|t| {
            !t.count
                && !matches!(
                    t.var,
                    Var::Tx
                        | Var::MatchedVar
                        | Var::MatchedVars
                        | Var::MatchedVarName
                        | Var::MatchedVarsNames
                )
        });
    let gate = match (&op, &r.op) {
        (Some(o), Some(name)) if gateable => match op_literals(name, &r.op_arg, o) {
            Some(lits) => {
                gates.push(lits);
                Some(u32::try_from(gates.len() - 1).map_err(|_| "too many gates")?)
            }
            None => None,
        },
        _ => None,
    };
    let pure = op.as_ref().is_some_and(Operator::value_only);
    let setvars: Vec<CSetVar> = r.actions.setvars.iter().map(compile_setvar).collect();
    let each_match = setvars.iter().any(|sv| name_varies_per_match(&sv.name));
    Ok(Link {
        targets,
        op,
        negated: r.negated,
        chain_id,
        transforms: r.actions.transforms.clone(),
        capture: r.actions.capture,
        multi_match: r.actions.multi_match,
        setvars,
        each_match,
        ctls: r.actions.ctls.clone(),
        uid,
        memo,
        pure,
        idx: 0,
        memo_srcs: None,
        memo_mask: 0,
        memo_group: 0,
        gate,
        gate_srcs: Vec::new(),
    })
}

/// Whether a setvar name can differ from one matching value to the next: it reads
/// MATCHED_VAR(_NAME) or a TX variable (a capture, a counter). `%{rule.id}` and the
/// like are fixed per rule, and such a rule's score still adds once.
fn name_varies_per_match(name: &MacroText) -> bool {
    name.parts.iter().any(|p| {
        matches!(
            p,
            MacroPart::Var(MacroVar::Var(
                Var::Tx | Var::MatchedVar | Var::MatchedVarName,
                _
            ))
        )
    })
}

/// Applies `!VAR[:sel]` to the targets of the same variable.
pub fn add_exclusion(targets: &mut [Target], e: &TargetSpec) -> Result<(), String> {
    for t in targets.iter_mut().filter(|t| t.var == e.var) {
        match &e.selector {
            Some(s) => t.excl.push(Sel::compile(s)?),
            None => t.excluded = true,
        }
    }
    Ok(())
}

fn compile_setvar(s: &SetVar) -> CSetVar {
    let score_pl = (s.op == SetVarOp::Add)
        .then(|| s.name.strip_prefix("inbound_anomaly_score_pl"))
        .flatten()
        .and_then(|n| n.parse().ok());
    CSetVar {
        tx: s.collection == "tx",
        name: MacroText::parse(&s.name),
        op: s.op.clone(),
        value: MacroText::parse(&s.value),
        score_pl,
    }
}
