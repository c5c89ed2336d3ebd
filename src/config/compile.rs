//! Raw → compiled: the one place a configuration is checked. `run` (start and SIGHUP),
//! `replay`, `report`, `flagged` and `rules check` all reach a [`Config`] through
//! [`compile`], so a file `rules check --config` accepts is one every command accepts,
//! with the same message for a reject. Strings become typed settings here
//! ([`AddressMode`], [`ContentGroupMap`]) and the deprecated keys are folded in.

use super::raw::{CaptureConfig, RawConfig, RawPolicy};
use super::{
    AddressMode, Config, ContentGroupMap, PolicyConfig, PrivacyConfig, StoreConfig,
    DEFAULT_ADDRESS_KEY, MAX_READ_TIMEOUT_MS, MAX_SNAPLEN, MAX_WORKERS, MIN_CAPTURE_BUFFER_BYTES,
    MIN_SNAPLEN,
};

/// Checks a raw configuration and builds the typed one; the error is one sentence
/// that starts with the offending key.
pub fn compile(raw: RawConfig) -> Result<Config, String> {
    let policy = compile_policy(raw.policy)?;
    let source_address = address_mode(
        raw.privacy.source_address.as_deref(),
        raw.store.source_address.as_deref(),
    )?;
    let mut deprecations = Vec::new();
    if raw.store.source_address.is_some() {
        deprecations.push(
            "store.source_address is deprecated; move it to privacy.source_address (it now applies to events, store and logs)"
                .to_owned(),
        );
    }
    if !(1..=4).contains(&raw.crs.paranoia_level) {
        return Err("crs.paranoia_level: must be 1-4".to_owned());
    }
    if raw.crs.inbound_threshold == 0 {
        return Err("crs.inbound_threshold: must be at least 1".to_owned());
    }
    if raw.stats.min_count == 0 || raw.stats.retention_days == 0 {
        return Err("stats.min_count and stats.retention_days must be at least 1".to_owned());
    }
    if raw.retention.days == 0 {
        return Err("retention.days must be at least 1".to_owned());
    }
    if raw.detectors.slow_request_secs == 0 || raw.detectors.slow_requests_min == 0 {
        return Err(
            "detectors.slow_request_secs and detectors.slow_requests_min must be at least 1"
                .to_owned(),
        );
    }
    check_capture(&raw.capture)?;
    if let Some(problem) = raw.limits.problem() {
        return Err(problem);
    }
    Ok(Config {
        site: raw.site,
        policy,
        rules: raw.rules,
        retention: raw.retention,
        store: StoreConfig {
            path: raw.store.path,
        },
        events: raw.events,
        capture: raw.capture,
        metrics: raw.metrics,
        detectors: raw.detectors,
        privacy: PrivacyConfig {
            source_address,
            address_key: raw
                .privacy
                .address_key
                .unwrap_or_else(|| DEFAULT_ADDRESS_KEY.into()),
            key_rotation_days: raw.privacy.key_rotation_days,
        },
        stats: raw.stats,
        crs: raw.crs,
        limits: raw.limits,
        deprecations,
    })
}

/// The policy with its methods and paths checked and its content groups compiled.
fn compile_policy(raw: RawPolicy) -> Result<PolicyConfig, String> {
    for entry in &raw.authorized {
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
    for ep in &raw.upload_endpoints {
        check_path("policy.upload_endpoints.path", &ep.path)?;
    }
    for p in &raw.public_endpoints {
        check_path("policy.public_endpoints", p)?;
    }
    let content_groups = ContentGroupMap::new(raw.content_groups)?;
    Ok(PolicyConfig {
        authorized: raw.authorized,
        upload_endpoints: raw.upload_endpoints,
        public_endpoints: raw.public_endpoints,
        content_groups,
    })
}

/// `privacy.source_address`, else the deprecated `store.source_address`, else keep;
/// both set means both must agree.
fn address_mode(privacy: Option<&str>, store: Option<&str>) -> Result<AddressMode, String> {
    let parse = |key: &str, v: &str| {
        v.parse::<AddressMode>()
            .map_err(|_| format!("{key}: {v:?} is not one of keep, truncate, hash"))
    };
    let new = privacy
        .map(|v| parse("privacy.source_address", v))
        .transpose()?;
    let old = store
        .map(|v| parse("store.source_address", v))
        .transpose()?;
    match (new, old) {
        (Some(n), Some(o)) if n != o => Err(format!(
            "privacy.source_address ({n}) and the deprecated store.source_address ({o}) disagree; keep only privacy.source_address"
        )),
        (n, o) => Ok(n.or(o).unwrap_or_default()),
    }
}

/// The capture settings libpcap would otherwise refuse later, or take badly.
fn check_capture(c: &CaptureConfig) -> Result<(), String> {
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

/// Policy paths are absolute request paths.
fn check_path(key: &str, p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("{key}: {p:?} must start with '/'"));
    }
    Ok(())
}
