//! Message body framing (RFC 9112 §6): Content-Length, chunked, or until close.
//!
//! A decoder consumes raw stream bytes and hands on only the body content; it never
//! stores the body. Chunk-size lines are bounded, and sizes that overflow 64 bits are
//! an error (an old request-smuggling trick), not a wrap-around.

use super::HttpError;

/// A chunk-size line longer than this (extensions included) is refused.
pub const MAX_CHUNK_LINE_BYTES: usize = 1024;
/// Trailer section bytes accepted after the last chunk.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// How a body is delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecoder {
    /// Exactly this many more bytes.
    Length { remaining: u64 },
    /// Chunked transfer coding.
    Chunked(ChunkState),
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// Where a chunked decoder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkState {
    /// Reading a chunk-size line; the digits seen so far and the line length.
    Size {
        value: u64,
        digits: usize,
        line_len: usize,
        in_extension: bool,
    },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// The CRLF after chunk data.
    DataEnd { seen_cr: bool },
    /// Trailer lines after the zero chunk; `line_len` of the current line.
    Trailer { line_len: usize, total: usize },
}

impl ChunkState {
    fn start() -> Self {
        ChunkState::Size {
            value: 0,
            digits: 0,
            line_len: 0,
            in_extension: false,
        }
    }
}

/// What one call to [`BodyDecoder::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of input consumed.
    pub consumed: usize,
    /// Whether the body ended within them.
    pub done: bool,
}

impl BodyDecoder {
    /// A chunked decoder at its start.
    pub fn chunked() -> Self {
        BodyDecoder::Chunked(ChunkState::start())
    }

    /// Consumes body bytes from `data`, passing body content to `content`.
    pub fn feed(
        &mut self,
        data: &[u8],
        content: &mut impl FnMut(&[u8]),
    ) -> Result<Progress, HttpError> {
        match self {
            BodyDecoder::Length { remaining } => {
                let take = (*remaining).min(data.len() as u64) as usize;
                if take > 0 {
                    content(&data[..take]);
                }
                *remaining -= take as u64;
                Ok(Progress {
                    consumed: take,
                    done: *remaining == 0,
                })
            }
            BodyDecoder::UntilClose => {
                content(data);
                Ok(Progress {
                    consumed: data.len(),
                    done: false,
                })
            }
            BodyDecoder::Chunked(state) => feed_chunked(state, data, content),
        }
    }

    /// Skips `len` bytes never captured; returns the bytes of the gap left over after
    /// the body ended, or an error when the framing is lost (inside chunk framing).
    pub fn skip_gap(&mut self, len: u64) -> Result<(bool, u64), HttpError> {
        match self {
            BodyDecoder::Length { remaining } => {
                let take = (*remaining).min(len);
                *remaining -= take;
                Ok((*remaining == 0, len - take))
            }
            BodyDecoder::UntilClose => Ok((false, 0)),
            BodyDecoder::Chunked(ChunkState::Data { remaining }) if *remaining > len => {
                *remaining -= len;
                Ok((false, 0))
            }
            BodyDecoder::Chunked(_) => Err(HttpError::GapInChunkFraming),
        }
    }
}

