//! Live capture from a network interface through libpcap.
//!
//! [`LiveSource::open`] checks everything that can be wrong before a packet is read —
//! the interface exists, capturing is permitted, the BPF filter compiles, the link type
//! is decodable — and names the configuration key at fault in one line. The handle is
//! non-blocking: [`LiveSource::dispatch`] hands over what libpcap has buffered and
//! returns at once, and [`LiveSource::wait`] sleeps in `poll(2)` until packets arrive
//! or the read timeout passes. A reader therefore knows when the buffer is empty (and
//! can pass on what it holds) and notices a [`CaptureStop`] within the read timeout
//! even on a quiet interface. [`LiveSource::stats`] turns libpcap's 32-bit counters
//! into 64-bit ones.

use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{CaptureError, Frame, PacketSource};
use crate::config::Config;
use crate::decode::LinkType;
use crate::time::Timestamp;

/// How to open a live capture (the `capture:` section, with the derived filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSettings {
    pub interface: String,
    /// BPF filter expression (`Config::capture_filter`).
    pub filter: String,
    pub snaplen: i32,
    pub buffer_bytes: i32,
    pub immediate: bool,
    pub read_timeout_ms: u32,
    pub promiscuous: bool,
}

impl LiveSettings {
    /// The settings a configuration asks for.
    pub fn for_config(config: &Config) -> LiveSettings {
        let c = &config.capture;
        LiveSettings {
            interface: c.interface.clone(),
            filter: config.capture_filter(),
            snaplen: c.snaplen,
            buffer_bytes: c.buffer_bytes,
            immediate: c.immediate,
            read_timeout_ms: c.read_timeout_ms,
            promiscuous: c.promiscuous,
        }
    }
}

/// Cumulative capture counters since the source was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets that passed the filter (on Linux this includes `dropped`).
    pub received: u64,
    /// Packets dropped because the kernel buffer was full.
    pub dropped: u64,
    /// Packets the interface dropped.
    pub if_dropped: u64,
}

/// Stops a [`LiveSource`] from another thread: its reads report no more frames, at the
/// latest after the read timeout.
#[derive(Debug, Clone, Default)]
pub struct CaptureStop {
    stopped: Arc<AtomicBool>,
}

impl CaptureStop {
    /// Asks the capture to stop.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// Whether [`CaptureStop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

/// An open live capture.
pub struct LiveSource {
    interface: String,
    capture: pcap::Capture<pcap::Active>,
    link: LinkType,
    stop: CaptureStop,
    read_timeout: Duration,
    /// Last raw (32-bit) libpcap counters and their 64-bit totals.
    raw: [u32; 3],
    totals: [u64; 3],
    /// The frame [`PacketSource::next_frame`] returns, copied (reused buffer).
    frame_buf: Vec<u8>,
}

impl LiveSource {
    /// Opens and activates the capture, sets the filter; nothing is read yet.
    pub fn open(settings: &LiveSettings) -> Result<LiveSource, CaptureError> {
        let interface = settings.interface.clone();
        check_interface_exists(&interface)?;
        let timeout_ms = i32::try_from(settings.read_timeout_ms).unwrap_or(i32::MAX);
        let inactive = pcap::Capture::from_device(interface.as_str())
            .map_err(|e| open_error(&interface, &e))?
            .snaplen(settings.snaplen)
            .buffer_size(settings.buffer_bytes)
            .promisc(settings.promiscuous)
            .immediate_mode(settings.immediate)
            .timeout(timeout_ms);
        let capture = inactive.open().map_err(|e| open_error(&interface, &e))?;
        let mut capture = capture
            .setnonblock()
            .map_err(|e| open_error(&interface, &e))?;
        let dlt = capture.get_datalink().0;
        let link = LinkType::from_dlt(dlt).ok_or_else(|| CaptureError::UnsupportedLiveLink {
            interface: interface.clone(),
            dlt,
        })?;
        capture
            .filter(&settings.filter, true)
            .map_err(|e| CaptureError::BadFilter {
                filter: settings.filter.clone(),
                reason: pcap_reason(&e),
            })?;
        Ok(LiveSource {
            interface,
            capture,
            link,
            stop: CaptureStop::default(),
            read_timeout: Duration::from_millis(u64::from(settings.read_timeout_ms)),
            raw: [0; 3],
            totals: [0; 3],
            frame_buf: Vec::new(),
        })
    }

    /// The interface captured on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// A handle that stops this capture from another thread.
    pub fn stop_handle(&self) -> CaptureStop {
        self.stop.clone()
    }

