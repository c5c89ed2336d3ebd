//! The detection stage: the observer behind the pipeline that evaluates every
//! transaction and TCP packet with a [`Detector`] and hands the alerts to the sinks in
//! order, counting them per category.

use std::net::SocketAddr;

use super::alert::{Alert, Category};
use super::output::{AlertSink, SinkError};
use super::shared::SharedDetector;
use super::{Detector, Judgement};
use crate::decode::PacketView;
use crate::http::HttpTransaction;
use crate::observe::{Pressure, TransactionObserver};
use crate::time::Timestamp;
use crate::tls::ClientHello;

/// The detector a [`DetectionStage`] uses: fixed for a replay, or the live daemon's
/// [`SharedDetector`], read once per transaction or packet so a reload takes effect at
/// the next one.
#[derive(Debug, Clone, Copy)]
pub enum DetectorRef<'a> {
    Fixed(&'a Detector),
    Shared(&'a SharedDetector),
}

impl DetectorRef<'_> {
    fn with<R>(self, f: impl FnOnce(&Detector) -> R) -> R {
        match self {
            DetectorRef::Fixed(d) => f(d),
            DetectorRef::Shared(s) => f(&s.load()),
        }
    }
}

impl<'a> From<&'a Detector> for DetectorRef<'a> {
    fn from(d: &'a Detector) -> Self {
        DetectorRef::Fixed(d)
    }
}

impl<'a> From<&'a SharedDetector> for DetectorRef<'a> {
    fn from(d: &'a SharedDetector) -> Self {
        DetectorRef::Shared(d)
    }
}

/// Detection behind the pipeline: evaluates each transaction and TCP packet, and hands
/// alerts to every sink in order. Alerts are also counted per category.
pub struct DetectionStage<'a> {
    detector: DetectorRef<'a>,
    sinks: Vec<&'a mut dyn AlertSink>,
    alerts: Vec<Alert>,
    last_sweep_secs: u64,
    /// Alerts raised, by category (index of `Category::ALL`).
    pub alerts_by_category: [u64; 8],
    /// The first sink error; a failing sink does not stop the others.
    pub sink_errors: u64,
    /// Other observers that also see every transaction (e.g. metrics).
    pub also: Option<&'a mut dyn TransactionObserver>,
}

impl<'a> DetectionStage<'a> {
    /// A stage writing to these sinks.
    pub fn new(detector: impl Into<DetectorRef<'a>>, sinks: Vec<&'a mut dyn AlertSink>) -> Self {
        DetectionStage {
            detector: detector.into(),
            sinks,
            alerts: Vec::new(),
            last_sweep_secs: 0,
            alerts_by_category: [0; 8],
            sink_errors: 0,
            also: None,
        }
    }

    fn emit(&mut self) {
        for alert in self.alerts.drain(..) {
            if let Some(i) = Category::ALL.iter().position(|c| *c == alert.rule.category) {
                self.alerts_by_category[i] += 1;
            }
            for sink in self.sinks.iter_mut() {
                if sink.record(&alert).is_err() {
                    self.sink_errors += 1;
                }
            }
        }
    }

    /// Flushes every sink.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        for sink in self.sinks.iter_mut() {
            sink.flush()?;
        }
        Ok(())
    }

    /// Total alerts raised.
    pub fn alert_count(&self) -> u64 {
        self.alerts_by_category.iter().sum()
    }

    /// A transaction whose [`Detector::judge`] ran elsewhere (a sharded replay's
    /// worker): counts it across flows and writes its alerts, as
    /// [`TransactionObserver::on_transaction`] would have.
    pub fn on_judged_transaction(&mut self, txn: &HttpTransaction, judgement: Judgement) {
        if let Some(o) = self.also.as_mut() {
            o.on_transaction(txn);
        }
        let alerts = &mut self.alerts;
        self.detector.with(|d| d.settle(txn, judgement, alerts));
        self.emit();
    }

    /// A SYN without ACK, the only TCP packet the detectors count (a sharded replay
    /// sends only these to the serial stage).
    pub fn on_syn(&mut self, src: SocketAddr, dst: SocketAddr, now: Timestamp) {
        let alerts = &mut self.alerts;
        self.detector.with(|d| d.observe_syn(src, dst, now, alerts));
        self.tick(now);
        if !self.alerts.is_empty() {
            self.emit();
        }
    }

    /// Packet time moved to `now`: forgets closed detector windows every
    /// [`SWEEP_INTERVAL_SECS`].
    pub fn tick(&mut self, now: Timestamp) {
        if now.secs() >= self.last_sweep_secs + SWEEP_INTERVAL_SECS {
            self.last_sweep_secs = now.secs();
            self.detector.with(|d| d.sweep(now));
        }
    }
}

/// Seconds of packet time between sweeps of closed detector windows.
pub const SWEEP_INTERVAL_SECS: u64 = 10;

impl TransactionObserver for DetectionStage<'_> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        if let Some(o) = self.also.as_mut() {
            o.on_transaction(txn);
        }
        let alerts = &mut self.alerts;
        self.detector.with(|d| d.evaluate(txn, alerts));
        self.emit();
    }

    fn on_client_hello(&mut self, hello: &ClientHello) {
        if let Some(o) = self.also.as_mut() {
            o.on_client_hello(hello);
        }
    }

    fn on_handshake(&mut self, now: Timestamp) {
        if let Some(o) = self.also.as_mut() {
            o.on_handshake(now);
        }
        self.detector.with(|d| d.observe_handshake(now));
    }

    fn on_pressure(&mut self, kind: Pressure, count: u64, dest: SocketAddr, now: Timestamp) {
        if let Some(o) = self.also.as_mut() {
            o.on_pressure(kind, count, dest, now);
        }
        let alerts = &mut self.alerts;
        self.detector
            .with(|d| d.observe_pressure(kind, count, dest, now, alerts));
        self.emit();
    }

    fn on_slow_requests(&mut self, count: u64, server: SocketAddr, now: Timestamp) {
        if let Some(o) = self.also.as_mut() {
            o.on_slow_requests(count, server, now);
        }
        let alerts = &mut self.alerts;
        self.detector
            .with(|d| d.observe_slow_requests(count, server, now, alerts));
        if !self.alerts.is_empty() {
            self.emit();
        }
    }

    fn on_tcp_packet(&mut self, packet: &PacketView<'_>, now: Timestamp) {
        if let Some(o) = self.also.as_mut() {
            o.on_tcp_packet(packet, now);
        }
        let alerts = &mut self.alerts;
        self.detector
            .with(|d| d.observe_packet(packet, now, alerts));
        self.tick(now);
        if !self.alerts.is_empty() {
            self.emit();
        }
    }
}
