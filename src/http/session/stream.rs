//! Reading one direction's bytes: collecting a head, and finding the next message
//! after framing was lost (resynchronisation). Both are bounded: a head by
//! [`MAX_HEAD_BYTES`], a carried partial line by [`MAX_RESYNC_LINE_BYTES`].

use super::{Framing, HttpStats, Side};
use crate::http::parse::{
    find_head_end, may_start_status_line_leniently, MAX_HEAD_BYTES, MAX_RESYNC_LINE_BYTES,
    STATUS_PROBE_BYTES,
};
use crate::time::Timestamp;

/// Bytes of junk lines before a status line that are skipped to reach it rather than
/// reading the reply as HTTP/0.9 (HTTP Evader cases 483-488 put up to 17 bytes there).
pub const MAX_JUNK_BEFORE_STATUS_BYTES: usize = 128;

/// Whether a status line starts a line within the first
/// [`MAX_JUNK_BEFORE_STATUS_BYTES`] of a reply (bytes buffered in `head`, then `data`)
/// that does not begin with one. Chromium and Firefox read such a reply as HTTP/0.9
/// (its raw bytes, head and chunk framing included, are what they render); libhtp
/// skips the junk lines. The monitor follows libhtp here, a deliberate divergence: it
/// then sees the inner response's decoded body, which a legacy client renders, rather
/// than bytes no client decodes.
pub(super) fn status_line_follows_junk(head: &[u8], data: &[u8]) -> bool {
    let mut window = Vec::with_capacity(MAX_JUNK_BEFORE_STATUS_BYTES);
    window.extend_from_slice(&head[..head.len().min(MAX_JUNK_BEFORE_STATUS_BYTES)]);
    let room = MAX_JUNK_BEFORE_STATUS_BYTES - window.len();
    window.extend_from_slice(&data[..data.len().min(room)]);
    find_line_start(&window, false, crate::http::parse::is_status_line).is_some()
}

/// Whether a reply that starts with the bytes buffered in `head` (fewer than
/// [`STATUS_PROBE_BYTES`]), then `data`, cannot start with a status line as browsers
/// find one; decided once [`STATUS_PROBE_BYTES`] are in, however the reply was split.
pub(super) fn is_headless_start(head: &[u8], data: &[u8]) -> bool {
    // Nearly every reply: `HTTP` right at the start.
    if head.is_empty() && data.starts_with(b"HTTP") {
        return false;
    }
    let mut probe = [0u8; STATUS_PROBE_BYTES];
    let from_head = head.len().min(STATUS_PROBE_BYTES);
    probe[..from_head].copy_from_slice(&head[..from_head]);
    let from_data = (STATUS_PROBE_BYTES - from_head).min(data.len());
    probe[from_head..from_head + from_data].copy_from_slice(&data[..from_data]);
    !may_start_status_line_leniently(&probe[..from_head + from_data])
}

/// Keeps only the bytes after the last LF of `buf`: the start of the line a
/// resynchronisation carries on.
pub(super) fn keep_last_line(buf: &mut Vec<u8>) {
    if let Some(nl) = memchr::memrchr(b'\n', buf) {
        buf.drain(..=nl);
    }
}

/// Outcome of collecting a head from stream bytes.
pub(super) enum HeadStep<'d> {
    /// The head is complete in the buffer; `rest` follows it.
    Complete {
        rest: &'d [u8],
    },
    /// All bytes taken; the head continues in later data.
    Partial,
    TooLong,
}

/// Appends `data` to `buf` until a full head is present.
pub(super) fn take_head<'d>(buf: &mut Vec<u8>, data: &'d [u8]) -> HeadStep<'d> {
    let data = if buf.is_empty() {
        let start = data
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        &data[start..]
    } else {
        data
    };
    if data.is_empty() {
        return HeadStep::Partial;
    }
    let old = buf.len();
    let take = data.len().min((MAX_HEAD_BYTES + 4).saturating_sub(old));
    buf.extend_from_slice(&data[..take]);
    let search_from = old.saturating_sub(3);
    match find_head_end(&buf[search_from..]) {
        Some(end_rel) => {
            let end = search_from + end_rel;
            buf.truncate(end);
            HeadStep::Complete {
                rest: &data[end - old..],
            }
        }
        None if buf.len() > MAX_HEAD_BYTES => HeadStep::TooLong,
        None => HeadStep::Partial,
    }
}

/// Where the next line in `data` starting with something `is_start` accepts begins;
/// `at_line_start` says whether `data[0]` itself may start a line.
fn find_line_start(
    data: &[u8],
    at_line_start: bool,
    is_start: impl Fn(&[u8]) -> bool,
) -> Option<usize> {
    if at_line_start && is_start(data) {
        return Some(0);
    }
    let mut from = 0;
    while let Some(pos) = memchr::memchr(b'\n', &data[from..]) {
        let line = from + pos + 1;
        if is_start(&data[line..]) {
            return Some(line);
        }
        from = line;
    }
    None
}

/// Scans desynchronised bytes for the next message start; counts the bytes scanned.
/// A line that may be the start of a message but runs to the end of `data` is carried
/// (bounded by [`MAX_RESYNC_LINE_BYTES`]) and tried again with the next chunk, so a
/// request line split over two segments is still found. On success the side is back
/// in [`Framing::Head`] with any carried bytes as the start of the head.
pub(super) fn resync(
    data: &[u8],
    side: &mut Side,
    stats: &mut HttpStats,
    now: Timestamp,
    is_start: impl Fn(&[u8]) -> bool,
    could_begin: impl Fn(&[u8]) -> bool,
) -> Option<usize> {
    let mut at_line_start = !side.mid_line;
    if !side.head.is_empty() {
        // Bytes carried from the previous chunk: does this chunk complete their line?
        let window = &data[..data.len().min(MAX_RESYNC_LINE_BYTES)];
        let line_end = memchr::memchr(b'\n', window).map_or(window.len(), |p| p + 1);
        let mut line = std::mem::take(&mut side.head);
        let carried = line.len();
        line.extend_from_slice(&window[..line_end]);
        if is_start(&line) {
            line.truncate(carried);
            side.head = line;
            side.head_ts = now;
            side.framing = Framing::Head;
            stats.resyncs += 1;
            return Some(0);
        }
        if line_end == data.len() && line.len() <= MAX_RESYNC_LINE_BYTES && could_begin(&line) {
            stats.resync_scan_bytes += data.len() as u64;
            side.head = line;
            return None;
        }
        at_line_start = false;
    }
    let found = find_line_start(data, at_line_start, &is_start);
    stats.resync_scan_bytes += found.unwrap_or(data.len()) as u64;
    match found {
        Some(_) => {
            side.framing = Framing::Head;
            stats.resyncs += 1;
        }
        None => {
            let tail_start = match memchr::memrchr(b'\n', data) {
                Some(nl) => Some(nl + 1),
                None => at_line_start.then_some(0),
            };
            if let Some(tail) = tail_start.map(|t| &data[t..]) {
                if could_begin(tail) {
                    side.head.clear();
                    side.head.extend_from_slice(tail);
                }
            }
        }
    }
    found
}
