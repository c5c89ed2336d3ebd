//! Header names and values that no test can hit, told apart before extraction copies
//! and lowercases them: a browser request's headers are most of the values a
//! transaction pushes, and rules read few of them (a handful of names; values only
//! through gated regexes looking for `${`, `$(` and the like).
//!
//! A field qualifies when every test on it can be answered on the value as sent: exact
//! tests by the table's shape (length, and the first byte lowercased), regexes by
//! their gate when no literal it looks for has a letter. A value of such a field that
//! the shape and the gate both rule out would hit nothing, so leaving it out changes
//! no verdict; the values kept are the same, in the same order, as before.

use super::{FieldMatcher, RuleSet};
use crate::detect::fields::{Field, ValueFilter};

impl FieldMatcher {
    /// Whether every test on this field can be ruled out on a value not yet
    /// lowercased.
    pub(super) fn judges_raw_values(&self) -> bool {
        self.prefixes.is_empty()
            && self.suffixes.is_empty()
            && self.contains_patterns.is_empty()
            && self.numeric.is_empty()
            && self.exists.is_empty()
            && (self.regexes.is_empty()
                || self.gate.as_ref().is_some_and(|g| g.closes_raw_values()))
    }

    /// Whether some test may hit `raw` once lowercased (false: none can). Only for a
    /// matcher that [`FieldMatcher::judges_raw_values`].
    #[inline(always)]
    fn may_hit_raw(&self, raw: &[u8]) -> bool {
        (!self.exact.is_empty() && self.exact_shape.may_hold_lowercased(raw))
            || (!self.regexes.is_empty() && !self.gate.as_ref().is_some_and(|g| g.all_closed(raw)))
    }
}

impl RuleSet {
    /// For header names and header values: the index of the field's matcher when its
    /// values can be filtered raw, and no rule counts distinct values of it.
    pub(super) fn raw_filter(&self, field: Field) -> Option<usize> {
        if self.rules.iter().any(|r| r.distinct_field == Some(field)) {
            return None;
        }
        self.fields
            .iter()
            .position(|(f, m)| *f == field && m.judges_raw_values())
    }
}

impl ValueFilter for RuleSet {
    #[inline(always)]
    fn may_hit(&self, field: Field, raw: &[u8]) -> bool {
        let index = match field {
            Field::HeaderNames => self.raw_names,
            Field::HeaderValues => self.raw_values,
            _ => None,
        };
        match index.and_then(|i| self.fields.get(i)) {
            Some((_, m)) => m.may_hit_raw(raw),
            None => true,
        }
    }
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;
