//! Where a transaction's field values live, reused from one transaction to the next.
//!
//! Extraction pushes some 30 to 60 small values per transaction. Allocating each one
//! (and each slot's list) was most of the allocations of a short connection, so a
//! [`FieldValues`] keeps its lists and value buffers when it is reset, and each thread
//! keeps one spare [`FieldValues`] that [`super::PooledValues`] takes and gives back. What is
//! kept is bounded by [`MAX_SPARE_VALUES_PER_SLOT`] and [`MAX_KEPT_VALUE_BYTES`].

use std::net::IpAddr;

use super::lowercase::{append_lowercase, eq_ignore_case};
use super::values::{Span, Values};
use super::Field;
use crate::detect::normalize::Decoded;

/// Room for values kept per slot between transactions (more is freed).
pub const MAX_SPARE_VALUES_PER_SLOT: usize = 64;
/// Bits of the fixed slots in a [`FieldSet`].
const FIXED_MASK: u64 = (1 << 30) - 1;

/// A set of fixed fields (by slot): the ones a rule set reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldSet(u64);

impl FieldSet {
    /// Every field.
    pub const ALL: FieldSet = FieldSet(u64::MAX);

    /// Adds a field (header fields are always extracted: they exist only for rules).
    pub fn insert(&mut self, f: Field) {
        let slot = f.slot(Field::fixed_slots());
        if slot < 64 {
            self.0 |= 1 << slot;
        }
    }

    /// Whether the set holds `f`.
    pub fn contains(&self, f: Field) -> bool {
        let slot = f.slot(Field::fixed_slots());
        slot >= 64 || self.0 & (1 << slot) != 0
    }
}

/// The value bytes a [`FieldValues`] keeps room for between transactions (bodies and
/// upload prefixes can be 64 KiB; most transactions' values fit in 2 KiB).
pub const MAX_KEPT_VALUE_BYTES: usize = 256 * 1024;

/// Every field value of one transaction. Values' bytes sit back to back in one
/// buffer and each field lists its values' spans: a value costs one copy, and no
/// allocation once the buffers have grown.
#[derive(Debug, Default)]
pub struct FieldValues {
    /// Every value's bytes, lowercased.
    bytes: Vec<u8>,
    /// Per slot, its values' spans in `bytes`.
    slots: Vec<Vec<Span>>,
    fixed: usize,
    /// Fixed slots no rule reads (bit `slot`): values pushed to them are dropped.
    unread: u64,
    /// Bit per field holding a value ([`Field::filled_bit`]): most of the fields a
    /// rule set reads are empty in a given request, and are skipped on this bit.
    filled: u64,
    pub src: Option<IpAddr>,
    /// The method after overrides, upper case (computed once, shared with the policy).
    pub effective_method: String,
    /// Every method reading, the effective one first (see
    /// [`crate::detect::readings::method_readings`]).
    pub methods: Vec<String>,
    /// Method strings kept for the next transaction's readings (at most
    /// [`crate::detect::readings::MAX_METHOD_READINGS`]).
    method_spare: Vec<String>,
    /// The normalized path with its case kept (the policy compares it with config paths).
    pub path: Vec<u8>,
    /// Decoded query and form parameters: room reused from one transaction to the
    /// next (only during extraction do they hold a request's parameters).
    pub(super) query_params: Vec<(Decoded, Decoded)>,
    pub(super) body_params: Vec<(Decoded, Decoded)>,
}

