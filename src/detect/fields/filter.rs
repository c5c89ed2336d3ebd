//! Which header values extraction may leave out: the rule set says, from the values
//! as sent, which ones no test of it can hit.

use super::Field;

/// Tells extraction which header names and values no test can hit, so that they need
/// not be copied (see the rule set's `raw` filter). Leaving such a value out changes
/// no verdict: it would hit nothing.
pub trait ValueFilter {
    /// Whether `raw`, a value of `field` as sent (not yet lowercased), may hit some
    /// test; `false` only when none can. Asked for header names and values.
    fn may_hit(&self, field: Field, raw: &[u8]) -> bool;
}

/// Keeps every value.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeepAll;

impl ValueFilter for KeepAll {
    fn may_hit(&self, _field: Field, _raw: &[u8]) -> bool {
        true
    }
}
