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

use crate::detect::alert::Alert;

/// Why a sink could not record an alert.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing events: {0}")]
    Io(#[from] std::io::Error),
    #[error("flagged store: {0}")]
    Store(String),
}

/// Something that records alerts.
pub trait AlertSink {
    /// Records one alert.
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError>;
    /// Makes everything recorded so far durable (or at least handed to the OS).
    fn flush(&mut self) -> Result<(), SinkError>;
}
