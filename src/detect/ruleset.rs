//! Rule definitions compiled into one matcher per field.
//!
//! Every literal of every rule on a field goes into that field's single Aho-Corasick
//! automaton (or exact-match table); each value is scanned once, whatever the number
//! of rules. Regexes are gated ([`gate`]): the literals every match of a field's
//! regexes must contain go into one more automaton per field, and a regex runs only
//! on a value holding a literal of each of its clauses (most values hold none), and
//! only while its test has not hit yet. The rules' boolean trees are then evaluated
//! over the tests that hit, and only for rules with a test that hit: an untouched
//! rule's answer is known at compile time.

use std::collections::HashMap;

use super::evidence::EvidenceRegex;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;

use super::alert::Category;
use super::fields::{Field, FieldSet, FieldValues};
use super::rules::{Condition, Op, RuleDefs, Threshold};

mod compile;
mod exact;
mod fewbytes;
mod gate;
mod hits;
mod memo;
mod pairs;
mod raw;
mod regexes;
mod scan;
#[cfg(test)]
mod tests;

use exact::ExactShape;
use hits::{eval, Bits, Scratch, SCRATCH};
use regexes::{AnyLiteral, FieldGate, LazyRegex};

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
    exact: HashMap<Vec<u8>, Vec<LeafId>, ahash::RandomState>,
    /// The lengths and first bytes of the `exact` keys: most values fail it and need
    /// no hash.
    exact_shape: ExactShape,
    prefixes: Vec<(Vec<u8>, LeafId)>,
    suffixes: Vec<(Vec<u8>, LeafId)>,
    contains_patterns: Vec<(Vec<u8>, LeafId)>,
    contains: Option<AhoCorasick>,
    /// A search for any of the `contains` literals in a (lowercase) value: most
    /// values hold none, and then need no overlapping search.
    contains_any: Option<AnyLiteral>,
    regex_sources: Vec<(String, LeafId)>,
    /// Per regex, compiled the first time its gate lets a value through.
    regexes: Vec<LazyRegex>,
    /// The regexes' required literals, one automaton for the field.
    gate: Option<FieldGate>,
    /// Per regex: the evidence regex that elides wildcard spans, built the first
    /// time the regex's rule matches (`None`: keep `…` only).
    evidence: Vec<LazyEvidence>,
    numeric: Vec<(Cmp, u64, LeafId)>,
    exists: Vec<LeafId>,
    /// Whether values that no test hits are remembered per thread ([`memo`]): the
    /// field has costly tests (literals, regexes) and none that hits on any value of
    /// a kind (numbers, existence).
    memo: bool,
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
    /// Its tests' leaves (allotted in order as the rule was compiled).
    leaves: std::ops::Range<LeafId>,
    /// Whether its condition holds when none of its tests hit (`not` trees).
    holds_untouched: bool,
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
    /// Unique in the process: a thread's memo of misses ([`memo`]) is for one set.
    id: u64,
    rules: Vec<Rule>,
    fields: Vec<(Field, FieldMatcher)>,
    /// By field of `fields`: its [`Field::filled_bit`].
    filled_bits: Vec<u64>,
    cidrs: Vec<(Vec<IpNet>, LeafId)>,
    leaf_count: usize,
    headers: Vec<String>,
    /// The fields some rule tests or counts distinct values of.
    read: FieldSet,
    /// By leaf: the index of the rule it belongs to.
    leaf_rule: Vec<u32>,
    /// Bit per rule: whether it holds when none of its tests hit (a `not` tree); with
    /// the rules whose tests hit, the only rules evaluated.
    holds_untouched: Vec<u64>,
    /// The matchers of header names and of header values, when a value can be ruled
    /// out before it is copied (see [`raw`]).
    raw_names: Option<usize>,
    raw_values: Option<usize>,
    /// Tests only: evaluate as before the fast paths (every regex on every value,
    /// every rule's tree), the reference the fast paths are checked against.
    #[cfg(test)]
    reference: bool,
}

impl RuleSet {
    /// The compiled rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The fields the rules read: extraction need not copy the others
    /// ([`FieldValues::extract_for`]).
    pub fn fields_read(&self) -> &FieldSet {
        &self.read
    }

    /// Header names that `header.<name>` fields refer to.
    pub fn header_names(&self) -> &[String] {
        &self.headers
    }

    /// Every rule whose condition holds for these values (thresholds not applied).
    pub fn evaluate<'r>(&'r self, values: &FieldValues) -> Vec<Match<'r>> {
        let mut out = Vec::new();
        self.evaluate_each(values, |m| out.push(m));
        out
    }

    /// Calls `found` with every rule whose condition holds, in rule order (as
    /// [`RuleSet::evaluate`], without collecting them).
    pub fn evaluate_each<'r>(&'r self, values: &FieldValues, mut found: impl FnMut(Match<'r>)) {
        // This thread's hit storage, lent for the call (a fresh one if it is lent
        // already, which only a nested call would do).
        let mut scratch = SCRATCH.take();
        self.hits(values, &mut scratch);
        scratch.mark_touched(&self.leaf_rule, self.holds_untouched.len());
        // Only the rules a test of which hit, and those that hold untouched, can
        // match: their bits, in rule order.
        let candidates = self
            .holds_untouched
            .iter()
            .zip(&scratch.touched)
            .enumerate()
            .flat_map(|(w, (&a, &b))| Bits(a | b).map(move |bit| w * 64 + bit));
        #[cfg(test)]
        let candidates: Box<dyn Iterator<Item = usize>> = if self.reference {
            Box::new(0..self.rules.len())
        } else {
            Box::new(candidates)
        };
        for index in candidates {
            let Some(rule) = self.rules.get(index) else {
                continue;
            };
            let touched = scratch.is_touched(index);
            #[cfg(test)]
            let touched = touched || self.reference;
            let result = if touched {
                eval(&rule.node, &scratch)
            } else {
                // None of its tests hit: the answer does not depend on the values.
                rule.holds_untouched.then_some(None)
            };
            let Some(hit) = result else {
                continue;
            };
            let hit = hit.map(|h| {
                if rule.threshold.is_some() {
                    // Its alert shows the count crossed, never a token: only the
                    // upload part is kept.
                    Hit {
                        evidence: Vec::new(),
                        upload: h.upload,
                    }
                } else {
                    h.hit(self, values)
                }
            });
            found(Match { rule, index, hit });
        }
        if scratch.worth_keeping() {
            SCRATCH.set(scratch);
        }
    }
}
