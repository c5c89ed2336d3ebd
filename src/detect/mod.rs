//! Detection: transactions in, redacted alerts out.

pub mod alert;
