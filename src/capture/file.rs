//! Replay from pcap and pcapng files.
//!
//! libpcap opens every file: it checks the format and names the link type, so a file
//! libpcap refuses is refused with libpcap's reason. Classic pcap files are then read by
//! [`super::classic`] (large reads, no copy per record); pcapng and older formats are
//! read by libpcap. Both give the same frames: `capture::tests` compares them on every
//! capture in the repository.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::classic::{ClassicHeader, ClassicReader, FILE_HEADER_BYTES};
use super::{CaptureError, Frame, PacketSource};
use crate::decode::LinkType;
use crate::time::Timestamp;

/// Who reads a file's records.
enum Reader {
    Classic(ClassicReader<File>),
    Libpcap(pcap::Capture<pcap::Offline>),
}

/// A capture file opened for reading.
pub struct FileSource {
    path: PathBuf,
    reader: Reader,
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
        let reader = match classic_reader(path) {
            Some(classic) => Reader::Classic(classic),
            None => Reader::Libpcap(capture),
        };
        Ok(FileSource {
            path: path_buf,
            reader,
            link,
            packets: 0,
            file_bytes: meta.len(),
        })
    }

    /// Whether the file is read by [`super::classic`] rather than libpcap.
    pub fn is_read_natively(&self) -> bool {
        matches!(self.reader, Reader::Classic(_))
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
        let read = match &mut self.reader {
            Reader::Classic(classic) => match classic.next_record() {
                Ok(Some(record)) => Ok(Some(Frame {
                    ts: Timestamp::from_secs_micros(record.secs, record.micros),
                    data: record.data,
                    wire_len: record.wire_len,
                })),
                Ok(None) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Reader::Libpcap(capture) => match capture.next_packet() {
                Ok(packet) => Ok(Some(Frame::from_pcap(&packet))),
                Err(pcap::Error::NoMorePackets) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
        };
        match read {
            Ok(Some(frame)) => {
                self.packets += 1;
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(reason) => Err(CaptureError::Truncated {
                path: self.path.clone(),
                packets: self.packets,
                reason,
            }),
        }
    }
}

/// A native reader for a classic pcap file, positioned after its header; `None` when
/// libpcap should read it (another format, or the header could not be read again).
fn classic_reader(path: &Path) -> Option<ClassicReader<File>> {
    let mut file = File::open(path).ok()?;
    let mut head = [0u8; FILE_HEADER_BYTES];
    file.read_exact(&mut head).ok()?;
    let header = ClassicHeader::parse(&head)?;
    Some(ClassicReader::new(file, header))
}
