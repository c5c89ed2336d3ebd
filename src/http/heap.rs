//! Heap bytes held by HTTP values, for the memory budget ([`crate::flow::budget`]).
//!
//! Read from the buffers' capacities (what the allocator handed out), plus the fixed
//! size of each element of a vector. A content decoder's inflate state lives inside
//! flate2 and cannot be read, so it is counted as [`CONTENT_LAYER_BYTES`] per possible
//! layer; a multipart parser's carry buffer is bounded by its part-header cap.

use std::mem::size_of;

use super::{Header, HttpTransaction, UploadPart};

/// One content-coding layer's inflate state and window (miniz_oxide: about 43 KiB),
/// rounded up.
pub const CONTENT_LAYER_BYTES: usize = 48 * 1024;
/// A response's content decoder, at most [`super::content::MAX_CONTENT_LAYERS`] layers.
pub const CONTENT_DECODER_BYTES: usize = CONTENT_LAYER_BYTES * super::content::MAX_CONTENT_LAYERS;
/// A multipart parser: its delimiter, carry (at most a part head) and current part.
pub const MULTIPART_PARSER_BYTES: usize =
    size_of::<super::multipart::MultipartParser>() + super::multipart::MAX_PART_HEADER_BYTES;

fn opt(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, |s| s.capacity())
}

fn headers(h: &Vec<Header>) -> usize {
    h.capacity() * size_of::<Header>()
        + h.iter()
            .map(|h| h.name.capacity() + h.value.capacity())
            .sum::<usize>()
}

fn part(p: &UploadPart) -> usize {
    opt(&p.field_name)
        + opt(&p.filename)
        + p.alt_filenames.capacity() * size_of::<String>()
        + p.alt_filenames.iter().map(String::capacity).sum::<usize>()
        + opt(&p.content_type)
        + p.prefix.capacity()
}

impl HttpTransaction {
    /// Heap bytes this transaction holds (heads, headers, body prefixes, upload parts).
    pub fn heap_bytes(&self) -> usize {
        let request = self.request.as_ref().map_or(0, |r| {
            r.method.capacity() + r.uri.capacity() + r.version.capacity() + headers(&r.headers)
        });
        let response = self.response.as_ref().map_or(0, |r| {
            r.reason.capacity() + r.version.capacity() + headers(&r.headers)
        });
        request
            + response
            + self.uploads.capacity() * size_of::<UploadPart>()
            + self.uploads.iter().map(part).sum::<usize>()
            + self.body_prefix.capacity()
            + self.response_body_prefix.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_reports_its_headers_and_body() {
        let addr: std::net::SocketAddr = "192.0.2.1:80".parse().expect("addr");
        let mut t = HttpTransaction::new(1, addr, addr, crate::time::Timestamp::default(), 1);
        let empty = t.heap_bytes();
        t.body_prefix = Vec::with_capacity(1000);
        t.request = Some(super::super::RequestHead {
            method: "POST".to_owned(),
            uri: "/upload".to_owned(),
            version: "1.1".to_owned(),
            headers: vec![Header {
                name: "Host".to_owned(),
                value: "example.org".to_owned(),
            }],
            headers_dropped: 0,
        });
        let held = t.heap_bytes();
        assert!(held >= empty + 1000 + size_of::<Header>() + 4 + 11 + 4 + 7 + 3);
    }
}
