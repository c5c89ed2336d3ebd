//! Site policy and settings: YAML in, validated [`Config`] out.
//!
//! The raw structs mirror the file exactly (`deny_unknown_fields`, one doc line per
//! key, as in ARCHITECTURE.md); [`Config::load`] parses and validates, and every error
//! names the file and, where the YAML parser knows it, the line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

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

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
            path: PathBuf::from("/var/lib/tamperwatch/stats.db"),
            min_count: 10,
            retention_days: 400,
        }
    }
}

/// One address policy for every sink, and where its hash key lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
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

/// Where the address key lives when `privacy.address_key` is not set.
pub const DEFAULT_ADDRESS_KEY: &str = "/etc/tamperwatch/address.key";

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

/// The site policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Who may change content, with which methods, under which paths.
    pub authorized: Vec<AuthorizedEntry>,
    /// The only places uploads are sanctioned.
    pub upload_endpoints: Vec<UploadEndpoint>,
    /// Paths anyone may POST to (contact forms, login, search): not content changes.
    pub public_endpoints: Vec<String>,
    /// Path prefix → metrics label (bounded set).
    pub content_groups: BTreeMap<String, String>,
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

fn default_max_upload_bytes() -> u64 {
    10 * 1024 * 1024
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
        RetentionConfig { days: 30 }
    }
}

