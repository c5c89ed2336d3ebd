//! tamperwatch: a passive monitor for a public website's host.
//!
//! The stages, in flow order:
//!
//! 1. [`capture`]: frames from a pcap/pcapng file or a live interface, with their time.
//! 2. [`decode`]: link, IP and transport headers, as views over the frame.
//! 3. [`flow`]: a table of TCP flows keyed by a canonical 5-tuple, with timeouts.
//! 4. [`reassembly`]: each direction's TCP byte stream, in order, gaps announced.
//! 5. [`http`]: HTTP/1.x requests and responses, paired into transactions.
//! 6. [`tls`]: ClientHello metadata, for anonymous statistics only.
//! 7. [`observe`]: what the stages report upward (the observer trait, run counters).
//! 8. [`detect`]: site policy, rules and behavioural detectors; redacted alerts.
//! 9. [`sink`]: where alerts, transactions and statistics are written.
//!
//! [`pipeline`] is the one place that wires them together; [`time`] is the packet
//! clock every stage is given; [`daemon`] runs the stages live (`tamperwatch run`): capture
//! thread, sharded packet workers and the control plane.

pub mod time;
pub mod config;

pub mod capture;
pub mod decode;
pub mod flow;
pub mod reassembly;
pub mod http;
pub mod tls;
pub mod observe;
pub mod detect;
pub mod sink;

pub mod pipeline;
pub mod replay;
pub mod daemon;
