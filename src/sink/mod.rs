//! Sinks: where findings and statistics go.
//!
//! [`inspect`] writes HTTP transactions as JSON lines with Zeek's http.log names, for
//! the offline `inspect` command.

pub mod inspect;
