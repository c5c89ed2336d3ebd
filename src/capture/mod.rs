//! Capture: frames and their timestamps from a pcap/pcapng file or a live interface.
//!
//! A source yields borrowed frames (no copy) with the link type needed to decode them.
//! Opening errors name the file or interface and the reason; a truncated file ends its
//! replay with an error after the packets that were whole.

mod classic;
mod file;
pub mod live;

use std::path::PathBuf;

pub use file::FileSource;
pub use live::{CaptureStats, CaptureStop, LiveSettings, LiveSource};

use crate::decode::LinkType;
use crate::time::Timestamp;

/// Why a capture could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: no such file")]
    Missing { path: PathBuf },
    #[error("{path}: is a directory, not a capture file")]
    Directory { path: PathBuf },
    #[error("{path}: empty file, not a capture")]
    Empty { path: PathBuf },
    #[error("{path}: not a pcap or pcapng capture ({reason})")]
    NotACapture { path: PathBuf, reason: String },
    #[error("{path}: link type {dlt} is not supported (Ethernet, VLAN, Linux cooked, raw IP and BSD loopback are)")]
    UnsupportedLink { path: PathBuf, dlt: i32 },
    #[error("{path}: capture is truncated or corrupt after {packets} packets ({reason})")]
    Truncated {
        path: PathBuf,
        packets: u64,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Other { path: PathBuf, reason: String },
    #[error("capture.interface {interface:?}: no such network interface{}", available_suffix(.available))]
    NoSuchInterface {
        interface: String,
        /// The interfaces libpcap lists, comma-separated (may be empty).
        available: String,
    },
    #[error("capture.interface {interface:?}: permission denied: capturing needs CAP_NET_RAW and CAP_NET_ADMIN (run as root or through the systemd unit)")]
    PermissionDenied { interface: String },
    #[error("capture.filter {filter:?}: {reason}")]
    BadFilter { filter: String, reason: String },
    #[error("capture.interface {interface:?}: link type {dlt} is not supported (Ethernet, VLAN, Linux cooked, raw IP and BSD loopback are)")]
    UnsupportedLiveLink { interface: String, dlt: i32 },
    #[error("capture.interface {interface:?}: {reason}")]
    Live { interface: String, reason: String },
}

fn available_suffix(available: &str) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!(" (interfaces: {available})")
    }
}

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    /// Bytes captured (may be less than on the wire, with a snap length).
    pub data: &'a [u8],
    /// Length on the wire.
    pub wire_len: u32,
}

impl Frame<'_> {
    /// Builds a frame from libpcap's header and data.
    // `tv_sec`/`tv_usec` are i64 here but i32 on 32-bit targets: the conversion is needed.
    #[allow(clippy::useless_conversion)]
    pub(crate) fn from_pcap<'a>(packet: &pcap::Packet<'a>) -> Frame<'a> {
        let ts = Timestamp::from_secs_micros(packet.header.ts.tv_sec, packet.header.ts.tv_usec);
        Frame {
            ts,
            data: packet.data,
            wire_len: packet.header.len,
        }
    }
}

/// A place frames come from.
pub trait PacketSource {
    /// The link type of every frame from this source.
    fn link_type(&self) -> LinkType;
    /// The next frame, `None` at the end of a file.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError>;
}

#[cfg(test)]
mod tests;
