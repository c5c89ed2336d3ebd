//! Spare head storage, reused from one message to the next on a thread.
//!
//! A parsed head owns its strings (two per header, plus the request line's parts): on
//! a small transaction they were most of its allocations. A head given up (dropped)
//! returns its header list, with the headers' strings, and its line's strings to this
//! thread's spares; the next head parsed on the thread refills them in place. Request
//! and response lists are kept apart, since their lengths differ.
//!
//! There must be a spare for every head in flight: a request head lives until its
//! response ends, so a server answering a few dozen connections at once holds a few
//! dozen request heads. With spares for only 8, three heads in four were built from
//! fresh allocations and grew string by string (4 reallocations a request on the
//! short-flow benchmark); 64 cover the connections a busy small site has open.
//!
//! Everything kept is capped: by count ([`MAX_SPARE_LISTS`], [`MAX_SPARE_HEADERS`],
//! [`MAX_LOOSE_HEADERS`], [`MAX_SPARE_STRINGS`]), by size per item
//! ([`MAX_SPARE_HEADER_BYTES`], [`MAX_SPARE_STRING_BYTES`]), and the lists and strings
//! together by [`MAX_SPARE_BYTES`]; with the loose headers, at most about 290 KiB a
//! thread whatever the traffic. A head dropped on another thread than it was parsed on
//! (a sharded replay's merge) only fills that thread's spares, up to the same caps.

use std::borrow::Cow;
use std::cell::RefCell;

use crate::http::Header;

/// Header lists kept per kind (requests, responses): one per head in flight.
pub const MAX_SPARE_LISTS: usize = 64;
/// Headers kept per spare list.
pub const MAX_SPARE_HEADERS: usize = 32;
/// A spare header whose name and value hold more than this (capacity) is not kept.
pub const MAX_SPARE_HEADER_BYTES: usize = 512;
/// Loose spare headers kept (those a shorter head left over, for a longer one).
pub const MAX_LOOSE_HEADERS: usize = 64;
/// Spare strings kept (request line parts, reasons, versions): three per request in
/// flight.
pub const MAX_SPARE_STRINGS: usize = 192;
/// A spare string holding more than this (capacity) is not kept.
pub const MAX_SPARE_STRING_BYTES: usize = 1024;

/// Bytes held by the spare lists (their headers' strings and slots) and spare strings
/// of a thread, together.
pub const MAX_SPARE_BYTES: usize = 256 << 10;

/// Which kind of head a header list belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    Request = 0,
    Response = 1,
}

#[derive(Debug)]
struct Spares {
    /// Header lists per kind, each with what it holds ([`list_bytes`]), counted once
    /// when it is given back instead of again when it is taken.
    lists: [Vec<(Vec<Header>, usize)>; 2],
    loose: Vec<Header>,
    strings: Vec<String>,
    /// What the lists and strings hold ([`list_bytes`], string capacities).
    held_bytes: usize,
}

thread_local! {
    static SPARES: RefCell<Spares> = const {
        RefCell::new(Spares {
            lists: [Vec::new(), Vec::new()],
            loose: Vec::new(),
            strings: Vec::new(),
            held_bytes: 0,
        })
    };
}

/// Runs `f` on this thread's spares; `None` when they are unavailable (in use, or the
/// thread is ending).
fn with_spares<T>(f: impl FnOnce(&mut Spares) -> T) -> Option<T> {
    SPARES
        .try_with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s)))
        .ok()
        .flatten()
}

