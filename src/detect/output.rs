//! Detection's output port: [`AlertSink`], what the detection stage writes alerts to.
//!
//! Detection defines the port and the sinks (`crate::sink`) implement it, so detection
//! does not depend on any sink; `crate::sink` re-exports both names.

use super::alert::Alert;

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
