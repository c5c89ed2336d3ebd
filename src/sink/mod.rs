//! Sinks: where findings and statistics go.
//!
//! Every sink that records findings implements [`AlertSink`] and consumes the same
//! redacted [`Alert`](crate::detect::alert::Alert): [`events`] writes EVE JSON lines,
//! [`store`] keeps them in the flagged store (SQLite) for the retention period.
//! [`inspect`] writes HTTP transactions for the offline `inspect` command. [`metrics`]
//! counts transactions, hellos and alerts as anonymous Prometheus statistics.

pub mod events;
pub mod privacy;
pub mod stats;
pub mod store;
pub mod inspect;
pub mod metrics;

/// Defined by detection (its output port), implemented here.
pub use crate::detect::output::{AlertSink, SinkError};