/// A header list holding `items` (name, raw value decoded lossily as UTF-8), built in
/// a spare list of `kind` when there is one. `head_text`, when given, is the whole head
/// the items borrow from, already checked as UTF-8: a value inside it is taken as text
/// without checking it again (one check per head instead of one per value: the check's
/// set-up cost more than the bytes on short values). Without it each value is checked
/// on its own.
pub fn headers_from<'a>(
    kind: HeadKind,
    head_text: Option<&'a str>,
    items: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<Header> {
    let mut list = with_spares(|s| {
        let (list, bytes) = s.lists[kind as usize].pop()?;
        s.held_bytes = s.held_bytes.saturating_sub(bytes);
        Some(list)
    })
    .flatten()
    .unwrap_or_default();
    let mut n = 0;
    for (name, value) in items {
        if n == list.len() {
            // A longer head than the list held: a loose spare header, or a new one.
            let loose = with_spares(|s| s.loose.pop()).flatten();
            list.push(loose.unwrap_or(Header {
                name: String::new(),
                value: String::new(),
            }));
        }
        if let Some(h) = list.get_mut(n) {
            h.name.clear();
            h.name.push_str(name);
            match head_text.and_then(|text| text_of(text, value)) {
                Some(text) => {
                    h.value.clear();
                    h.value.push_str(text);
                }
                None => set_lossy(&mut h.value, value),
            }
        }
        n += 1;
    }
    if list.len() > n {
        // A shorter head: the headers it does not use wait as loose spares.
        with_spares(|s| {
            let room = MAX_LOOSE_HEADERS.saturating_sub(s.loose.len());
            let extra = list.len() - n;
            s.loose.extend(
                list.drain(n..)
                    .take(room.min(extra))
                    .filter(|h| h.name.capacity() + h.value.capacity() <= MAX_SPARE_HEADER_BYTES),
            );
        });
        list.truncate(n);
    }
    list
}

/// The part of `head` from the value `first` through the value `last` (both parsed
/// from it, `first` not after `last`), checked as UTF-8: the text [`headers_from`]
/// takes the values between them from. Checking only that span, not the whole head,
/// skips the request line and the blank line. `None` when it is not valid UTF-8 (each value is then checked alone).
pub fn values_text<'a>(head: &'a [u8], first: &[u8], last: &[u8]) -> Option<&'a str> {
    let base = head.as_ptr() as usize;
    let start = (first.as_ptr() as usize).checked_sub(base)?;
    let end = (last.as_ptr() as usize)
        .checked_sub(base)?
        .checked_add(last.len())?;
    std::str::from_utf8(head.get(start..end)?).ok()
}

/// `part` as text, when it lies within `text` (a valid UTF-8 head it was parsed from)
/// on character boundaries.
fn text_of<'a>(text: &'a str, part: &[u8]) -> Option<&'a str> {
    let at = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let found = text.get(at..at.checked_add(part.len())?)?;
    // The same bytes, not merely bytes at the same offset of another buffer.
    std::ptr::eq(found.as_ptr(), part.as_ptr()).then_some(found)
}

/// `dst` set to `bytes` decoded lossily as UTF-8 (as `String::from_utf8_lossy`).
fn set_lossy(dst: &mut String, bytes: &[u8]) {
    // Nearly every header is valid UTF-8 (ASCII): `str::from_utf8` checks it a word
    // at a time, where the lossy decoder walks it in chunks.
    if let Ok(text) = std::str::from_utf8(bytes) {
        dst.clear();
        dst.push_str(text);
        return;
    }
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => {
            dst.clear();
            dst.push_str(s);
        }
        Cow::Owned(s) => *dst = s,
    }
}

/// A string holding `text`, in a spare one when there is one: the most recent spare
/// that is long enough (spares of requests and responses mix, so a short method or
/// reason string would otherwise grow for the next URI), else the most recent.
pub fn string_from(text: &str) -> String {
    let [s] = strings_from([text]);
    s
}

/// Strings holding `texts`, each in a spare as [`string_from`] takes one, with one
/// visit to the thread's spares for them all (a head's line has two or three).
pub fn strings_from<const N: usize>(texts: [&str; N]) -> [String; N] {
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    with_spares(|s| {
        for (slot, text) in out.iter_mut().zip(texts) {
            let fits = s.strings.iter().rposition(|x| x.capacity() >= text.len());
            let spare = match fits {
                Some(i) => Some(s.strings.swap_remove(i)),
                None => s.strings.pop(),
            };
            if let Some(spare) = spare {
                s.held_bytes = s.held_bytes.saturating_sub(spare.capacity());
                *slot = spare;
            }
        }
    });
    for (slot, text) in out.iter_mut().zip(texts) {
        slot.clear();
        slot.push_str(text);
    }
    out
}

