//! Site policy and settings: YAML in, one checked [`Config`] out.
//!
//! Two steps, as ripgrep turns low-level arguments into high-level ones: [`raw`] holds
//! serde structs that mirror the file exactly (`deny_unknown_fields`, one doc line per
//! key); [`compile`] checks them once and builds the typed [`Config`] (an
//! [`AddressMode`], a checked [`ContentGroupMap`], deprecated keys folded in). Every
//! command loads through [`Config::load`], so what `rules check --config` accepts, `run`
//! and `replay` accept, and a reject reads the same everywhere. Every error names the
//! file and, where the YAML parser knows it, the line.

mod address_mode;
pub mod compile;
pub mod content_groups;
pub mod limits;
mod filter;
pub mod raw;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use address_mode::AddressMode;
pub use content_groups::ContentGroupMap;
pub use raw::{
    AuthorizedEntry, CaptureConfig, CrsConfig, DetectorsConfig, EventsConfig, MetricsConfig,
    RetentionConfig, SiteConfig, StatsConfig, UploadEndpoint, DEFAULT_MAX_UPLOAD_BYTES,
};

use crate::sink::store::DEFAULT_STORE_PATH;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// The checked configuration every command runs with (see [`compile::compile`]).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// What is "the website": its addresses and ports.
    pub site: SiteConfig,
    /// Who may change what, and where uploads are sanctioned.
    pub policy: PolicyConfig,
    /// Directory of rule files (`*.yaml`).
    pub rules: Option<PathBuf>,
    /// How long flagged records are kept.
    pub retention: RetentionConfig,
    /// The flagged store.
    pub store: StoreConfig,
    /// The events log.
    pub events: EventsConfig,
    /// Live capture settings.
    pub capture: CaptureConfig,
    /// The metrics endpoint.
    pub metrics: MetricsConfig,
    /// Behavioural detector thresholds.
    pub detectors: DetectorsConfig,
    /// How client addresses are kept by every sink (events, store, logs).
    pub privacy: PrivacyConfig,
    /// The anonymous statistics database and its publication threshold.
    pub stats: StatsConfig,
    /// The OWASP Core Rule Set engine.
    pub crs: CrsConfig,
    /// The memory budget (flows, reassembly, open transactions, detector state).
    pub limits: crate::config::limits::LimitsConfig,
    /// Settings that still work but should be moved, one sentence each.
    deprecations: Vec<String>,
}

/// The site policy, checked.
#[derive(Debug, Clone, Default)]
pub struct PolicyConfig {
    /// Who may change content, with which methods, under which paths.
    pub authorized: Vec<AuthorizedEntry>,
    /// The only places uploads are sanctioned.
    pub upload_endpoints: Vec<UploadEndpoint>,
    /// Paths anyone may POST to (contact forms, login, search): not content changes.
    pub public_endpoints: Vec<String>,
    /// Path prefix → metrics label (bounded set).
    pub content_groups: ContentGroupMap,
}

/// The one address policy every sink follows, resolved.
#[derive(Debug, Clone)]
pub struct PrivacyConfig {
    /// `privacy.source_address`, else the deprecated `store.source_address`, else keep.
    pub source_address: AddressMode,
    /// The hash key file: `privacy.address_key`, else [`DEFAULT_ADDRESS_KEY`].
    pub address_key: PathBuf,
    /// Days after which the hash key is replaced at start; 0 never rotates.
    pub key_rotation_days: u32,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            source_address: AddressMode::default(),
            address_key: PathBuf::from(DEFAULT_ADDRESS_KEY),
            key_rotation_days: 0,
        }
    }
}

/// The flagged store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// SQLite database path.
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from(DEFAULT_STORE_PATH),
        }
    }
}

/// Where the address key lives when `privacy.address_key` is not set.
pub const DEFAULT_ADDRESS_KEY: &str = "/etc/tamperwatch/address.key";
/// Rules directory when the configuration names none.
pub const DEFAULT_RULES_DIR: &str = "/etc/tamperwatch/rules";
/// Smallest snap length that still holds the link, IP and TCP headers.
pub const MIN_SNAPLEN: i32 = 128;
/// libpcap's largest snap length.
pub const MAX_SNAPLEN: i32 = 262_144;
/// Smallest kernel capture buffer accepted.
pub const MIN_CAPTURE_BUFFER_BYTES: i32 = 1 << 20;
/// Longest read timeout accepted: shutdown waits at most this long for the capture.
pub const MAX_READ_TIMEOUT_MS: u32 = 1000;
/// Most packet worker threads.
pub const MAX_WORKERS: usize = 256;

impl Config {
    /// Settings that still work but should be moved, one sentence each.
    pub fn deprecations(&self) -> &[String] {
        &self.deprecations
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks configuration text; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig = if text.trim().is_empty() {
            raw::RawConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                reason: e.to_string(),
            })?
        };
        compile::compile(raw).map_err(|reason| ConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// The rules directory: `rules:`, else [`DEFAULT_RULES_DIR`].
    pub fn rules_dir(&self) -> PathBuf {
        self.rules
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_RULES_DIR))
    }
}
