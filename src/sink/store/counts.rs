//! What `flagged stats` counts: the result of a stats query (`query.rs`) and the
//! input of its rendering (`report.rs`). Kept apart so that the query, which renders
//! exports through the report, and the report do not import each other.

use crate::detect::alert::Category;

/// Alerts of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCount {
    pub signature_id: u32,
    pub rule: String,
    pub count: u64,
}

/// Counts over the filtered alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub total: u64,
    /// UTC day (`YYYY-MM-DD`) and count, oldest first.
    pub by_day: Vec<(String, u64)>,
    /// Category and count, most first.
    pub by_category: Vec<(Category, u64)>,
    /// Rule and count, most first.
    pub by_rule: Vec<RuleCount>,
    /// Host (of imported alerts) and count, most first; alerts recorded locally are
    /// not in it, so it is empty on a single host's store.
    pub by_host: Vec<(String, u64)>,
}
