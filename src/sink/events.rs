//! Flagged events as JSON lines, Suricata EVE-compatible (ARCHITECTURE.md contract).

use std::io::Write;

use serde::Serialize;

use super::{AlertSink, SinkError};
use crate::detect::alert::{Alert, AlertCrs, AlertHttp, AlertRule, AlertUpload};
use crate::sink::store::address::AddressPolicy;

/// The EVE shape of an alert; field order is fixed so output is byte-identical.
#[derive(Debug, Serialize)]
pub struct EveAlert<'a> {
    pub timestamp: String,
    pub flow_id: u64,
    pub event_type: &'static str,
    pub src_ip: String,
    pub src_port: u16,
    pub dest_ip: String,
    pub dest_port: u16,
    pub proto: &'static str,
    pub alert: &'a AlertRule,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<&'a AlertHttp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<&'a AlertUpload>,
    pub evidence: &'a str,
    /// CRS verdicts only: the anomaly score and contributing rule ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crs: Option<&'a AlertCrs>,
}

impl<'a> EveAlert<'a> {
    /// The EVE record of an alert.
    pub fn of(a: &'a Alert) -> Self {
        EveAlert {
            timestamp: a.timestamp.to_eve(),
            flow_id: a.flow_id,
            event_type: "alert",
            src_ip: a.src.ip().to_string(),
            src_port: a.src.port(),
            dest_ip: a.dest.ip().to_string(),
            dest_port: a.dest.port(),
            proto: "TCP",
            alert: &a.rule,
            http: a.http.as_ref(),
            upload: a.upload.as_ref(),
            evidence: &a.evidence,
            crs: a.crs.as_ref(),
        }
    }
}

/// Writes one JSON line per alert, the source address kept as `privacy.source_address`
/// says (the same policy as the store).
pub struct EventLog<W: Write> {
    out: W,
    policy: AddressPolicy,
}

impl<W: Write> EventLog<W> {
    /// An event log writing to `out`, addresses kept as seen.
    pub fn new(out: W) -> Self {
        EventLog {
            out,
            policy: AddressPolicy::keep(),
        }
    }

    /// The same log, source addresses kept under `policy`.
    pub fn with_address_policy(mut self, policy: AddressPolicy) -> Self {
        self.policy = policy;
        self
    }
}

impl<W: Write> AlertSink for EventLog<W> {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let mut eve = EveAlert::of(alert);
        eve.src_ip = self.policy.apply(alert.src.ip()).text;
        serde_json::to_writer(&mut self.out, &eve).map_err(std::io::Error::from)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}
