//! Capture: frames and their timestamps from a pcap/pcapng file or a live interface.
//!
//! A source yields borrowed frames (no copy) with the link type needed to decode them.
//! Opening errors name the file or interface and the reason; a truncated file ends its
//! replay with an error after the packets that were whole.

mod file;

use std::path::PathBuf;

pub use file::FileSource;

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
        let ts = Timestamp::from_secs_micros(
            i64::from(packet.header.ts.tv_sec),
            i64::from(packet.header.ts.tv_usec),
        );
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
