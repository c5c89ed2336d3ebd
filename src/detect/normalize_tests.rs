//! Normalization tests: decoding rounds, overlong forms, path resolution, parameters,
//! and the fast paths' agreement with the full steps.
use super::*;

#[test]
fn decodes_double_encoding_and_counts_rounds() {
    let d = decode(b"/%252e%252e%252fetc/passwd", false);
    assert_eq!(d.text, b"/../etc/passwd");
    assert_eq!(d.rounds, 2);
}

#[test]
fn folds_overlong_utf8_and_backslashes() {
    let d = decode(b"/%c0%ae%c0%ae%c0%afetc\\passwd", false);
    assert_eq!(d.text, b"/../etc/passwd");
    assert!(d.had_overlong);
}

#[test]
fn drops_nul_and_remembers_it() {
    let d = decode(b"/shell.php%00.jpg", false);
    assert_eq!(d.text, b"/shell.php.jpg");
    assert!(d.had_nul);
}

#[test]
fn plus_is_space_only_in_queries() {
    assert_eq!(decode(b"a+b", true).text, b"a b");
    assert_eq!(decode(b"a+b", false).text, b"a+b");
}

#[test]
fn decodes_percent_u_escapes() {
    let d = decode(b"1%u0027%20OR%201=1", true);
    assert_eq!(d.text, b"1' OR 1=1");
    assert!(d.had_percent_u);
    assert_eq!(decode(b"%u2215etc", false).text, "\u{2215}etc".as_bytes());
    let bad = decode(b"%u00zz%u12", false);
    assert_eq!(bad.text, b"%u00zz%u12");
    assert!(!bad.had_percent_u);
}

#[test]
fn percent_u_hidden_under_percent_encoding_is_decoded() {
    assert_eq!(decode(b"%25u003cscript", false).text, b"<script");
}

#[test]
fn folds_sql_comments_as_mysql_reads_them() {
    assert_eq!(
        fold_sql_comments(b"1 union/**/select/**/1,2").as_deref(),
        Some(&b"1 union select 1,2"[..])
    );
    assert_eq!(
        fold_sql_comments(b"1 /*!50000union*/ /*!select*/ 1").as_deref(),
        Some(&b"1  union   select  1"[..])
    );
    assert_eq!(fold_sql_comments(b"no comment here"), None);
    assert_eq!(fold_sql_comments(b"files/*.txt"), None);
    assert_eq!(
        fold_sql_comments(b"a/*x*/b/*unterminated").as_deref(),
        Some(&b"a b/*unterminated"[..])
    );
}

/// Every string of up to 6 bytes over the bytes that matter, plus `%u` tails.
fn small_strings(alphabet: &[u8]) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut layer = vec![Vec::new()];
    for _ in 0..6 {
        layer = layer
            .iter()
            .flat_map(|s: &Vec<u8>| {
                alphabet.iter().map(move |&b| {
                    let mut n = s.clone();
                    n.push(b);
                    n
                })
            })
            .collect();
        all.extend(layer.iter().cloned());
    }
    all
}

/// The shortcut for values without a byte to decode gives what every step gives.
#[test]
fn identity_shortcut_equals_the_full_decoding() {
    for s in small_strings(b"%2e+\\\0\xc0\xaeu") {
        for plus in [false, true] {
            assert_eq!(decode(&s, plus), decode_all(&s, plus), "{s:?} plus={plus}");
        }
    }
}

#[test]
fn comment_folding_and_percent_u_never_panic_on_short_inputs() {
    for s in small_strings(b"/*!1u%") {
        let _ = fold_sql_comments(&s);
        let _ = decode(&s, true);
    }
}

#[test]
fn resolves_dot_segments_and_notes_escape_above_root() {
    assert_eq!(resolve_path(b"/a//b/./c/../d"), (b"/a/b/d".to_vec(), false));
    assert_eq!(
        resolve_path(b"/../../etc/passwd"),
        (b"/etc/passwd".to_vec(), true)
    );
    assert_eq!(resolve_path(b"/admin/"), (b"/admin/".to_vec(), false));
    assert_eq!(resolve_path(b""), (b"/".to_vec(), false));
    assert_eq!(resolve_path(b"/a/b/.."), (b"/a/".to_vec(), false));
    assert_eq!(resolve_path(b"/a/../../b/."), (b"/b/".to_vec(), true));
    assert_eq!(resolve_path(b"a/..x/../.y/z"), (b"/a/.y/z".to_vec(), false));
    assert_eq!(resolve_path(b"//../"), (b"/".to_vec(), true));
}

