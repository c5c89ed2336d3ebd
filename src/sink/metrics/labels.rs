//! The bounded label sets fixed in code (methods, status classes, versions, TLS
//! versions, capture drop places) and the indexes the hot path uses to pick a cell:
//! a value outside a set folds into its last element, so no label comes from traffic.
//! The histograms' bucket bounds are fixed here too.

use crate::tls::TlsVersion;

/// Methods counted by name: the method table's names ([`crate::http::method`]), then
/// `other`.
pub const METHODS: [&str; crate::http::method::LABELS.len()] = crate::http::method::LABELS;
/// Status classes; `none` when no (valid) response was seen.
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];
/// HTTP versions counted by name; others are `other`.
pub const VERSIONS: [&str; 4] = ["0.9", "1.0", "1.1", "other"];
/// TLS versions, in the order of [`tls_version_index`].
pub(super) const TLS_VERSIONS: [TlsVersion; 6] = [
    TlsVersion::Ssl3,
    TlsVersion::Tls10,
    TlsVersion::Tls11,
    TlsVersion::Tls12,
    TlsVersion::Tls13,
    TlsVersion::Unknown,
];
/// Where capture drops happen: libpcap's `ps_drop` and `ps_ifdrop`, and the daemon's
/// full worker queues (packets captured but handed to no worker).
pub const DROP_PLACES: [&str; 3] = ["kernel", "interface", "queue"];
/// Most distinct rule names counted; more fold into `other`.
pub const MAX_RULE_LABELS: usize = 1024;
/// Longest rule name used as a label; longer ones fold into `other`.
pub const MAX_RULE_LABEL_BYTES: usize = 128;

/// Index into [`METHODS`]; methods are case-sensitive (RFC 9110 §9.1).
pub fn method_index(method: &str) -> usize {
    crate::http::Method::label_index(method)
}

/// Index into [`STATUS_CLASSES`].
pub fn status_class_index(status: Option<u16>) -> usize {
    match status {
        Some(s @ 100..=599) => usize::from(s / 100 - 1),
        _ => STATUS_CLASSES.len() - 1,
    }
}

/// Index into [`VERSIONS`].
pub fn version_index(version: &str) -> usize {
    VERSIONS[..VERSIONS.len() - 1]
        .iter()
        .position(|v| *v == version)
        .unwrap_or(VERSIONS.len() - 1)
}

pub(super) fn tls_version_index(v: TlsVersion) -> usize {
    match v {
        TlsVersion::Ssl3 => 0,
        TlsVersion::Tls10 => 1,
        TlsVersion::Tls11 => 2,
        TlsVersion::Tls12 => 3,
        TlsVersion::Tls13 => 4,
        TlsVersion::Unknown => 5,
    }
}

/// Response latency buckets, seconds.
pub(super) const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Body size buckets: 64 B to 64 MiB, ×4.
pub(super) const SIZE_BUCKETS: [f64; 11] = [
    64.0,
    256.0,
    1024.0,
    4096.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];
