//! Transformation tests: ModSecurity's own cases, hand-written edge cases per
//! transformation, and a bounded random-bytes loop for panics and output bounds.

use super::oracle::CASES;
use super::{apply_chain, ChainBuffers, Transform};

pub(super) fn t(name: &str, input: &[u8]) -> Vec<u8> {
    let tf = Transform::from_name(name).unwrap_or_else(|| panic!("unknown transformation {name}"));
    let mut out = Vec::new();
    tf.apply(input, &mut out);
    out
}

pub(super) fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

#[test]
fn matches_modsecurity_unit_test_cases() {
    let mut failures = Vec::new();
    for &(name, input, expected) in CASES {
        // ModSecurity's unit tests run without a SecUnicodeMapFile.
        let got = if name == "urlDecodeUni" {
            let mut out = Vec::new();
            super::url::url_decode_uni(input, &mut out, false);
            out
        } else {
            t(name, input)
        };
        if got != expected {
            failures.push(format!(
                "{name}: input {}\n   expected {}\n   got      {}",
                show(input),
                show(expected),
                show(&got)
            ));
        }
    }
    assert!(CASES.len() > 300, "oracle table truncated: {}", CASES.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// Every transformation, for the loops below.
const ALL: [Transform; 30] = {
    use Transform::*;
    [
        Base64Decode,
        Base64DecodeExt,
        CmdLine,
        CompressWhitespace,
        CssDecode,
        EscapeSeqDecode,
        HexDecode,
        HexEncode,
        HtmlEntityDecode,
        JsDecode,
        Length,
        Lowercase,
        Md5,
        NormalizePath,
        NormalizePathWin,
        RemoveComments,
        RemoveCommentsChar,
        RemoveNulls,
        RemoveWhitespace,
        ReplaceComments,
        ReplaceNulls,
        Sha1,
        Trim,
        TrimLeft,
        TrimRight,
        Uppercase,
        UrlDecode,
        UrlDecodeUni,
        UrlEncode,
        Utf8ToUnicode,
    ]
};

/// A tiny xorshift generator: deterministic, so a failure reproduces.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_never_panic_and_respect_output_bounds() {
    // Half the bytes come from the characters the decoders react to, so escapes, entities,
    // comments and path segments are exercised, not just noise.
    const SPECIAL: &[u8] =
        b"%uU+&#;xX\\/.*-<!>=\"'^ \t\r\n,(0123456789abcdefABCDEF\x00\xa0\xc2\xc3\xe2\xf0\xf5\xff";
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut input = Vec::new();
    let mut out = Vec::new();
    for round in 0..3_000 {
        input.clear();
        let len = (rng.next() % 96) as usize;
        for _ in 0..len {
            let r = rng.next();
            input.push(if r & 1 == 0 {
                SPECIAL[((r >> 8) % SPECIAL.len() as u64) as usize]
            } else {
                (r >> 8) as u8
            });
        }
        for tf in ALL {
            tf.apply(&input, &mut out);
            assert!(
                out.len() <= tf.max_output_len(input.len()),
                "round {round}: {tf:?} wrote {} bytes for {} input bytes: {}",
                out.len(),
                input.len(),
                show(&input)
            );
        }
    }
}

#[test]
fn output_buffer_is_cleared_and_reused() {
    let mut out = b"stale contents".to_vec();
    Transform::UrlDecode.apply(b"a%20b", &mut out);
    assert_eq!(out, b"a b");
    let cap = out.capacity();
    Transform::Lowercase.apply(b"XY", &mut out);
    assert_eq!(out, b"xy");
    assert_eq!(out.capacity(), cap, "a short value reuses the buffer");
}

#[test]
fn names_are_case_insensitive_and_unknown_names_rejected() {
    assert_eq!(
        Transform::from_name("urlDecodeUni"),
        Some(Transform::UrlDecodeUni)
    );
    assert_eq!(
        Transform::from_name("URLDECODEUNI"),
        Some(Transform::UrlDecodeUni)
    );
    assert_eq!(
        Transform::from_name("utf8toUnicode"),
        Some(Transform::Utf8ToUnicode)
    );
    assert_eq!(
        Transform::from_name("normalisePathWin"),
        Some(Transform::NormalizePathWin)
    );
    for tf in ALL {
        assert_eq!(Transform::from_name(tf.name()), Some(tf), "{tf:?}");
    }
    assert_eq!(Transform::from_name("none"), None);
    assert_eq!(Transform::from_name("sqlHexDecode"), None);
    assert_eq!(Transform::from_name(""), None);
}

#[test]
fn chain_applies_in_order_and_reuses_buffers() {
    use Transform::*;
    let mut bufs = ChainBuffers::default();
    assert_eq!(apply_chain(&[], b"As Is", &mut bufs), b"As Is");
    // CRS 941's chain: %u decoding feeds entity decoding, then JS escapes, then case.
    let chain = [
        Utf8ToUnicode,
        UrlDecodeUni,
        HtmlEntityDecode,
        JsDecode,
        CssDecode,
        Lowercase,
    ];
    let got = apply_chain(&chain, b"%26lt;SCRIPT%26gt;\\u0061lert(1)", &mut bufs);
    assert_eq!(show(got), show(b"<script>alert(1)"));
    // hexEncode's output is lowercase already, so the round trip survives `lowercase`.
    let got = apply_chain(&[HexEncode, Lowercase, HexDecode], b"AbC", &mut bufs);
    assert_eq!(got, b"AbC");
    let got = apply_chain(&[UrlDecode, UrlDecode], b"%2541", &mut bufs);
    assert_eq!(got, b"A", "double decoding needs two steps");
    let got = apply_chain(&[Lowercase, UrlDecode], b"%4A", &mut bufs);
    assert_eq!(
        got, b"J",
        "order matters: case folding before decoding keeps the decoded case"
    );
}
