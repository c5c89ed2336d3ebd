//! Replay from pcap and pcapng files through libpcap.

use std::path::{Path, PathBuf};

use super::{CaptureError, Frame, PacketSource};
use crate::decode::LinkType;

/// A capture file opened for reading.
pub struct FileSource {
    path: PathBuf,
    capture: pcap::Capture<pcap::Offline>,
    link: LinkType,
    packets: u64,
    /// Total file size, for progress.
    pub file_bytes: u64,
}

impl FileSource {
    /// Opens a capture file, checking it is one before libpcap reads it.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let path_buf = path.to_path_buf();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CaptureError::Missing {
                path: path_buf.clone(),
            },
            _ => CaptureError::Other {
                path: path_buf.clone(),
                reason: e.to_string(),
            },
        })?;
        if meta.is_dir() {
            return Err(CaptureError::Directory { path: path_buf });
        }
        if meta.len() == 0 {
            return Err(CaptureError::Empty { path: path_buf });
        }
        let capture = pcap::Capture::from_file(path).map_err(|e| CaptureError::NotACapture {
            path: path_buf.clone(),
            reason: e.to_string(),
        })?;
        let dlt = capture.get_datalink().0;
        let link = LinkType::from_dlt(dlt).ok_or(CaptureError::UnsupportedLink {
            path: path_buf.clone(),
            dlt,
        })?;
        Ok(FileSource {
            path: path_buf,
            capture,
            link,
            packets: 0,
            file_bytes: meta.len(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl PacketSource for FileSource {
    fn link_type(&self) -> LinkType {
        self.link
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        match self.capture.next_packet() {
            Ok(packet) => {
                self.packets += 1;
                Ok(Some(Frame::from_pcap(&packet)))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(CaptureError::Truncated {
                path: self.path.clone(),
                packets: self.packets,
                reason: e.to_string(),
            }),
        }
    }
}
