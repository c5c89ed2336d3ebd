//! One content coding being undone: gzip (its header read here, leniently), zlib or
//! raw deflate, or a pass-through once the bytes turn out not to be encoded at all.
//!
//! Gzip headers are parsed by hand rather than by flate2's strict reader because
//! browsers skip what RFC 1952 reserves: reserved flag bits (HTTP Evader cases
//! 200-202, 217-219, 230-232) are ignored, FEXTRA/FNAME/FCOMMENT/FHCRC are skipped, and
//! the CRC trailer is not checked (Chromium's `GzipSourceStream` does not check it).

use std::io::Write;

use flate2::write::{DeflateDecoder, ZlibDecoder};

/// A gzip header longer than this (a runaway FNAME or FCOMMENT) is corrupt.
pub const MAX_GZIP_HEADER_BYTES: usize = 64 * 1024;
/// Encoded bytes remembered until the layer's first output, so that a body that turns
/// out not to be encoded can still pass through whole.
pub const MAX_SNIFF_BYTES: usize = 256;

#[derive(Debug)]
enum Kind {
    /// Gzip header bytes collected so far.
    GzipHeader(Vec<u8>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
    /// `deflate` whose first byte is not seen yet (zlib or raw is decided on it).
    Deflate,
    /// Not encoded after all: bytes go through as they are.
    Pass(Vec<u8>),
}

/// What one write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    More,
    /// The stream reached its end; later bytes are ignored.
    Ended,
    /// The bytes were not of this coding; the layer now passes them through.
    PassedThrough,
}

/// One coding being undone.
#[derive(Debug)]
pub struct Layer {
    kind: Kind,
    sniff: Vec<u8>,
    fed: u64,
    produced: bool,
}

impl Layer {
    /// A gzip (or x-gzip) layer.
    pub fn gzip() -> Self {
        Self::new(Kind::GzipHeader(Vec::new()))
    }

    /// A deflate layer (zlib or raw, decided on the first bytes).
    pub fn deflate() -> Self {
        Self::new(Kind::Deflate)
    }

    fn new(kind: Kind) -> Self {
        Layer {
            kind,
            sniff: Vec::new(),
            fed: 0,
            produced: false,
        }
    }

    /// Moves the decoded bytes so far into `into` (which is cleared first).
    pub fn take_output(&mut self, into: &mut Vec<u8>) {
        into.clear();
        let buf = match &mut self.kind {
            Kind::Zlib(d) => d.get_mut(),
            Kind::Raw(d) => d.get_mut(),
            Kind::Pass(b) => b,
            Kind::GzipHeader(_) | Kind::Deflate => return,
        };
        std::mem::swap(into, buf);
    }

    /// Writes encoded bytes; an error is a corrupt stream after good output.
    pub fn write(&mut self, input: &[u8]) -> std::io::Result<Written> {
        self.fed += input.len() as u64;
        if !self.produced && self.sniff.len() + input.len() <= MAX_SNIFF_BYTES {
            self.sniff.extend_from_slice(input);
        }
        match self.write_inner(input) {
            Ok(w) => {
                self.produced |= self.has_output();
                Ok(w)
            }
            Err(e) => {
                if self.produced || self.sniff.len() as u64 != self.fed {
                    return Err(e);
                }
                // Nothing decoded and every byte remembered: read them raw.
                self.kind = Kind::Pass(std::mem::take(&mut self.sniff));
                self.produced = true;
                Ok(Written::PassedThrough)
            }
        }
    }

    fn has_output(&mut self) -> bool {
        match &mut self.kind {
            Kind::Zlib(d) => !d.get_ref().is_empty(),
            Kind::Raw(d) => !d.get_ref().is_empty(),
            Kind::Pass(b) => !b.is_empty(),
            Kind::GzipHeader(_) | Kind::Deflate => false,
        }
    }

    fn write_inner(&mut self, input: &[u8]) -> std::io::Result<Written> {
        match &mut self.kind {
            Kind::Pass(b) => {
                b.extend_from_slice(input);
                return Ok(Written::More);
            }
            Kind::GzipHeader(buf) => {
                buf.extend_from_slice(input);
                let Some(len) = gzip_header_len(buf)? else {
                    return Ok(Written::More);
                };
                let rest = buf.split_off(len);
                self.kind = Kind::Raw(DeflateDecoder::new(Vec::new()));
                return self.write_inner(&rest);
            }
            Kind::Deflate => {
                let Some(&b0) = input.first() else {
                    return Ok(Written::More);
                };
                // RFC 1950 header: CM = 8 and the first two bytes a multiple of 31.
                let zlib = b0 & 0x0f == 8
                    && input
                        .get(1)
                        .map_or(true, |&b1| (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0);
                self.kind = if zlib {
                    Kind::Zlib(ZlibDecoder::new(Vec::new()))
                } else {
                    Kind::Raw(DeflateDecoder::new(Vec::new()))
                };
            }
            Kind::Zlib(_) | Kind::Raw(_) => {}
        }
        let mut rest = input;
        while !rest.is_empty() {
            let n = match &mut self.kind {
                Kind::Zlib(d) => d.write(rest)?,
                Kind::Raw(d) => d.write(rest)?,
                _ => 0,
            };
            if n == 0 {
                return Ok(Written::Ended);
            }
            rest = &rest[n..];
        }
        Ok(Written::More)
    }

    /// Whether the stream reached its end marker (for truncation accounting).
    pub fn finish(&mut self) -> bool {
        match &mut self.kind {
            Kind::Zlib(d) => d.try_finish().is_ok(),
            Kind::Raw(d) => d.try_finish().is_ok(),
            Kind::GzipHeader(b) => b.is_empty(),
            Kind::Deflate | Kind::Pass(_) => true,
        }
    }
}

/// The length of a complete gzip header at the start of `buf`, `None` if more bytes are
/// needed, an error if it is not gzip or runs past [`MAX_GZIP_HEADER_BYTES`].
fn gzip_header_len(buf: &[u8]) -> std::io::Result<Option<usize>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    if buf.len() >= 2 && buf[..2] != [0x1f, 0x8b] {
        return Err(bad("not gzip"));
    }
    if buf.len() > MAX_GZIP_HEADER_BYTES {
        return Err(bad("gzip header too long"));
    }
    let Some(&flags) = buf.get(3) else {
        return Ok(None);
    };
    let mut pos = 10;
    if flags & 0x04 != 0 {
        let Some(x) = buf.get(pos..pos + 2) else {
            return Ok(None);
        };
        pos += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for bit in [0x08, 0x10] {
        if flags & bit != 0 {
            let Some(nul) = buf.get(pos..).and_then(|r| memchr::memchr(0, r)) else {
                return Ok(None);
            };
            pos += nul + 1;
        }
    }
    if flags & 0x02 != 0 {
        pos += 2;
    }
    Ok((buf.len() >= pos).then_some(pos))
}
