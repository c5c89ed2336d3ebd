//! One transaction's test hits: which leaves of the rules' trees hit, and where each
//! hit's evidence lies, in a leaf table reused from one transaction to the next; and
//! the evaluation of a rule's tree over them.

use super::{FieldValues, Hit, LeafId, Node, RuleSet};
use crate::detect::evidence::ELISION;

/// A leaf without a hit, in the leaf table.
pub(super) const NO_HIT: u32 = u32::MAX;
/// Leaves a thread's spare leaf table may keep room for (4 bytes each); a larger
/// table is freed after the call.
pub(super) const MAX_SPARE_LEAVES: usize = 64 * 1024;
/// Hits a thread's spare hit list may keep room for.
pub(super) const MAX_SPARE_HITS: usize = 4 * 1024;

/// The storage of one transaction's hits, reused from one transaction to the next: a
/// fresh leaf table per transaction was the largest allocation of a small
/// transaction's detection, slow to allocate and free.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// By leaf: the index of its hit in `list`, or [`NO_HIT`].
    pub(super) slots: Vec<u32>,
    pub(super) list: Vec<LeafHit>,
    /// Per clause of the field gate being checked: whether the value satisfies it,
    /// once asked (see [`super::regexes::FieldGate`]).
    pub(super) present: Vec<u8>,
    /// Bit per rule: whether one of its tests hit (filled from `list` after the scan).
    pub(super) touched: Vec<u64>,
    /// Values known to hit nothing, kept from one transaction to the next (boxed: the
    /// scratch is moved in and out of its thread slot twice a transaction).
    pub(super) memo: Option<Box<super::memo::MissMemo>>,
}

impl Scratch {
    /// Emptied for a rule set of `leaves` leaves.
    pub(super) fn reset(&mut self, leaves: usize) {
        self.slots.clear();
        self.slots.resize(leaves, NO_HIT);
        self.list.clear();
    }

    /// Notes a hit of `leaf`, unless it hit already (the first hit is its evidence).
    pub(super) fn record(&mut self, leaf: LeafId, token: Token, upload: Option<usize>) {
        if let Some(slot) = self.slots.get_mut(leaf) {
            if *slot == NO_HIT {
                *slot = u32::try_from(self.list.len()).unwrap_or(NO_HIT);
                self.list.push(LeafHit {
                    token,
                    upload,
                    leaf,
                });
            }
        }
    }

    /// Whether leaf `leaf` hit already.
    pub(super) fn hit(&self, leaf: LeafId) -> bool {
        self.slots.get(leaf).is_some_and(|&s| s != NO_HIT)
    }

    /// Leaf `leaf`'s hit, if it hit.
    pub(super) fn get(&self, leaf: LeafId) -> Option<&LeafHit> {
        let i = *self.slots.get(leaf)?;
        self.list.get(i as usize)
    }

    /// Whether the storage is small enough to keep for the next transaction.
    pub(super) fn worth_keeping(&self) -> bool {
        self.slots.capacity() <= MAX_SPARE_LEAVES
            && self.list.capacity() <= MAX_SPARE_HITS
            && self.touched.capacity() <= MAX_SPARE_LEAVES / 64
    }

    /// Marks, in `touched`, the rule of every leaf that hit (`leaf_rule`: leaf to rule
    /// index), for `words` words of rule bits.
    pub(super) fn mark_touched(&mut self, leaf_rule: &[u32], words: usize) {
        self.touched.clear();
        self.touched.resize(words, 0);
        for h in &self.list {
            if let Some(&r) = leaf_rule.get(h.leaf) {
                if let Some(w) = self.touched.get_mut(r as usize / 64) {
                    *w |= 1 << (r % 64);
                }
            }
        }
    }

    /// Whether rule `index` was marked touched.
    pub(super) fn is_touched(&self, index: usize) -> bool {
        self.touched
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }
}

thread_local! {
    /// This thread's hit storage, lent for one evaluation.
    pub(super) static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Which literal list of a field's matcher a literal is in.
#[derive(Debug, Clone, Copy)]
pub(super) enum Literal {
    Prefix,
    Suffix,
    Contains,
}

/// Where a test's evidence lies, until a rule that matched needs it as bytes. Fields
/// are indexes into the rule set's matchers, values into that field's values.
#[derive(Debug, Clone, Copy)]
pub(super) enum Token {
    /// The value tested.
    Value { field: usize, value: usize },
    /// A rule's literal.
    Literal {
        field: usize,
        list: Literal,
        index: usize,
    },
    /// Regex `index` of the field matched the value: its fixed tokens, wildcard
    /// spans elided.
    Regex {
        field: usize,
        index: usize,
        value: usize,
    },
    /// The client address a CIDR test matched.
    Address(std::net::IpAddr),
}

/// A test that hit, and the upload part its value came from.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeafHit {
    pub(super) token: Token,
    pub(super) upload: Option<usize>,
    /// The leaf that hit (its rule is marked touched).
    pub(super) leaf: LeafId,
}

impl LeafHit {
    /// The evidence as a [`Hit`] carries it, from the rule set and values that hit.
    pub(super) fn hit(&self, set: &RuleSet, values: &FieldValues) -> Hit {
        let matcher = |field: usize| set.fields.get(field);
        let value = |field: usize, value: usize| {
            matcher(field)
                .and_then(|(f, _)| values.get(*f).get(value))
                .map_or(&[][..], |v| v.bytes)
        };
        let evidence = match self.token {
            Token::Value { field, value: v } => value(field, v).to_vec(),
            Token::Literal { field, list, index } => matcher(field)
                .and_then(|(_, m)| match list {
                    Literal::Prefix => m.prefixes.get(index),
                    Literal::Suffix => m.suffixes.get(index),
                    Literal::Contains => m.contains_patterns.get(index),
                })
                .map(|(literal, _)| literal.clone())
                .unwrap_or_default(),
            // Only the rule's fixed tokens: wildcard spans become `…`.
            Token::Regex {
                field,
                index,
                value: v,
            } => matcher(field)
                .and_then(|(_, m)| m.evidence.get(index))
                .and_then(|e| e.get())
                .and_then(|e| e.evidence(value(field, v)))
                .unwrap_or_else(|| ELISION.as_bytes().to_vec()),
            Token::Address(ip) => ip.to_string().into_bytes(),
        };
        Hit {
            evidence,
            upload: self.upload,
        }
    }
}

/// Evaluates a node: `None` if false, `Some(evidence)` if true (evidence may be absent
/// when truth came from a `not`).
pub(super) fn eval<'h>(node: &Node, hits: &'h Scratch) -> Option<Option<&'h LeafHit>> {
    match node {
        Node::Leaf(l) => hits.get(*l).map(Some),
        Node::All(items) => {
            let mut evidence = None;
            for i in items {
                let e = eval(i, hits)?;
                // Prefer evidence from a test on an upload, then the first one.
                evidence = match (evidence, e) {
                    (None, e) => e,
                    (Some(prev), Some(new)) if prev.upload.is_none() && new.upload.is_some() => {
                        Some(new)
                    }
                    (prev, _) => prev,
                };
            }
            Some(evidence)
        }
        Node::Any(items) => items.iter().find_map(|i| eval(i, hits)),
        Node::Not(inner) => match eval(inner, hits) {
            Some(_) => None,
            None => Some(None),
        },
    }
}

/// The set bits of a word, lowest first.
pub(super) struct Bits(pub(super) u64);

impl Iterator for Bits {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(bit)
    }
}
