//! systemd notifications (`Type=notify`): ready, reloading, stopping, status, watchdog.
//!
//! Every call is a no-op when `NOTIFY_SOCKET` is unset (not started by systemd). A
//! failed notification is logged, never fatal: the monitor keeps monitoring.

use std::time::Duration;

use sd_notify::NotifyState;

/// The service manager's view of this process.
#[derive(Debug, Clone, Copy)]
pub struct Notifier {
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `WATCHDOG_USEC`/`WATCHDOG_PID` from the environment.
    pub fn from_env() -> Notifier {
        let mut usec = 0;
        let watchdog = sd_notify::watchdog_enabled(false, &mut usec)
            .then(|| Duration::from_micros(usec))
            .filter(|d| !d.is_zero());
        Notifier { watchdog }
    }

    /// How often to ping the watchdog (half its timeout), if systemd set one.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    /// Start-up is complete: capture is running.
    pub fn ready(&self, status: &str) {
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// A reload has started (`READY=1` follows when it is done).
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(e) => tracing::debug!(error = %e, "no monotonic clock for RELOADING=1"),
        }
    }

    /// The process is alive and its packet threads are running.
    pub fn watchdog(&self) {
        send(&[NotifyState::Watchdog]);
    }

    /// The process is draining and will exit.
    pub fn stopping(&self) {
        send(&[NotifyState::Stopping, NotifyState::Status("draining")]);
    }
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}