impl FieldValues {
    /// The values of a field.
    pub fn get(&self, f: Field) -> Values<'_> {
        let slot = f.slot(self.fixed);
        Values {
            bytes: &self.bytes,
            spans: self.slots.get(slot).map_or(&[], Vec::as_slice),
        }
    }

    /// Appends a value, lowercased (inlined: a value no rule reads costs a test).
    #[inline]
    pub(super) fn push(&mut self, f: Field, bytes: &[u8], upload: Option<usize>) {
        let slot = f.slot(self.fixed);
        if slot < 64 && self.unread & (1 << slot) != 0 {
            return;
        }
        self.push_to(slot, bytes, upload);
    }

    /// Appends a value to slot `slot`, lowercased.
    fn push_to(&mut self, slot: usize, bytes: &[u8], upload: Option<usize>) {
        let Some(spans) = self.slots.get_mut(slot) else {
            return;
        };
        let start = self.bytes.len();
        append_lowercase(&mut self.bytes, bytes);
        self.filled |= slot_bit(slot, self.fixed);
        spans.push(Span {
            start,
            end: self.bytes.len(),
            upload,
        });
    }

    /// Appends to `f` the value just pushed to `from` (`bytes` again), sharing its
    /// bytes when `from` kept it: a header's value is also its own field's
    /// (`user_agent`, `header.<name>`), and need not be copied twice.
    #[inline]
    pub(super) fn push_again(&mut self, f: Field, from: Field, bytes: &[u8]) {
        let slot = f.slot(self.fixed);
        if slot < 64 && self.unread & (1 << slot) != 0 {
            return;
        }
        let last = if self.wanted(from) {
            self.slots
                .get(from.slot(self.fixed))
                .and_then(|spans| spans.last().copied())
        } else {
            None
        };
        match last {
            Some(span) if span.end - span.start == bytes.len() && span.upload.is_none() => {
                if let Some(spans) = self.slots.get_mut(slot) {
                    spans.push(span);
                    self.filled |= slot_bit(slot, self.fixed);
                }
            }
            _ => self.push_to(slot, bytes, None),
        }
    }

    /// Pushes every method reading ([`FieldValues::methods`]) to `f`; a reading that
    /// is the method as sent (`sent`, pushed to `from` just before) shares its copy:
    /// the effective method is nearly always the method itself. `overridden`: whether
    /// some reading is not `sent` (when false, none needs comparing).
    pub(super) fn push_methods(&mut self, f: Field, from: Field, sent: &[u8], overridden: bool) {
        let slot = f.slot(self.fixed);
        if slot < 64 && self.unread & (1 << slot) != 0 {
            return;
        }
        let methods = std::mem::take(&mut self.methods);
        for m in &methods {
            if !overridden || eq_ignore_case(m.as_bytes(), sent) {
                self.push_again(f, from, m.as_bytes());
            } else {
                self.push_to(slot, m.as_bytes(), None);
            }
        }
        self.methods = methods;
    }

    /// Fills [`FieldValues::methods`] with the request's method readings, reusing
    /// the strings of the previous transaction's.
    pub(super) fn read_methods(
        &mut self,
        txn: &crate::http::HttpTransaction,
        query_params: &[(super::normalize::Decoded, super::normalize::Decoded)],
        body_params: &[(super::normalize::Decoded, super::normalize::Decoded)],
    ) {
        super::readings::method_readings_into(
            txn,
            query_params,
            body_params,
            &mut self.methods,
            &mut self.method_spare,
        );
    }

    /// The fields holding a value, a bit each ([`Field::filled_bit`]; header fields
    /// share one): a field whose bit is clear has no value.
    pub fn filled(&self) -> u64 {
        // Bits follow the standard slot layout; storage laid out otherwise claims all.
        if self.fixed == Field::fixed_slots() {
            self.filled
        } else {
            u64::MAX
        }
    }

    /// Whether values of `f` are kept (see [`FieldValues::extract_for`]).
    pub(super) fn wanted(&self, f: Field) -> bool {
        let slot = f.slot(self.fixed);
        slot >= 64 || self.unread & (1 << slot) == 0
    }

    /// Drops, from now on, values of the fixed fields not in `read` (the policy and
    /// anomaly labels are always kept).
    pub(super) fn keep_only(&mut self, read: &FieldSet) {
        self.unread = !read.0 & !(1 << Field::Policy.slot(self.fixed)) & FIXED_MASK;
    }

    /// Pushes a decoded value, and its SQL-comment-folded form when that differs
    /// (`UNION/**/SELECT` is `UNION SELECT` to MySQL).
    pub(super) fn push_value_forms(&mut self, f: Field, text: &[u8]) {
        if !self.wanted(f) {
            return;
        }
        self.push(f, text, None);
        if let Some(folded) = super::fold_sql_comments(text) {
            self.push(f, &folded, None);
        }
    }

    /// Adds a policy outcome or anomaly marker.
    pub fn push_label(&mut self, f: Field, label: &str) {
        self.push(f, label.as_bytes(), None);
    }

    /// Empties every field for the next transaction, keeping (bounded) storage.
    pub(super) fn reset(&mut self, fixed: usize, headers: usize) {
        let slots = fixed + headers;
        let empty = |spans: &mut Vec<Span>| {
            spans.clear();
            spans.shrink_to(MAX_SPARE_VALUES_PER_SLOT);
        };
        if self.fixed == fixed && self.slots.len() == slots {
            // The same layout: only the slots values went to need emptying (a slot's
            // list grows only by a push, which set its bit).
            let mut bits = self.filled;
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let range = if bit == HEADER_FILLED_BIT {
                    bit.min(fixed)..slots
                } else {
                    bit..bit + 1
                };
                self.slots
                    .get_mut(range)
                    .unwrap_or_default()
                    .iter_mut()
                    .for_each(empty);
            }
        } else {
            self.fixed = fixed;
            self.slots.truncate(slots);
            self.slots.iter_mut().for_each(empty);
            self.slots.resize_with(slots, Vec::new);
        }
        self.bytes.clear();
        self.bytes.shrink_to(MAX_KEPT_VALUE_BYTES);
        self.unread = 0;
        self.filled = 0;
        self.src = None;
        self.effective_method.clear();
        self.method_spare.append(&mut self.methods);
        self.method_spare
            .truncate(crate::detect::readings::MAX_METHOD_READINGS);
        self.path.clear();
        self.path.shrink_to(MAX_KEPT_VALUE_BYTES);
        keep_spare_params(&mut self.query_params);
        keep_spare_params(&mut self.body_params);
    }
}