/// Gives a head's storage back to this thread's spares (what the caps allow).
pub fn give_back(kind: HeadKind, mut headers: Vec<Header>, strings: [String; 3]) {
    with_spares(|s| {
        let lists = &mut s.lists[kind as usize];
        if lists.len() < MAX_SPARE_LISTS && headers.capacity() > 0 {
            headers.truncate(MAX_SPARE_HEADERS);
            // One pass sums the strings and sees whether any header is too large to
            // keep (rarely: only then are the headers filtered and summed again).
            let (mut strings, mut oversized) = (0usize, false);
            for h in &headers {
                let held = h.name.capacity() + h.value.capacity();
                strings += held;
                oversized |= held > MAX_SPARE_HEADER_BYTES;
            }
            if oversized {
                headers
                    .retain(|h| h.name.capacity() + h.value.capacity() <= MAX_SPARE_HEADER_BYTES);
                strings = strings_bytes(&headers);
            }
            headers.shrink_to(MAX_SPARE_HEADERS);
            let bytes = slots_bytes(&headers) + strings;
            debug_assert_eq!(bytes, list_bytes(&headers));
            if s.held_bytes + bytes <= MAX_SPARE_BYTES {
                s.held_bytes += bytes;
                lists.push((headers, bytes));
            }
        }
        for string in strings {
            if s.strings.len() < MAX_SPARE_STRINGS
                && string.capacity() > 0
                && string.capacity() <= MAX_SPARE_STRING_BYTES
                && s.held_bytes + string.capacity() <= MAX_SPARE_BYTES
            {
                s.held_bytes += string.capacity();
                s.strings.push(string);
            }
        }
    });
}

/// What a spare header list holds: its slots and its headers' strings.
fn list_bytes(list: &Vec<Header>) -> usize {
    slots_bytes(list) + strings_bytes(list)
}

/// What a header list's slots hold (its capacity, not its length).
fn slots_bytes(list: &Vec<Header>) -> usize {
    list.capacity() * std::mem::size_of::<Header>()
}

/// What a header list's strings hold.
fn strings_bytes(list: &[Header]) -> usize {
    list.iter()
        .map(|h| h.name.capacity() + h.value.capacity())
        .sum()
}

/// Bytes this thread's spare lists and strings hold, counted and recounted (tests).
#[cfg(test)]
pub fn held_bytes() -> (usize, usize) {
    with_spares(|s| {
        let lists: usize = s
            .lists
            .iter()
            .flatten()
            .map(|(list, bytes)| {
                assert_eq!(*bytes, list_bytes(list), "a list's count is what it holds");
                list_bytes(list)
            })
            .sum();
        let strings: usize = s.strings.iter().map(String::capacity).sum();
        (s.held_bytes, lists + strings)
    })
    .unwrap_or_default()
}

/// How many header lists of `kind` and strings this thread keeps now (tests).
#[cfg(test)]
pub fn kept(kind: HeadKind) -> (usize, usize) {
    with_spares(|s| (s.lists[kind as usize].len(), s.strings.len())).unwrap_or_default()
}

/// Forgets this thread's spares (tests).
#[cfg(test)]
pub fn reset() {
    with_spares(|s| {
        s.lists = [Vec::new(), Vec::new()];
        s.loose.clear();
        s.strings.clear();
        s.held_bytes = 0;
    });
}

/// Loose spare headers this thread keeps now (tests).
#[cfg(test)]
pub fn loose() -> usize {
    with_spares(|s| s.loose.len()).unwrap_or_default()
}

#[cfg(test)]
#[path = "spare_tests.rs"]
mod tests;
