//! TCP-level detectors: SYN floods and port scans, per client, from packets.

use std::net::SocketAddr;

use ahash::AHasher;
use std::hash::{Hash, Hasher};

use super::alert::{evidence, Alert, AlertRule, Category};
use super::threshold::ThresholdTable;
use crate::config::DetectorsConfig;
use crate::observe::{Pressure, NOBODY};
use crate::time::Timestamp;

/// Signature id of the SYN flood detector.
pub const SYN_FLOOD_SID: u32 = 900_001;
/// Signature id of the port scan detector.
pub const PORT_SCAN_SID: u32 = 900_002;
/// The flow table evicted flows under pressure (site-wide, one per episode).
pub const FLOW_TABLE_PRESSURE_SID: u32 = 900_003;
/// The defragmenter refused fragments under pressure (site-wide, one per episode).
pub const FRAGMENT_PRESSURE_SID: u32 = 900_006;
/// One pressure event of each kind per this many seconds of it.
pub const PRESSURE_WINDOW_SECS: u64 = 60;

/// Looks at every TCP packet's flags.
#[derive(Debug, Clone)]
pub struct TcpDetectors {
    cfg: DetectorsConfig,
}

impl TcpDetectors {
    /// Detectors with the configured thresholds.
    pub fn new(cfg: DetectorsConfig) -> Self {
        TcpDetectors { cfg }
    }

    /// The thresholds in force.
    pub fn config(&self) -> &DetectorsConfig {
        &self.cfg
    }

    /// Observes one SYN (without ACK) from `src` to `dest` (other packets do not count
    /// here); returns an alert when a threshold is crossed.
    pub fn observe_syn(
        &self,
        src: SocketAddr,
        dest: SocketAddr,
        now: Timestamp,
        table: &ThresholdTable,
    ) -> Option<Alert> {
        if table.observe(
            SYN_FLOOD_SID,
            src.ip(),
            now,
            self.cfg.syn_flood_count,
            self.cfg.syn_flood_window_secs,
            None,
        ) {
            let token = format!(
                "{} SYNs/{}s",
                self.cfg.syn_flood_count, self.cfg.syn_flood_window_secs
            );
            return Some(SYN_FLOOD.alert(now, src, dest, &token));
        }
        let mut h = AHasher::default();
        dest.port().hash(&mut h);
        if table.observe(
            PORT_SCAN_SID,
            src.ip(),
            now,
            self.cfg.port_scan_ports,
            self.cfg.port_scan_window_secs,
            Some(h.finish()),
        ) {
            let token = format!(
                "{} ports/{}s",
                self.cfg.port_scan_ports, self.cfg.port_scan_window_secs
            );
            return Some(PORT_SCAN.alert(now, src, dest, &token));
        }
        None
    }
}

/// A cap giving things up under a flood: one `flood` event per episode of each kind.
/// Site-wide, so the event names no client (source `0.0.0.0:0`). Its destination is
/// the site address whose new connection forced an eviction; for refused fragments
/// it is unspecified too (see [`crate::pipeline::Pipeline`]).
pub fn observe_pressure(
    kind: Pressure,
    count: u64,
    dest: SocketAddr,
    now: Timestamp,
    table: &ThresholdTable,
) -> Option<Alert> {
    let (detector, token) = match kind {
        Pressure::FlowTable => (&FLOW_TABLE_PRESSURE, format!("{count} flows evicted")),
        // Reported at the first refusal, when the count says nothing yet; the metric
        // `fragments dropped over limits` counts them all.
        Pressure::Fragments => (&FRAGMENT_PRESSURE, "defragmenter full".to_owned()),
    };
    let fired = table.observe(
        detector.sid,
        NOBODY.ip(),
        now,
        1,
        PRESSURE_WINDOW_SECS,
        None,
    );
    fired.then(|| detector.alert(now, NOBODY, dest, &token))
}

/// A built-in detector's identity.
struct BuiltIn {
    sid: u32,
    rule: &'static str,
    signature: &'static str,
    category: Category,
}

const SYN_FLOOD: BuiltIn = BuiltIn {
    sid: SYN_FLOOD_SID,
    rule: "flood.syn",
    signature: "SYN flood from one client",
    category: Category::Flood,
};

const FLOW_TABLE_PRESSURE: BuiltIn = BuiltIn {
    sid: FLOW_TABLE_PRESSURE_SID,
    rule: "flood.flow-table-pressure",
    signature: "Flow table full: connections evicted under a connection flood",
    category: Category::Flood,
};

const FRAGMENT_PRESSURE: BuiltIn = BuiltIn {
    sid: FRAGMENT_PRESSURE_SID,
    rule: "flood.fragment-pressure",
    signature: "Fragment reassembly full: fragments refused under a fragment flood, their datagrams not inspected",
    category: Category::Flood,
};

const PORT_SCAN: BuiltIn = BuiltIn {
    sid: PORT_SCAN_SID,
    rule: "recon.port-scan",
    signature: "Port scan: SYNs to many ports",
    category: Category::Recon,
};

impl BuiltIn {
    fn alert(&self, now: Timestamp, src: SocketAddr, dest: SocketAddr, token: &str) -> Alert {
        Alert {
            timestamp: now,
            flow_id: 0,
            src,
            dest,
            rule: AlertRule {
                signature_id: self.sid,
                rule: self.rule.to_owned(),
                signature: self.signature.to_owned(),
                category: self.category,
                severity: 2,
            },
            http: None,
            upload: None,
            evidence: evidence(token.as_bytes()),
            crs: None,
        }
    }
}
