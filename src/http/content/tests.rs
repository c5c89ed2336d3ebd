use std::io::Write;

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;

use super::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("encode");
    e.finish().expect("encode")
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("encode");
    e.finish().expect("encode")
}

fn raw(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("encode");
    e.finish().expect("encode")
}

/// Decodes `body` fed in `piece`-byte segments; returns the output and the decoder.
fn decode(coding: &str, body: &[u8], piece: usize) -> (Vec<u8>, ContentDecoder) {
    let mut dec = ContentDecoder::from_header(coding).expect("a coding");
    let mut out = Vec::new();
    for p in body.chunks(piece.max(1)) {
        dec.feed(p, &mut |d| out.extend_from_slice(d));
    }
    dec.finish(&mut |d| out.extend_from_slice(d));
    (out, dec)
}

const TEXT: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n";

#[test]
fn identity_and_empty_codings_need_no_decoder() {
    assert!(ContentDecoder::from_header("identity").is_none());
    assert!(ContentDecoder::from_header("").is_none());
}

#[test]
fn gzip_x_gzip_zlib_and_raw_deflate_decode_at_any_split() {
    for piece in [1, 3, 7, 1000] {
        assert_eq!(decode("gzip", &gzip(TEXT), piece).0, TEXT);
        assert_eq!(decode("X-Gzip", &gzip(TEXT), piece).0, TEXT);
        assert_eq!(decode("deflate", &zlib(TEXT), piece).0, TEXT);
        assert_eq!(decode("deflate", &raw(TEXT), piece).0, TEXT);
    }
}

#[test]
fn nested_codings_are_undone_in_reverse_order() {
    let body = zlib(&gzip(TEXT));
    let (out, dec) = decode("gzip, deflate", &body, 5);
    assert_eq!(out, TEXT);
    assert_eq!(dec.stats, DecodeStats::default());
}

#[test]
fn layers_past_the_limit_are_counted_and_left_encoded() {
    let mut body = TEXT.to_vec();
    for _ in 0..MAX_CONTENT_LAYERS + 1 {
        body = gzip(&body);
    }
    let coding = ["gzip"; MAX_CONTENT_LAYERS + 1].join(",");
    let (out, dec) = decode(&coding, &body, 64);
    assert_eq!(dec.stats.layers_over_limit, 1);
    // The innermost layer is still gzip.
    assert_eq!(&out[..2], &[0x1f, 0x8b]);
}

#[test]
fn truncated_gzip_keeps_what_decoded_and_counts() {
    let big: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let body = gzip(&big);
    let (out, dec) = decode("gzip", &body[..body.len() / 2], 100);
    assert!(!out.is_empty() && out.len() < big.len());
    assert_eq!(&big[..out.len()], &out[..]);
    assert_eq!(dec.stats.truncated, 1);
}

#[test]
fn a_body_that_is_not_encoded_passes_through_and_is_counted() {
    let (out, dec) = decode("gzip", TEXT, 4);
    assert_eq!(out, TEXT);
    assert_eq!(dec.stats.corrupt, 1);
}

#[test]
fn corruption_after_a_good_start_stops_decoding() {
    let mut body = gzip(&[7u8; 100_000]);
    let mid = body.len() / 2;
    body[mid..].iter_mut().for_each(|b| *b = 0xff);
    let (out, dec) = decode("gzip", &body, 1000);
    assert!(out.len() < 100_000);
    assert_eq!(dec.stats.corrupt, 1);
}

#[test]
fn unknown_codings_are_skipped_and_counted() {
    let dec = ContentDecoder::from_header("br").expect("counted");
    assert_eq!(dec.stats.unknown_coding, 1);
    for coding in [
        "gzip x",
        "x gzip",
        "gzip;",
        "gz\0ip",
        "X-Gzip,",
        "\u{a0}gzip",
    ] {
        let (out, _) = decode(coding, &gzip(TEXT), 9);
        assert_eq!(out, TEXT, "{coding}");
    }
    assert_eq!(decode("x-deflate", &raw(TEXT), 9).0, TEXT);
}

#[test]
fn decompression_bomb_stops_at_the_cap() {
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let body = gzip(&zeros);
    let (out, dec) = decode("gzip", &body, 4096);
    assert!(out.len() as u64 <= MAX_DECODED_BYTES);
    assert!(out.len() as u64 >= RATIO_GRACE_BYTES);
    assert_eq!(dec.stats.bomb_capped, 1);
    assert_eq!(dec.decoded_len(), out.len() as u64);
}

#[test]
fn gzip_header_fields_and_reserved_flags_are_skipped() {
    let body = gzip(TEXT);
    // FNAME + FCOMMENT + FHCRC + a reserved bit, inserted after the 10-byte header.
    let mut odd = body[..10].to_vec();
    odd[3] = 0x08 | 0x10 | 0x02 | 0x80;
    odd.extend_from_slice(b"eicar.txt\0a comment\0\x12\x34");
    odd.extend_from_slice(&body[10..]);
    for piece in [1, 5, 500] {
        assert_eq!(decode("gzip", &odd, piece).0, TEXT);
    }
}

#[test]
fn a_mislabelled_layer_passes_through_to_the_next() {
    // Labelled gzip then deflate, but only gzip was applied.
    let (out, dec) = decode("gzip, deflate", &gzip(TEXT), 7);
    assert_eq!(out, TEXT);
    assert_eq!(dec.stats.corrupt, 1);
}

#[test]
fn a_spent_flow_grace_leaves_only_the_ratio() {
    let bomb = gzip(&vec![0u8; 4 * 1024 * 1024]);
    let mut dec = ContentDecoder::from_header("gzip").expect("a coding");
    dec.limit_to(0);
    let mut out = 0u64;
    for p in bomb.chunks(1000) {
        dec.feed(p, &mut |d| out += d.len() as u64);
    }
    dec.finish(&mut |d| out += d.len() as u64);
    let (decoded, encoded) = dec.inflation();
    assert_eq!(decoded, out);
    assert!(out <= encoded * MAX_DECODE_RATIO, "{out} from {encoded}");
    assert!(
        out < RATIO_GRACE_BYTES,
        "the response's own grace is not given"
    );
    assert_eq!(dec.stats.bomb_capped, 1);
    // Ordinary compressed text (far under the ratio) is never stopped by a spent grace.
    let (text, dec) = {
        let mut dec = ContentDecoder::from_header("gzip").expect("a coding");
        dec.limit_to(0);
        let mut out = Vec::new();
        for p in gzip(TEXT).chunks(7) {
            dec.feed(p, &mut |d| out.extend_from_slice(d));
        }
        dec.finish(&mut |d| out.extend_from_slice(d));
        (out, dec)
    };
    assert_eq!(text, TEXT);
    assert_eq!(dec.stats.bomb_capped, 0);
    let mut plain = ContentDecoder::from_header("x-unknown").expect("counted");
    plain.feed(b"abc", &mut |_| {});
    assert_eq!(plain.inflation(), (0, 0), "nothing undone takes no budget");
}
