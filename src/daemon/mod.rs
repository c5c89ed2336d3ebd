//! The live daemon, `tamperwatch run`: capture, packet workers and the control plane.
//!
//! ```text
//! capture thread ──batches──▶ worker 0..N ──alerts──▶ events writer thread,
//! (libpcap, fan-out          (Pipeline +              flagged store writer thread,
//!  by flow hash)              DetectionStage)          metrics
//!        ▲                           ▲
//!        └──── control plane (tokio, one thread): signals, reload, metrics endpoint,
//!              systemd notify and watchdog, day rollover, retention, drain
//! ```
//!
//! [`startup`] checks everything before a thread starts; [`capture`] reads the
//! interface and [`fanout`] hands frames to the workers in [`batch`]es; each
//! [`worker`] owns a pipeline; [`sinks`] is where alert sinks (the [`events`] log, the
//! flagged store, metrics) are opened, handed out and closed; [`reload`] swaps rules on SIGHUP; [`control`]
//! runs signals and timers and drains at exit; [`notify`] talks to systemd; [`http`]
//! serves `/metrics`, `/healthz` and `/readyz`; [`logging`] sets up `tracing`.

pub mod batch;
pub mod capture;
pub mod control;
pub mod events;
pub mod fanout;
pub mod http;
pub mod logging;
pub mod notify;
pub mod privileges;
pub mod reload;
pub mod sinks;
pub mod startup;
pub mod worker;

use std::path::Path;

pub use logging::LogFormat;

use crate::capture::CaptureError;
use crate::config::ConfigError;
use crate::detect::rules::RuleError;
use crate::detect::DetectError;
use crate::sink::metrics::MetricsError;

/// How `run` behaves beyond its configuration file.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub log_format: LogFormat,
}

/// Why the daemon could not start, or stopped with an error. Each message is one line
/// naming the file or configuration key at fault.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("metrics: {0}")]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Endpoint(#[from] http::EndpointError),
    #[error(transparent)]
    Store(#[from] crate::sink::store::StoreError),
    #[error("{0}")]
    AddressMode(String),
    #[error("events.path {path}: {reason}")]
    Events { path: String, reason: String },
    #[error("starting the {what} thread: {reason}")]
    Thread { what: &'static str, reason: String },
    #[error("{0}")]
    Runtime(String),
    #[error("{what} stopped unexpectedly")]
    Stopped { what: &'static str },
    #[error("the {what} thread panicked")]
    Panicked { what: &'static str },
}

/// Runs the daemon with the configuration at `config_path` until SIGTERM or SIGINT
/// (then `Ok`), or until start-up or a packet thread fails.
pub fn run(config_path: &Path, options: RunOptions) -> Result<(), DaemonError> {
    logging::init(options.log_format);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("tw-control")
        .build()
        .map_err(|e| DaemonError::Runtime(format!("starting the control plane: {e}")))?;
    runtime.block_on(async {
        let signals = control::Signals::install()?;
        let running = startup::start(config_path).await?;
        control::supervise(running, signals, notify::Notifier::from_env()).await
    })
}