/// The flagged store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// SQLite database path.
    pub path: PathBuf,
    /// Deprecated: use `privacy.source_address`. Still accepted (with a warning).
    pub source_address: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("/var/lib/tamperwatch/flagged.db"),
            source_address: None,
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
    /// Kernel buffer size in bytes.
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

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interface: "eth0".to_owned(),
            filter: None,
            snaplen: 65_535,
            buffer_bytes: 64 << 20,
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
        }
    }
}

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
    /// The address mode every sink follows: `privacy.source_address`, else the
    /// deprecated `store.source_address`, else keep.
    pub fn source_address(&self) -> &str {
        self.privacy
            .source_address
            .as_deref()
            .or(self.store.source_address.as_deref())
            .unwrap_or("keep")
    }

    /// Settings that still work but should be moved, one sentence each.
    pub fn deprecations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.store.source_address.is_some() {
            out.push(
                "store.source_address is deprecated; move it to privacy.source_address (it now applies to events, store and logs)"
                    .to_owned(),
            );
        }
        out
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                reason: e.to_string(),
            })?
        };
        config.validate().map_err(|reason| ConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        for entry in &self.policy.authorized {
            for m in &entry.methods {
                if m.is_empty()
                    || !m
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
                {
                    return Err(format!(
                        "policy.authorized: method {m:?} must be an upper-case token"
                    ));
                }
            }
            for p in &entry.paths {
                check_path("policy.authorized.paths", p)?;
            }
        }
        for ep in &self.policy.upload_endpoints {
            check_path("policy.upload_endpoints.path", &ep.path)?;
        }
        if !(1..=4).contains(&self.crs.paranoia_level) {
            return Err("crs.paranoia_level: must be 1-4".to_owned());
        }
        if self.crs.inbound_threshold == 0 {
            return Err("crs.inbound_threshold: must be at least 1".to_owned());
        }
        for p in &self.policy.public_endpoints {
            check_path("policy.public_endpoints", p)?;
        }
        if self.policy.content_groups.len() > 64 {
            return Err(
                "policy.content_groups: at most 64 groups (metrics labels must stay bounded)"
                    .to_owned(),
            );
        }
        for (prefix, label) in &self.policy.content_groups {
            check_path("policy.content_groups", prefix)?;
            if label.is_empty()
                || !label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!(
                    "policy.content_groups: label {label:?} must match [a-z0-9_]+"
                ));
            }
        }
        for (key, value) in [
            ("privacy.source_address", &self.privacy.source_address),
            ("store.source_address", &self.store.source_address),
        ] {
            if let Some(v) = value {
                if !["keep", "truncate", "hash"].contains(&v.as_str()) {
                    return Err(format!("{key}: {v:?} is not one of keep, truncate, hash"));
                }
            }
        }
        if let (Some(new), Some(old)) = (&self.privacy.source_address, &self.store.source_address) {
            if new != old {
                return Err(format!(
                    "privacy.source_address ({new}) and the deprecated store.source_address ({old}) disagree; keep only privacy.source_address"
                ));
            }
        }
        if self.stats.min_count == 0 || self.stats.retention_days == 0 {
            return Err("stats.min_count and stats.retention_days must be at least 1".to_owned());
        }
        if self.retention.days == 0 {
            return Err("retention.days must be at least 1".to_owned());
        }
        let c = &self.capture;
        if c.interface.is_empty() {
            return Err("capture.interface must not be empty".to_owned());
        }
        if !(MIN_SNAPLEN..=MAX_SNAPLEN).contains(&c.snaplen) {
            return Err(format!(
                "capture.snaplen: {} is not between {MIN_SNAPLEN} and {MAX_SNAPLEN}",
                c.snaplen
            ));
        }
        if c.buffer_bytes < MIN_CAPTURE_BUFFER_BYTES {
            return Err(format!(
                "capture.buffer_bytes: {} is below {MIN_CAPTURE_BUFFER_BYTES}",
                c.buffer_bytes
            ));
        }
        if c.read_timeout_ms == 0 || c.read_timeout_ms > MAX_READ_TIMEOUT_MS {
            return Err(format!(
                "capture.read_timeout_ms: {} is not between 1 and {MAX_READ_TIMEOUT_MS}",
                c.read_timeout_ms
            ));
        }
        if c.workers > MAX_WORKERS {
            return Err(format!(
                "capture.workers: {} is more than {MAX_WORKERS}",
                c.workers
            ));
        }
        Ok(())
    }

    /// The rules directory: `rules:`, else [`DEFAULT_RULES_DIR`].
    pub fn rules_dir(&self) -> PathBuf {
        self.rules
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_RULES_DIR))
    }

    /// The BPF filter for live capture: the configured one, or one derived from the site.
    pub fn capture_filter(&self) -> String {
        if let Some(f) = &self.capture.filter {
            return f.clone();
        }
        let any_of = |terms: Vec<String>| format!("({})", terms.join(" or "));
        let ports: Vec<String> = self
            .site
            .ports
            .iter()
            .map(|p| format!("port {p}"))
            .collect();
        let v4: Vec<String> = self
            .site
            .addresses
            .iter()
            .filter(|n| matches!(n, IpNet::V4(_)))
            .map(|n| format!("net {n}"))
            .collect();
        let v6: Vec<String> = self
            .site
            .addresses
            .iter()
            .filter(|n| matches!(n, IpNet::V6(_)))
            .map(|n| format!("net {n}"))
            .collect();
        let all_hosts = self.site.addresses.is_empty();
        // Whole TCP segments to or from the site's ports (libpcap's `port` matches
        // only unfragmented packets and first fragments).
        let mut tcp = vec!["tcp".to_owned()];
        if !ports.is_empty() {
            tcp.push(any_of(ports));
        }
        if !all_hosts {
            tcp.push(any_of(v4.iter().chain(&v6).cloned().collect()));
        }
        let tcp = format!("({})", tcp.join(" and "));
        let mut alternatives = Vec::new();
        // Every IPv4 fragment (more-fragments flag or an offset): ports are in the first
        // fragment only, so the site's ports are checked after reassembly.
        let frag = "ip[6:2] & 0x3fff != 0";
        if all_hosts {
            alternatives.push(format!("(ip and {frag})"));
        } else if !v4.is_empty() {
            alternatives.push(format!("(ip and {frag} and {})", any_of(v4)));
        }
        // Every IPv6 packet: extension headers (and fragments) hide the TCP header
        // from BPF, so IPv6 is filtered by address here and by port after decoding.
        if all_hosts {
            alternatives.push("ip6".to_owned());
        } else if !v6.is_empty() {
            alternatives.push(format!("(ip6 and {})", any_of(v6)));
        }
        // The TCP test goes last: a BPF load past the end of a short first fragment
        // rejects the packet outright, whatever alternatives would come after it.
        alternatives.push(tcp);
        let direct = alternatives.join(" or ");
        // The same behind one 802.1Q tag (`vlan` shifts the offsets that follow it).
        format!("{direct} or (vlan and ({direct}))")
    }
}

