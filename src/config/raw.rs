//! The configuration file as written: serde structs that mirror the YAML exactly
//! (`deny_unknown_fields`, one doc line per key, defaults from the constants of the
//! module that owns each setting). Nothing here is checked; [`super::compile`] turns a
//! [`RawConfig`] into the typed [`super::Config`] every command uses. Sections with
//! nothing to compile (site, capture, ...) are used as they are, once checked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

use crate::sink::stats::{DEFAULT_MIN_COUNT, DEFAULT_STATS_PATH, DEFAULT_STATS_RETENTION_DAYS};
use crate::sink::store::{DEFAULT_RETENTION_DAYS, DEFAULT_STORE_PATH};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// What is "the website": its addresses and ports.
    pub site: SiteConfig,
    /// Who may change what, and where uploads are sanctioned.
    pub policy: RawPolicy,
    /// Directory of rule files (`*.yaml`).
    pub rules: Option<PathBuf>,
    /// How long flagged records are kept.
    pub retention: RetentionConfig,
    /// The flagged store.
    pub store: RawStore,
    /// The events log.
    pub events: EventsConfig,
    /// Live capture settings.
    pub capture: CaptureConfig,
    /// The metrics endpoint.
    pub metrics: MetricsConfig,
    /// Behavioural detector thresholds.
    pub detectors: DetectorsConfig,
    /// How client addresses are kept by every sink (events, store, logs).
    pub privacy: RawPrivacy,
    /// The anonymous statistics database and its publication threshold.
    pub stats: StatsConfig,
    /// The OWASP Core Rule Set engine.
    pub crs: CrsConfig,
    /// The memory budget (flows, reassembly, open transactions, detector state).
    pub limits: crate::config::limits::LimitsConfig,
}

/// The site policy as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPolicy {
    /// Who may change content, with which methods, under which paths.
    pub authorized: Vec<AuthorizedEntry>,
    /// The only places uploads are sanctioned.
    pub upload_endpoints: Vec<UploadEndpoint>,
    /// Paths anyone may POST to (contact forms, login, search): not content changes.
    pub public_endpoints: Vec<String>,
    /// Path prefix → metrics label (bounded set).
    pub content_groups: BTreeMap<String, String>,
}

/// One address policy for every sink, and where its hash key lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPrivacy {
    /// keep, truncate or hash; `None` falls back to the deprecated
    /// `store.source_address`, then to keep.
    pub source_address: Option<String>,
    /// The hash key file (mode 0600), outside the data directory. Default
    /// `/etc/tamperwatch/address.key`.
    pub address_key: Option<PathBuf>,
    /// Replace the hash key when it is older than this many days (checked when the
    /// program starts); 0 never rotates. After a rotation, tokens of the same client differ,
    /// so `flagged --src TOKEN` finds only records made under the key that made TOKEN.
    pub key_rotation_days: u32,
}

/// The flagged store as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    /// SQLite database path.
    pub path: PathBuf,
    /// Deprecated: use `privacy.source_address`. Still accepted (with a warning).
    pub source_address: Option<String>,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            path: PathBuf::from(DEFAULT_STORE_PATH),
            source_address: None,
        }
    }
}

/// The OWASP Core Rule Set: on by default at paranoia level 1, threshold 5.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrsConfig {
    pub enabled: bool,
    /// Blocking (and detection) paranoia level, 1-4.
    pub paranoia_level: u8,
    /// Inbound anomaly score that flags a transaction.
    pub inbound_threshold: u32,
    /// A CRS v4 directory; default: `crs/` inside the rules directory (the bundled copy).
    pub path: Option<PathBuf>,
    /// Rules, tags, or rule/tag targets to silence.
    pub exclusions: Vec<crate::detect::crs::CrsExclusion>,
    /// Extra `tx.*` settings, as crs-setup.conf would set them (e.g. `arg_length: 400`).
    pub tx: BTreeMap<String, String>,
}

impl Default for CrsConfig {
    fn default() -> Self {
        CrsConfig {
            enabled: true,
            paranoia_level: 1,
            inbound_threshold: 5,
            path: None,
            exclusions: Vec::new(),
            tx: BTreeMap::new(),
        }
    }
}

/// The anonymous statistics database (`tamperwatch report` reads it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsConfig {
    /// SQLite database path.
    pub path: PathBuf,
    /// Counts below this are published as `<min_count`.
    pub min_count: u64,
    /// Days kept (400: a year can be compared with the last).
    pub retention_days: u32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            path: PathBuf::from(DEFAULT_STATS_PATH),
            min_count: DEFAULT_MIN_COUNT,
            retention_days: DEFAULT_STATS_RETENTION_DAYS,
        }
    }
}

/// The website's addresses and ports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Server addresses (CIDR); empty means any address.
    pub addresses: Vec<IpNet>,
    /// Server ports.
    pub ports: Vec<u16>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            addresses: Vec::new(),
            ports: vec![80, 8080],
        }
    }
}

