//! Reading one direction's bytes: collecting a head, and finding the next message
//! after framing was lost (resynchronisation). Both are bounded: a head by
//! [`MAX_HEAD_BYTES`], a carried partial line by [`MAX_RESYNC_LINE_BYTES`].

use super::{Framing, HttpStats, Side};
use crate::http::parse::{find_head_end, MAX_HEAD_BYTES, MAX_RESYNC_LINE_BYTES};
use crate::time::Timestamp;

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
