//! The address mode every sink follows (`privacy.source_address`): a typed setting,
//! parsed once when the configuration is compiled. The sinks' policy that applies it
//! (truncation prefixes, the hash key) lives in `sink::store::address`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How source addresses of flagged flows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressMode {
    /// The address as seen (needed to answer a law-enforcement request).
    #[default]
    Keep,
    /// The network only: IPv4 /24, IPv6 /48.
    Truncate,
    /// A keyed hash, rendered as a hex token.
    Hash,
}

impl AddressMode {
    /// Every mode, in the order the configuration's error message names them.
    pub const ALL: [AddressMode; 3] = [AddressMode::Keep, AddressMode::Truncate, AddressMode::Hash];

    /// The name used in config and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressMode::Keep => "keep",
            AddressMode::Truncate => "truncate",
            AddressMode::Hash => "hash",
        }
    }
}

impl fmt::Display for AddressMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AddressMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AddressMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an address mode (keep, truncate or hash)"))
    }
}
