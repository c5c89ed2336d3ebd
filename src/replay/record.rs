//! A sharded replay's worker side: what the pipeline reports, judged and recorded with
//! its place in the capture, for the serial stage to replay in order.
//!
//! A worker runs the packet stages and the part of detection that reads nothing shared
//! across flows ([`Detector::judge`]: rules, policy, CRS). What does count across flows
//! (thresholds, surges, the sinks) must see events in the order one worker would have
//! produced them, so each recorded [`Item`] carries a [`Position`]: the number of the
//! frame whose processing produced it, the phase, and the flow. Sorting every worker's
//! items by position, stably, restores exactly the single-worker order:
//!
//! - in the [`Phase::Frame`] phase, only the worker that owns the frame reports
//!   anything, in the order the pipeline does;
//! - in the [`Phase::Expiry`] phase (idle flows swept at a new second of packet time,
//!   or every flow at the end), each worker ends its flows in id order, and a single
//!   pipeline would have ended them all in id order: so the flow id orders them.

use std::net::SocketAddr;

use crate::decode::{PacketView, Transport};
use crate::detect::{Detector, Judgement};
use crate::http::HttpTransaction;
use crate::observe::{Pressure, TransactionObserver};
use crate::time::Timestamp;
use crate::tls::ClientHello;

/// The two phases of a frame's processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The frame itself: its packet, its flow, the transactions it completes.
    Frame = 0,
    /// After the frame: idle flows expired, or every flow ended at end of input.
    Expiry = 1,
}

/// Where an item falls in the single-worker order of the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The frame's number in the capture (`u64::MAX` for the end of input).
    pub frame: u64,
    pub phase: Phase,
    /// The flow ended, in the expiry phase; 0 otherwise (flow ids start at 1).
    pub flow: u64,
}

impl Position {
    /// The start of frame `frame`'s processing.
    pub fn frame(frame: u64) -> Position {
        Position {
            frame,
            phase: Phase::Frame,
            flow: 0,
        }
    }

    /// The sweep after frame `frame` (or the end of input, `u64::MAX`).
    pub fn expiry(frame: u64) -> Position {
        Position {
            frame,
            phase: Phase::Expiry,
            flow: 0,
        }
    }
}

/// One thing the pipeline reported, ready for the serial stage.
#[derive(Debug)]
pub enum Item {
    /// The transaction at this index of [`Records::transactions`] (kept apart: it is
    /// far larger than the other items).
    Transaction(usize),
    ClientHello(ClientHello),
    /// A SYN without ACK: the only TCP packet the detectors count.
    Syn {
        src: SocketAddr,
        dst: SocketAddr,
        now: Timestamp,
    },
    Handshake(Timestamp),
    /// A cap gave something up ([`TransactionObserver::on_pressure`]).
    Pressure {
        kind: Pressure,
        count: u64,
        dest: SocketAddr,
        now: Timestamp,
    },
    /// Requests held open too long ([`TransactionObserver::on_slow_requests`]).
    SlowRequests {
        count: u64,
        server: SocketAddr,
        now: Timestamp,
    },
    /// Packet time reached a new second (recorded by one worker only).
    Tick(Timestamp),
}

/// What a worker recorded over one epoch.
#[derive(Debug, Default)]
pub struct Records {
    pub items: Vec<(Position, Item)>,
    pub transactions: Vec<(HttpTransaction, Judgement)>,
    /// The most heap the worker's flows held during the epoch ([`super::lend`]).
    pub peak_heap: usize,
}

impl Records {
    /// Empty records with room for as many as these hold: the next epoch's, which
    /// would otherwise grow from empty.
    pub fn sized_like(&self) -> Records {
        Records {
            items: Vec::with_capacity(self.items.len()),
            transactions: Vec::with_capacity(self.transactions.len()),
            peak_heap: 0,
        }
    }
}

/// The observer a sharded replay's worker gives its pipeline.
pub struct Recorder<'d> {
    detector: &'d Detector,
    at: Position,
    /// What was recorded since the last take.
    records: Records,
    /// How many of the recorded transactions are judged: they are judged a batch at a
    /// time, as a one-worker replay does (`super::inline`'s `JUDGE_BATCH` says why).
    judged: usize,
}

impl<'d> Recorder<'d> {
    /// A recorder judging transactions with `detector`.
    pub fn new(detector: &'d Detector) -> Self {
        Recorder {
            detector,
            at: Position::frame(0),
            records: Records::default(),
            judged: 0,
        }
    }

    /// Everything recorded since the last take, every transaction judged, with the
    /// most heap the worker's flows held meanwhile.
    pub fn take_records(&mut self, peak_heap: usize) -> Records {
        self.judge_held();
        self.judged = 0;
        self.records.peak_heap = peak_heap;
        let next = self.records.sized_like();
        std::mem::replace(&mut self.records, next)
    }

    /// Judges the transactions recorded and not yet judged.
    fn judge_held(&mut self) {
        let detector = self.detector;
        for (txn, judgement) in self.records.transactions.iter_mut().skip(self.judged) {
            *judgement = detector.judge(txn);
        }
        self.judged = self.records.transactions.len();
    }

    /// Items recorded from now on fall at `at` (with the flow id filled in by expiry).
    pub fn set_position(&mut self, at: Position) {
        self.at = at;
    }

    /// Records an item at the current position.
    pub fn push(&mut self, item: Item) {
        self.records.items.push((self.at, item));
    }
}

impl TransactionObserver for Recorder<'_> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        // The pipeline hands transactions over (take_transaction); a borrowed one is
        // copied.
        self.take_transaction(txn.clone());
    }

    fn take_transaction(&mut self, txn: HttpTransaction) {
        let mut at = self.at;
        if at.phase == Phase::Expiry {
            at.flow = txn.flow_id;
        }
        let index = self.records.transactions.len();
        self.records.transactions.push((txn, Judgement::default()));
        self.records.items.push((at, Item::Transaction(index)));
        if index + 1 - self.judged >= super::inline::JUDGE_BATCH {
            self.judge_held();
        }
    }

    fn on_client_hello(&mut self, hello: &ClientHello) {
        self.push(Item::ClientHello(*hello));
    }

    fn on_tcp_packet(&mut self, packet: &PacketView<'_>, now: Timestamp) {
        if let Some((src, dst)) = counted_syn(packet) {
            self.push(Item::Syn { src, dst, now });
        }
    }

    fn on_pressure(&mut self, kind: Pressure, count: u64, dest: SocketAddr, now: Timestamp) {
        self.push(Item::Pressure {
            kind,
            count,
            dest,
            now,
        });
    }

    fn on_slow_requests(&mut self, count: u64, server: SocketAddr, now: Timestamp) {
        self.push(Item::SlowRequests { count, server, now });
    }

    fn on_handshake(&mut self, now: Timestamp) {
        self.push(Item::Handshake(now));
    }
}

/// Source and destination of `packet` if it is a SYN without ACK: the only TCP packet
/// the detectors count (each a [`Item::Syn`], or handed to the serial stage directly
/// by a one-worker replay).
pub(super) fn counted_syn(packet: &PacketView<'_>) -> Option<(SocketAddr, SocketAddr)> {
    match packet.transport {
        Transport::Tcp {
            src_port,
            dst_port,
            flags,
            ..
        } if flags.syn() && !flags.ack() => Some((
            SocketAddr::new(packet.src, src_port),
            SocketAddr::new(packet.dst, dst_port),
        )),
        _ => None,
    }
}