    /// Hands the frames buffered now (at most `max`) to `handler` without waiting;
    /// returns how many (0: the buffer is empty, or the capture was stopped).
    pub fn dispatch(
        &mut self,
        max: usize,
        mut handler: impl FnMut(Frame<'_>),
    ) -> Result<usize, CaptureError> {
        if self.stop.is_stopped() {
            return Ok(0);
        }
        self.capture
            .dispatch(Some(max), |p| handler(Frame::from_pcap(&p)))
            .map_err(|e| self.read_error(&e))
    }

    /// Waits until packets are buffered, or the read timeout passes, or the capture
    /// is stopped (checked at least every read timeout).
    pub fn wait(&self) -> Result<(), CaptureError> {
        if self.stop.is_stopped() {
            return Ok(());
        }
        let timeout = rustix::event::Timespec {
            tv_sec: i64::try_from(self.read_timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(self.read_timeout.subsec_nanos()),
        };
        let mut fds = [rustix::event::PollFd::new(
            &self.capture,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            // Readable, timed out, or an error condition the next read reports.
            Ok(_) => Ok(()),
            Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(CaptureError::Live {
                interface: self.interface.clone(),
                reason: format!("waiting for packets: {e}"),
            }),
        }
    }

    /// The capture counters so far.
    pub fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        let s = self.capture.stats().map_err(|e| self.read_error(&e))?;
        for (i, now) in [s.received, s.dropped, s.if_dropped]
            .into_iter()
            .enumerate()
        {
            // libpcap's counters are 32 bits and wrap; the difference still counts.
            self.totals[i] += u64::from(now.wrapping_sub(self.raw[i]));
            self.raw[i] = now;
        }
        Ok(CaptureStats {
            received: self.totals[0],
            dropped: self.totals[1],
            if_dropped: self.totals[2],
        })
    }

    fn read_error(&self, e: &pcap::Error) -> CaptureError {
        CaptureError::Live {
            interface: self.interface.clone(),
            reason: pcap_reason(e),
        }
    }
}

impl PacketSource for LiveSource {
    fn link_type(&self) -> LinkType {
        self.link
    }

    /// The next frame, waiting as long as needed; `None` once stopped. The frame is
    /// copied into a reused buffer (a live loop that cares uses [`LiveSource::dispatch`]).
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        let (ts, wire_len) = loop {
            if self.stop.is_stopped() {
                return Ok(None);
            }
            match self.capture.next_packet() {
                Ok(p) => {
                    let frame = Frame::from_pcap(&p);
                    self.frame_buf.clear();
                    self.frame_buf.extend_from_slice(frame.data);
                    break (frame.ts, frame.wire_len);
                }
                // Non-blocking: nothing buffered yet.
                Err(pcap::Error::TimeoutExpired) => self.wait()?,
                Err(e) => return Err(self.read_error(&e)),
            }
        };
        Ok(Some(Frame {
            ts,
            data: &self.frame_buf,
            wire_len,
        }))
    }
}

/// Refuses an interface libpcap does not list, naming the ones it does.
fn check_interface_exists(interface: &str) -> Result<(), CaptureError> {
    // When listing fails, activation below reports the problem instead.
    let Ok(devices) = pcap::Device::list() else {
        return Ok(());
    };
    if devices.iter().any(|d| d.name == interface) {
        return Ok(());
    }
    let mut names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
    names.truncate(MAX_NAMED_INTERFACES);
    Err(CaptureError::NoSuchInterface {
        interface: interface.to_owned(),
        available: names.join(", "),
    })
}

/// Interfaces named in a "no such interface" error, at most.
const MAX_NAMED_INTERFACES: usize = 16;

/// Sorts an activation error into the causes an operator can act on.
fn open_error(interface: &str, e: &pcap::Error) -> CaptureError {
    let reason = pcap_reason(e);
    let lower = reason.to_ascii_lowercase();
    if lower.contains("permission")
        || lower.contains("not permitted")
        || lower.contains("cap_net_raw")
    {
        return CaptureError::PermissionDenied {
            interface: interface.to_owned(),
        };
    }
    if lower.contains("no such device") {
        return CaptureError::NoSuchInterface {
            interface: interface.to_owned(),
            available: String::new(),
        };
    }
    CaptureError::Live {
        interface: interface.to_owned(),
        reason,
    }
}

/// libpcap's message on one line.
fn pcap_reason(e: &pcap::Error) -> String {
    let text = e.to_string();
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        "libpcap gave no reason".to_owned()
    } else {
        one_line
    }
}

/// The wall clock as packet time, for live housekeeping when no packet arrives.
pub fn wall_clock() -> Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_micros(
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        i64::from(since.subsec_micros()),
    )
}

#[cfg(test)]
mod filter_tests;