/// Parameter pairs kept as room between transactions (more are freed).
pub const MAX_SPARE_PARAMS: usize = 32;
/// Room kept per decoded parameter name or value between transactions.
pub const MAX_SPARE_PARAM_BYTES: usize = 1024;

/// Bounds the spare parameter pairs kept for the next transaction.
fn keep_spare_params(pairs: &mut Vec<(Decoded, Decoded)>) {
    pairs.truncate(MAX_SPARE_PARAMS);
    for (name, value) in pairs.iter_mut() {
        name.text.shrink_to(MAX_SPARE_PARAM_BYTES);
        value.text.shrink_to(MAX_SPARE_PARAM_BYTES);
    }
}

/// The [`FieldValues::filled`] bit of slot `slot` (of `fixed` fixed slots).
fn slot_bit(slot: usize, fixed: usize) -> u64 {
    if slot < fixed {
        1 << slot.min(HEADER_FILLED_BIT)
    } else {
        1 << HEADER_FILLED_BIT
    }
}

/// The [`FieldValues::filled`] bit every header field shares.
const HEADER_FILLED_BIT: usize = 63;

impl Field {
    /// This field's bit in [`FieldValues::filled`].
    pub fn filled_bit(self) -> u64 {
        match self {
            Field::Header(_) => 1 << HEADER_FILLED_BIT,
            f => slot_bit(f.slot(Field::fixed_slots()), Field::fixed_slots()),
        }
    }
}

impl FieldValues {
    /// Storage holding nothing, for a [`super::PooledValues`] whose values were taken.
    pub(super) const EMPTY: FieldValues = FieldValues {
        bytes: Vec::new(),
        slots: Vec::new(),
        fixed: 0,
        unread: 0,
        filled: 0,
        src: None,
        effective_method: String::new(),
        methods: Vec::new(),
        method_spare: Vec::new(),
        path: Vec::new(),
        query_params: Vec::new(),
        body_params: Vec::new(),
    };
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
