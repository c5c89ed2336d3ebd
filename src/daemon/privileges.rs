//! Giving up capabilities once the capture is open.
//!
//! Capture needs `CAP_NET_RAW` and `CAP_NET_ADMIN` to open the interface (the systemd
//! unit grants exactly those as ambient capabilities); nothing after that does: the
//! open pcap handle keeps working without them, and files (store, events, rules) are
//! opened by ordinary permissions. So [`drop_all`] empties the ambient, effective,
//! permitted and inheritable sets right after [`crate::capture::LiveSource::open`],
//! before any other thread starts; capabilities are per thread in Linux, and threads
//! started later inherit the empty sets. A bug in a parser then cannot be turned into
//! raw packet injection or interface reconfiguration.

use rustix::thread::{self, CapabilitySet, CapabilitySets};

/// What [`drop_all`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The process held no capability to begin with.
    NoneHeld,
    /// Capabilities were held and are now gone; the permitted set before.
    Dropped(u64),
}

/// Empties every capability set of the calling thread (and the ambient set), so that
/// threads started afterwards hold none. Call before spawning threads.
pub fn drop_all() -> Result<Dropped, std::io::Error> {
    let before = thread::capabilities(None)?;
    // The ambient set may be unsupported on old kernels; the capset below still
    // empties permitted, which removes ambient capabilities too.
    let _ = thread::clear_ambient_capability_set();
    if before.permitted.is_empty() && before.effective.is_empty() {
        return Ok(Dropped::NoneHeld);
    }
    let empty = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    thread::set_capabilities(None, empty)?;
    Ok(Dropped::Dropped(before.permitted.bits()))
}

/// [`drop_all`], logged: a failure is a warning, not a reason to stop monitoring.
pub fn drop_after_capture_open() {
    match drop_all() {
        Ok(Dropped::NoneHeld) => tracing::debug!("no capabilities held"),
        Ok(Dropped::Dropped(bits)) => tracing::info!(
            permitted_before = format_args!("{bits:#x}"),
            "capture open; dropped every capability"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not drop capabilities after opening the capture")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_dropped_everything_holds_nothing() {
        // Run on a fresh thread so the test harness's other threads keep theirs.
        let after = std::thread::spawn(|| {
            drop_all().expect("drop");
            thread::capabilities(None).expect("capget")
        })
        .join()
        .expect("thread");
        assert!(after.effective.is_empty() && after.permitted.is_empty());
        assert!(after.inheritable.is_empty());
    }
}