fn check_path(key: &str, p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("{key}: {p:?} must start with '/'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
site:
  addresses: [203.0.113.10/32, "2001:db8::10/128"]
  ports: [80, 8080]
policy:
  authorized:
    - sources: [10.20.0.0/16]
      methods: [POST, PUT, PATCH, DELETE]
      paths: [/admin/, /api/]
  upload_endpoints:
    - path: /permits/upload
      extensions: [pdf, jpg, jpeg, png]
      max_bytes: 10485760
  content_groups:
    /permits/: permits
retention:
  days: 30
"#;

    #[test]
    fn parses_the_architecture_example() {
        let c = Config::parse(EXAMPLE, Path::new("t.yaml")).expect("valid config");
        assert_eq!(c.site.ports, vec![80, 8080]);
        assert_eq!(c.policy.upload_endpoints[0].max_bytes, 10_485_760);
        let direct = "(ip and ip[6:2] & 0x3fff != 0 and (net 203.0.113.10/32)) \
             or (ip6 and (net 2001:db8::10/128)) \
             or (tcp and (port 80 or port 8080) and (net 203.0.113.10/32 or net 2001:db8::10/128))";
        assert_eq!(
            c.capture_filter(),
            format!("{direct} or (vlan and ({direct}))")
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_a_line() {
        let err = Config::parse(
            "site:\n  ports: [80]\n  colour: blue\n",
            Path::new("c.yaml"),
        )
        .expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.starts_with("c.yaml:3:"), "{msg}");
        assert!(msg.contains("colour"), "{msg}");
    }

    #[test]
    fn bad_cidr_is_refused() {
        let err = Config::parse("site:\n  addresses: [10.0.0.0/99]\n", Path::new("c.yaml"))
            .expect_err("bad cidr");
        assert!(err.to_string().contains("c.yaml:2"), "{err}");
    }

    #[test]
    fn labels_must_be_bounded_tokens() {
        let err = Config::parse(
            "policy:\n  content_groups:\n    /x/: \"Bad Label\"\n",
            Path::new("c.yaml"),
        )
        .expect_err("bad label");
        assert!(err.to_string().contains("[a-z0-9_]+"));
    }

    #[test]
    fn capture_settings_are_checked() {
        for (yaml, needle) in [
            ("capture:\n  snaplen: 20\n", "capture.snaplen"),
            ("capture:\n  buffer_bytes: 1000\n", "capture.buffer_bytes"),
            (
                "capture:\n  read_timeout_ms: 0\n",
                "capture.read_timeout_ms",
            ),
            ("capture:\n  interface: \"\"\n", "capture.interface"),
            ("capture:\n  workers: 100000\n", "capture.workers"),
        ] {
            let err = Config::parse(yaml, Path::new("c.yaml")).expect_err(yaml);
            assert!(err.to_string().contains(needle), "{yaml}: {err}");
        }
        let c = Config::parse(
            "capture:\n  interface: lo\n  immediate: true\n  read_timeout_ms: 20\n",
            Path::new("c.yaml"),
        )
        .expect("valid capture settings");
        assert!(c.capture.immediate);
        assert_eq!(c.capture.read_timeout_ms, 20);
        assert_eq!(c.rules_dir(), PathBuf::from(DEFAULT_RULES_DIR));
    }

    #[test]
    fn empty_file_is_the_default_policy() {
        let c = Config::parse("", Path::new("c.yaml")).expect("empty ok");
        assert!(c.policy.authorized.is_empty());
        assert_eq!(c.retention.days, 30);
    }
}