fn feed_chunked(
    state: &mut ChunkState,
    data: &[u8],
    content: &mut impl FnMut(&[u8]),
) -> Result<Progress, HttpError> {
    let mut i = 0;
    while i < data.len() {
        match state {
            ChunkState::Size {
                value,
                digits,
                line_len,
                in_extension,
            } => {
                let b = data[i];
                i += 1;
                *line_len += 1;
                if *line_len > MAX_CHUNK_LINE_BYTES {
                    return Err(HttpError::BadChunkSize);
                }
                match b {
                    // Browsers' leniencies (Firefox `nsHttpChunkedDecoder` skips empty
                    // lines before a size and reads it with `strtoul`, which skips
                    // leading whitespace and stops at the first non-hex byte):
                    // blank lines and whitespace before the digits are skipped,
                    // anything after them is an extension.
                    b'\n' | b'\r' | b' ' | b'\t' | 0x0b | 0x0c
                        if *digits == 0 && !*in_extension =>
                    {
                        if b == b'\n' {
                            *line_len = 0;
                        }
                    }
                    b'\n' => {
                        if *digits == 0 {
                            return Err(HttpError::BadChunkSize);
                        }
                        *state = if *value == 0 {
                            ChunkState::Trailer {
                                line_len: 0,
                                total: 0,
                            }
                        } else {
                            ChunkState::Data { remaining: *value }
                        };
                    }
                    _ if *in_extension => {}
                    b';' | b' ' | b'\t' => *in_extension = true,
                    b'\r' => {}
                    _ if *digits > 0 && !b.is_ascii_hexdigit() => *in_extension = true,
                    _ => {
                        let digit = (b as char).to_digit(16).ok_or(HttpError::BadChunkSize)?;
                        *value = value
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(u64::from(digit)))
                            .ok_or(HttpError::ChunkSizeOverflow)?;
                        *digits += 1;
                    }
                }
            }
            ChunkState::Data { remaining } => {
                let take = (*remaining).min((data.len() - i) as u64) as usize;
                content(&data[i..i + take]);
                i += take;
                *remaining -= take as u64;
                if *remaining == 0 {
                    *state = ChunkState::DataEnd { seen_cr: false };
                }
            }
            ChunkState::DataEnd { seen_cr } => {
                let b = data[i];
                i += 1;
                match b {
                    b'\r' if !*seen_cr => *seen_cr = true,
                    b'\n' => *state = ChunkState::start(),
                    _ => return Err(HttpError::BadChunkSize),
                }
            }
            ChunkState::Trailer { line_len, total } => {
                let b = data[i];
                i += 1;
                *total += 1;
                if *total > MAX_TRAILER_BYTES {
                    return Err(HttpError::BadChunkSize);
                }
                match b {
                    b'\n' if *line_len == 0 => {
                        *state = ChunkState::start();
                        return Ok(Progress {
                            consumed: i,
                            done: true,
                        });
                    }
                    b'\n' => *line_len = 0,
                    b'\r' => {}
                    _ => *line_len += 1,
                }
            }
        }
    }
    Ok(Progress {
        consumed: i,
        done: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(dec: &mut BodyDecoder, input: &[u8]) -> (Vec<u8>, Progress) {
        let mut out = Vec::new();
        let p = dec
            .feed(input, &mut |c| out.extend_from_slice(c))
            .expect("valid body");
        (out, p)
    }

    #[test]
    fn content_length_stops_at_the_length() {
        let mut dec = BodyDecoder::Length { remaining: 5 };
        let (out, p) = decode_all(&mut dec, b"helloGET /next");
        assert_eq!(out, b"hello");
        assert_eq!(
            p,
            Progress {
                consumed: 5,
                done: true
            }
        );
    }

    #[test]
    fn decodes_chunked_with_extensions_and_trailers() {
        let mut dec = BodyDecoder::chunked();
        let input = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (out, p) = decode_all(&mut dec, input);
        assert_eq!(out, b"Wikipedia");
        assert!(p.done);
        assert_eq!(&input[p.consumed..], b"NEXT");
    }

    #[test]
    fn decodes_chunked_split_at_every_byte() {
        let input = b"a\r\n0123456789\r\n0\r\n\r\n";
        let mut dec = BodyDecoder::chunked();
        let mut out = Vec::new();
        let mut done = false;
        for b in input.chunks(1) {
            let p = dec
                .feed(b, &mut |c| out.extend_from_slice(c))
                .expect("valid");
            done |= p.done;
        }
        assert_eq!(out, b"0123456789");
        assert!(done);
    }

    #[test]
    fn rejects_chunk_size_overflowing_64_bits() {
        let mut dec = BodyDecoder::chunked();
        let err = dec.feed(b"10000000000000000\r\n", &mut |_| {}).err();
        assert_eq!(err, Some(HttpError::ChunkSizeOverflow));
    }

    #[test]
    fn rejects_endless_chunk_size_lines() {
        let mut dec = BodyDecoder::chunked();
        let long = vec![b'0'; MAX_CHUNK_LINE_BYTES + 1];
        assert!(dec.feed(&long, &mut |_| {}).is_err());
    }
}