/// One grant of write access.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizedEntry {
    /// Client networks.
    pub sources: Vec<IpNet>,
    /// HTTP methods (upper case).
    pub methods: Vec<String>,
    /// Path prefixes.
    pub paths: Vec<String>,
}

/// A sanctioned upload endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadEndpoint {
    /// The endpoint's path (exact match after normalization).
    pub path: String,
    /// Allowed file extensions, lower case without the dot.
    pub extensions: Vec<String>,
    /// Largest request body accepted.
    #[serde(default = "default_max_upload_bytes")]
    pub max_bytes: u64,
}

/// An upload endpoint's `max_bytes` when it names none.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;

/// serde's default for `max_bytes`, which must be a function.
fn default_max_upload_bytes() -> u64 {
    DEFAULT_MAX_UPLOAD_BYTES
}

/// Retention of flagged records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days a flagged record is kept.
    pub days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            days: DEFAULT_RETENTION_DAYS,
        }
    }
}

/// The events log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// JSON lines file, or "-" for stdout.
    pub path: String,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            path: "/var/log/tamperwatch/events.jsonl".to_owned(),
        }
    }
}

/// Live capture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interface to capture on.
    pub interface: String,
    /// BPF filter; derived from `site` when unset.
    pub filter: Option<String>,
    /// Bytes captured per packet.
    pub snaplen: i32,
    /// Kernel buffer size in bytes. libpcap maps it into the process (TPACKET_V3), so
    /// all of it is resident from the start and counts in the process's RSS, outside
    /// `limits.memory_bytes`: part of the fixed overhead
    /// ([`DEFAULT_CAPTURE_BUFFER_BYTES`]).
    pub buffer_bytes: i32,
    /// Packet worker threads; 0 means one per core.
    pub workers: usize,
    /// Wake for every packet (libpcap immediate mode, TPACKET_V2) instead of per
    /// kernel block (TPACKET_V3, a block handed over when full or after
    /// `read_timeout_ms`). Off by default: blocks cost about a third of the CPU per
    /// packet (scripts/live-rate.sh) for at most `read_timeout_ms` more alert latency.
    pub immediate: bool,
    /// Longest a packet waits in a partly filled kernel block, and the longest the
    /// capture loop goes without checking for shutdown.
    pub read_timeout_ms: u32,
    /// Put the interface in promiscuous mode (a mirror port); a host watching its own
    /// site does not need it.
    pub promiscuous: bool,
}

/// The default kernel capture buffer: 16 MiB, about 0.13 s of full-size frames at
/// 1 Gbit/s (1.3 s at 100 Mbit/s), ahead of the workers' own queues. With the default
/// 64 MiB memory budget, the rules and the CRS, a live daemon under a spoofed SYN flood
/// then peaks at about 93 MiB (`tests/live_flood.rs` holds it under issue 10's 128 MiB);
/// the 64 MiB this was before put it at 140 MiB. `scripts/live-rate.sh` loses nothing
/// with it at 2.8 Gbit/s, the most its host sends.
pub const DEFAULT_CAPTURE_BUFFER_BYTES: i32 = 16 << 20;

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interface: "eth0".to_owned(),
            filter: None,
            snaplen: 65_535,
            buffer_bytes: DEFAULT_CAPTURE_BUFFER_BYTES,
            workers: 0,
            immediate: false,
            read_timeout_ms: 100,
            promiscuous: false,
        }
    }
}

/// The metrics endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address to serve `/metrics`, `/healthz` and `/readyz` on.
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9717)),
        }
    }
}

/// TCP-level behavioural detectors (HTTP-level ones are threshold rules).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorsConfig {
    /// SYNs from one client within the window that make a SYN flood.
    pub syn_flood_count: u32,
    pub syn_flood_window_secs: u64,
    /// Distinct destination ports from one client within the window that make a port scan.
    pub port_scan_ports: u32,
    pub port_scan_window_secs: u64,
    /// Site-wide windows for distributed floods (all clients together).
    pub surge_window_secs: u64,
    /// Half-open connections (SYNs without a completed handshake) in one window, at
    /// least, for a distributed SYN flood.
    pub half_open_surge_min: u64,
    /// Requests in one window, at least, for a site-wide request surge.
    pub request_surge_min: u64,
    /// And at least this many times the baseline learned from quiet windows.
    pub surge_factor: f64,
    /// A request whose head or body has been arriving this long, at least, is slow
    /// (Apache's `RequestReadTimeout` gives a head 20 s)...
    pub slow_request_secs: u64,
    /// ...and this many slow requests at once, at least, site-wide, are a slow-request
    /// flood (slowloris, slow bodies).
    pub slow_requests_min: u64,
}

impl Default for DetectorsConfig {
    fn default() -> Self {
        DetectorsConfig {
            syn_flood_count: 200,
            syn_flood_window_secs: 10,
            port_scan_ports: 20,
            port_scan_window_secs: 60,
            surge_window_secs: 10,
            half_open_surge_min: 2_000,
            request_surge_min: 20_000,
            surge_factor: 10.0,
            slow_request_secs: 20,
            slow_requests_min: 100,
        }
    }
}
