//! Rule definitions compiled into one matcher per field.
//!
//! Every literal of every rule on a field goes into that field's single Aho-Corasick
//! automaton (or exact-match table), every regex into its field's `RegexSet`; each
//! value is scanned once, whatever the number of rules. The rules' boolean trees are
//! then evaluated over the set of tests that hit.

use std::collections::HashMap;

use super::evidence::EvidenceRegex;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;
use regex::bytes::{RegexSet, RegexSetBuilder};

use super::alert::Category;
use super::fields::{Field, FieldValues};
use super::rules::{Condition, Op, RuleDefs, Threshold};

mod hits;
#[cfg(test)]
mod tests;

use hits::{eval, Literal, Scratch, Token, SCRATCH};

/// Compiled regexes are capped at this size each (guards against pathological rules).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

type LeafId = usize;

/// Why a rule set could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(String);

/// What a test hit: the matched token and the upload part it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub evidence: Vec<u8>,
    pub upload: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Default)]
struct FieldMatcher {
    exact: HashMap<Vec<u8>, Vec<LeafId>>,
    prefixes: Vec<(Vec<u8>, LeafId)>,
    suffixes: Vec<(Vec<u8>, LeafId)>,
    contains_patterns: Vec<(Vec<u8>, LeafId)>,
    contains: Option<AhoCorasick>,
    regex_sources: Vec<(String, LeafId)>,
    regex_set: Option<RegexSet>,
    /// Per regex: the evidence regex that elides wildcard spans, built the first
    /// time the regex's rule matches (`None`: keep `…` only).
    evidence: Vec<LazyEvidence>,
    numeric: Vec<(Cmp, u64, LeafId)>,
    exists: Vec<LeafId>,
}

/// A rule regex's evidence regex, built on first use: building one is a capturing
/// compile of the whole regex, and at start-up they cost a third of the rules'
/// compile time, for the few rules that ever match.
#[derive(Debug)]
struct LazyEvidence {
    source: String,
    regex: std::sync::OnceLock<Option<EvidenceRegex>>,
}

impl LazyEvidence {
    fn new(source: &str) -> LazyEvidence {
        LazyEvidence {
            source: source.to_owned(),
            regex: std::sync::OnceLock::new(),
        }
    }

    /// The evidence regex (`None` if the source cannot be analysed).
    fn get(&self) -> Option<&EvidenceRegex> {
        self.regex
            .get_or_init(|| EvidenceRegex::new(&self.source))
            .as_ref()
    }
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(LeafId),
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: u32,
    pub name: String,
    pub signature: String,
    pub category: Category,
    pub severity: u8,
    pub threshold: Option<Threshold>,
    pub distinct_field: Option<Field>,
    node: Node,
}

/// A rule that matched one transaction, with its evidence.
#[derive(Debug, Clone)]
pub struct Match<'r> {
    pub rule: &'r Rule,
    /// The rule's index in [`RuleSet::rules`].
    pub index: usize,
    pub hit: Option<Hit>,
}

/// All rules, compiled.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    fields: Vec<(Field, FieldMatcher)>,
    cidrs: Vec<(Vec<IpNet>, LeafId)>,
    leaf_count: usize,
    headers: Vec<String>,
}

