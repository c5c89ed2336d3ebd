//! One transaction's test hits: which leaves of the rules' trees hit, and where each
//! hit's evidence lies, in a leaf table reused from one transaction to the next; and
//! the evaluation of a rule's tree over them.

use super::{FieldMatcher, Hit, LeafId, Node};
use crate::detect::evidence::ELISION;

/// A leaf without a hit, in the leaf table.
pub(super) const NO_HIT: u32 = u32::MAX;
/// Leaves a thread's spare leaf table may keep room for (4 bytes each); a larger
/// table is freed after the call.
pub(super) const MAX_SPARE_LEAVES: usize = 64 * 1024;

thread_local! {
    /// This thread's leaf table, reused from one transaction to the next: a fresh
    /// one per transaction was the largest allocation of a small transaction's
    /// detection, slow to allocate and free.
    pub(super) static SLOTS: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The tests that hit one transaction.
pub(super) struct Hits<'h, 'a> {
    /// By leaf: the index of its hit in `list`, or [`NO_HIT`].
    pub(super) slots: &'h [u32],
    pub(super) list: &'h [LeafHit<'a>],
}

impl<'h, 'a> Hits<'h, 'a> {
    /// Leaf `leaf`'s hit, if it hit.
    pub(super) fn get(&self, leaf: LeafId) -> Option<&'h LeafHit<'a>> {
        let i = *self.slots.get(leaf)?;
        self.list.get(i as usize)
    }
}

/// Where a test's evidence lies, until a rule that matched needs it as bytes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Token<'a> {
    /// The evidence itself: a rule's literal, or the value tested.
    Bytes(&'a [u8]),
    /// Regex `index` of `matcher` matched `value`: its fixed tokens, wildcard spans
    /// elided.
    Regex {
        matcher: &'a FieldMatcher,
        index: usize,
        value: &'a [u8],
    },
    /// The client address a CIDR test matched.
    Address(std::net::IpAddr),
}

/// A test that hit, and the upload part its value came from.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeafHit<'a> {
    pub(super) token: Token<'a>,
    pub(super) upload: Option<usize>,
}

impl LeafHit<'_> {
    /// The evidence as a [`Hit`] carries it.
    pub(super) fn hit(&self) -> Hit {
        let evidence = match self.token {
            Token::Bytes(b) => b.to_vec(),
            // Only the rule's fixed tokens: wildcard spans become `…`.
            Token::Regex {
                matcher,
                index,
                value,
            } => matcher
                .evidence
                .get(index)
                .and_then(|e| e.as_ref())
                .and_then(|e| e.evidence(value))
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
pub(super) fn eval<'h, 'a>(node: &Node, hits: &Hits<'h, 'a>) -> Option<Option<&'h LeafHit<'a>>> {
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