#[test]
fn decoding_is_bounded() {
    let mut deep = b"%".to_vec();
    for _ in 0..10 {
        deep = percent_encode_all(&deep);
    }
    let d = decode(&deep, false);
    assert_eq!(d.rounds, MAX_DECODE_ROUNDS);
    let huge = vec![b'%'; MAX_NORMALIZE_BYTES * 4];
    assert!(decode(&huge, false).text.len() <= MAX_NORMALIZE_BYTES);
}

fn percent_encode_all(b: &[u8]) -> Vec<u8> {
    b.iter()
        .flat_map(|c| format!("%{c:02X}").into_bytes())
        .collect()
}

#[test]
fn counts_parameters_over_the_cap() {
    assert!(!params_over(b"a=1&b=2", 2));
    assert!(params_over(b"a=1&b=2&c", 2));
    assert!(!params_over(b"a=1&&;b=2", 2));
}

#[test]
fn splits_params_and_decodes_both_sides() {
    let p = params(b"id=1%27+OR+1%3D1&flag&x=%2e", 10);
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].1.text, b"1' OR 1=1");
    assert_eq!(p[1].0.text, b"flag");
    assert_eq!(p[2].1.text, b".");
}

/// The fast-path checks agree with the full steps: a value said to decode to
/// itself does, and a path said to be resolved is, on paths of every shape.
#[test]
fn fast_paths_agree_with_decoding_and_resolving() {
    let paths: [&[u8]; 24] = [
        b"/",
        b"",
        b"/a",
        b"/a/",
        b"/a//b",
        b"//",
        b"/./",
        b"/.",
        b"/..",
        b"/a/..",
        b"/a/./b",
        b"/a/b.c/d",
        b"a/b",
        b"*",
        b"/a/.b/..c",
        b"/%2e%2e/",
        b"/a\\b",
        b"/a+b",
        b"/a\0b",
        b"/\xc0\xae",
        b"/a/b/",
        b"/.hidden/",
        b"/a/...",
        b"/a/b//",
    ];
    for p in paths {
        for plus in [false, true] {
            if decodes_to_itself(p, plus) {
                assert_eq!(
                    decode(p, plus),
                    Decoded {
                        text: p.to_vec(),
                        ..Decoded::default()
                    }
                );
            }
        }
        let (resolved, escaped) = resolve_path(p);
        assert_eq!(
            is_resolved(p),
            resolved == p && !escaped,
            "{:?}",
            String::from_utf8_lossy(p)
        );
    }
    assert!(is_resolved(b"/a/b/"));
    assert!(!is_resolved(b"/a/../b"));
    assert!(!decodes_to_itself(
        &vec![b'a'; MAX_NORMALIZE_BYTES + 1],
        false
    ));
}

proptest::proptest! {
    /// The word-at-a-time test agrees with the byte-by-byte one, on values made of
    /// the bytes it looks for, their neighbours and high bytes, at every length and
    /// alignment of the last partial word.
    #[test]
    fn word_test_agrees_with_the_byte_test(
        raw in proptest::collection::vec(
            proptest::sample::select(b"%\\+\0\xC0\xC1\xE0\xC2\x7F\x80a/.$&=".to_vec()),
            0..40,
        ),
        plus in proptest::bool::ANY,
    ) {
        let mut clean: Vec<u8> = raw.iter().map(|&b| if decoding_changes(b, plus) { b'a' } else { b }).collect();
        proptest::prop_assert!(!any_decoding_change(&clean, plus));
        proptest::prop_assert_eq!(
            any_decoding_change(&raw, plus),
            raw.iter().any(|&b| decoding_changes(b, plus))
        );
        // One byte that changes, anywhere, is found.
        if let Some(first) = raw.iter().position(|&b| decoding_changes(b, plus)) {
            clean[first] = raw[first];
            proptest::prop_assert!(any_decoding_change(&clean, plus));
        }
    }
}