impl RuleSet {
    /// Compiles loaded rule definitions.
    pub fn compile(defs: RuleDefs) -> Result<RuleSet, CompileError> {
        let mut set = RuleSet {
            headers: defs.headers,
            ..RuleSet::default()
        };
        let mut matchers: HashMap<Field, FieldMatcher> = HashMap::new();
        for def in &defs.rules {
            let node = set.add_condition(&def.condition, &mut matchers);
            set.rules.push(Rule {
                id: def.id,
                name: def.name.clone(),
                signature: def.signature.clone(),
                category: def.category,
                severity: def.severity,
                threshold: def.threshold.clone(),
                distinct_field: def.distinct_field,
                node,
            });
        }
        let mut fields: Vec<(Field, FieldMatcher)> = matchers.into_iter().collect();
        fields.sort_by_key(|(f, _)| f.slot(Field::fixed_slots()));
        for (field, m) in fields.iter_mut() {
            if !m.contains_patterns.is_empty() {
                let ac = AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(m.contains_patterns.iter().map(|(p, _)| p))
                    .map_err(|e| CompileError(format!("field {field:?}: {e}")))?;
                m.contains = Some(ac);
            }
            if !m.regex_sources.is_empty() {
                let sources: Vec<&str> = m.regex_sources.iter().map(|(s, _)| s.as_str()).collect();
                let set_built = RegexSetBuilder::new(&sources)
                    .case_insensitive(true)
                    .unicode(false)
                    .size_limit(REGEX_SIZE_LIMIT * sources.len().max(1))
                    .build()
                    .map_err(|e| CompileError(format!("field {field:?}: {e}")))?;
                m.regex_set = Some(set_built);
                // Each source compiled on its own, within REGEX_SIZE_LIMIT, when its rule
                // was read (rules::condition::parse_op, the only maker of Op::Regex):
                // compiling it again here doubled the start-up time.
                m.evidence = sources.iter().map(|s| LazyEvidence::new(s)).collect();
            }
        }
        set.fields = fields;
        Ok(set)
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Header names that `header.<name>` fields refer to.
    pub fn header_names(&self) -> &[String] {
        &self.headers
    }

    fn new_leaf(&mut self) -> LeafId {
        self.leaf_count += 1;
        self.leaf_count - 1
    }

    fn add_condition(
        &mut self,
        c: &Condition,
        matchers: &mut HashMap<Field, FieldMatcher>,
    ) -> Node {
        match c {
            Condition::All(items) => Node::All(
                items
                    .iter()
                    .map(|i| self.add_condition(i, matchers))
                    .collect(),
            ),
            Condition::Any(items) => Node::Any(
                items
                    .iter()
                    .map(|i| self.add_condition(i, matchers))
                    .collect(),
            ),
            Condition::Not(inner) => Node::Not(Box::new(self.add_condition(inner, matchers))),
            Condition::Test { field, op } => {
                let leaf = self.new_leaf();
                if let Op::Cidr(nets) = op {
                    self.cidrs.push((nets.clone(), leaf));
                    return Node::Leaf(leaf);
                }
                let m = matchers.entry(*field).or_default();
                match op {
                    Op::In(values) => {
                        for v in values {
                            m.exact.entry(v.clone()).or_default().push(leaf);
                        }
                    }
                    Op::Prefix(values) => {
                        m.prefixes.extend(values.iter().map(|v| (v.clone(), leaf)))
                    }
                    Op::Suffix(values) => {
                        m.suffixes.extend(values.iter().map(|v| (v.clone(), leaf)))
                    }
                    Op::Contains(values) => m
                        .contains_patterns
                        .extend(values.iter().map(|v| (v.clone(), leaf))),
                    Op::Regex(src) => m.regex_sources.push((src.clone(), leaf)),
                    Op::Lt(n) => m.numeric.push((Cmp::Lt, *n, leaf)),
                    Op::Le(n) => m.numeric.push((Cmp::Le, *n, leaf)),
                    Op::Gt(n) => m.numeric.push((Cmp::Gt, *n, leaf)),
                    Op::Ge(n) => m.numeric.push((Cmp::Ge, *n, leaf)),
                    Op::Exists => m.exists.push(leaf),
                    Op::Cidr(_) => {}
                }
                Node::Leaf(leaf)
            }
        }
    }

    /// Every rule whose condition holds for these values (thresholds not applied).
    pub fn evaluate<'r>(&'r self, values: &FieldValues) -> Vec<Match<'r>> {
        // This thread's hit storage, lent for the call (a fresh one if it is lent
        // already, which only a nested call would do).
        let mut scratch = SCRATCH.take();
        self.hits(values, &mut scratch);
        let matches = self
            .rules
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| {
                eval(&rule.node, &scratch).map(|hit| Match {
                    rule,
                    index,
                    hit: hit.map(|h| h.hit(self, values)),
                })
            })
            .collect();
        if scratch.worth_keeping() {
            SCRATCH.set(scratch);
        }
        matches
    }

    /// Fills `scratch` with the tests that hit. A hit notes where its evidence lies;
    /// only the rules that match turn it into bytes (a regex's evidence costs a
    /// second, capturing search).
    fn hits(&self, values: &FieldValues, scratch: &mut Scratch) {
        scratch.reset(self.leaf_count);
        for (fi, (field, m)) in self.fields.iter().enumerate() {
            for (vi, value) in values.get(*field).iter().enumerate() {
                let v = value.bytes.as_slice();
                let this = Token::Value {
                    field: fi,
                    value: vi,
                };
                let literal = |list: Literal, index: usize| Token::Literal {
                    field: fi,
                    list,
                    index,
                };
                if let Some(leaves) = m.exact.get(v) {
                    for &leaf in leaves {
                        scratch.record(leaf, this, value.upload);
                    }
                }
                for (pi, (p, leaf)) in m.prefixes.iter().enumerate() {
                    if v.starts_with(p) {
                        scratch.record(*leaf, literal(Literal::Prefix, pi), value.upload);
                    }
                }
                for (si, (s, leaf)) in m.suffixes.iter().enumerate() {
                    if v.ends_with(s) {
                        scratch.record(*leaf, literal(Literal::Suffix, si), value.upload);
                    }
                }
                if let Some(ac) = &m.contains {
                    for found in ac.find_overlapping_iter(v) {
                        // The literal itself, never the value's own bytes around it.
                        let ci = found.pattern().as_usize();
                        if let Some((_, leaf)) = m.contains_patterns.get(ci) {
                            scratch.record(*leaf, literal(Literal::Contains, ci), value.upload);
                        }
                    }
                }
                if let Some(set) = &m.regex_set {
                    for i in set.matches(v).iter() {
                        let token = Token::Regex {
                            field: fi,
                            index: i,
                            value: vi,
                        };
                        if let Some((_, leaf)) = m.regex_sources.get(i) {
                            scratch.record(*leaf, token, value.upload);
                        }
                    }
                }
                if !m.numeric.is_empty() {
                    if let Some(n) = std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        for (cmp, limit, leaf) in &m.numeric {
                            let ok = match cmp {
                                Cmp::Lt => n < *limit,
                                Cmp::Le => n <= *limit,
                                Cmp::Gt => n > *limit,
                                Cmp::Ge => n >= *limit,
                            };
                            if ok {
                                scratch.record(*leaf, this, value.upload);
                            }
                        }
                    }
                }
                for leaf in &m.exists {
                    scratch.record(*leaf, this, value.upload);
                }
            }
        }
        if let Some(src) = values.src {
            for (nets, leaf) in &self.cidrs {
                if nets.iter().any(|n| n.contains(&src)) {
                    scratch.record(*leaf, Token::Address(src), None);
                }
            }
        }
    }
}
