//! Field storage: reuse leaves nothing behind, spans read back as pushed, and the
//! word-at-a-time lowercasing agrees with the standard library.

use super::*;
use crate::detect::fields::PooledValues;

#[test]
fn reuse_leaves_no_value_of_the_previous_transaction() {
    let mut first = PooledValues::take(Field::fixed_slots(), 1);
    first.push(Field::Method, b"POST", None);
    first.push(Field::Method, b"PUT", None);
    first.push(Field::Header(0), b"Secret", Some(2));
    first.methods.push("PUT".to_owned());
    drop(first);
    let mut second = PooledValues::take(Field::fixed_slots(), 0);
    assert!(second.get(Field::Method).is_empty());
    assert!(second.get(Field::Header(0)).is_empty());
    assert!(second.methods.is_empty());
    second.push(Field::Method, b"GeT", None);
    let got: Vec<&[u8]> = second.get(Field::Method).iter().map(|v| v.bytes).collect();
    assert_eq!(got, [b"get".as_slice()]);
    assert_eq!(
        second.get(Field::Method).first().map(|v| v.upload),
        Some(None)
    );
}

#[test]
fn interleaved_fields_keep_their_own_values_in_order() {
    let mut v = PooledValues::take(Field::fixed_slots(), 2);
    v.push(Field::HeaderNames, b"Host", None);
    v.push(Field::HeaderValues, b"WWW.Example.GOV", None);
    v.push(Field::Header(1), b"", Some(3));
    v.push(Field::HeaderNames, b"User-Agent", None);
    v.push(Field::HeaderValues, b"curl/8", None);
    let all = |f: Field| -> Vec<(Vec<u8>, Option<usize>)> {
        v.get(f)
            .iter()
            .map(|x| (x.bytes.to_vec(), x.upload))
            .collect()
    };
    assert_eq!(
        all(Field::HeaderNames),
        [(b"host".to_vec(), None), (b"user-agent".to_vec(), None)]
    );
    assert_eq!(
        all(Field::HeaderValues),
        [
            (b"www.example.gov".to_vec(), None),
            (b"curl/8".to_vec(), None)
        ]
    );
    assert_eq!(all(Field::Header(1)), [(Vec::new(), Some(3))]);
    assert!(v.get(Field::Header(0)).is_empty());
    assert_eq!(v.get(Field::HeaderValues).len(), 2);
    assert_eq!(
        v.get(Field::HeaderValues).get(1).map(|x| x.bytes),
        Some(b"curl/8".as_slice())
    );
    assert_eq!(v.get(Field::HeaderValues).get(2), None);
}

/// The word-at-a-time lowercasing agrees with the standard library's on every
/// byte value, at every position of a word and in the tail.
#[test]
fn lowercase_agrees_with_the_standard_library() {
    let all: Vec<u8> = (0..=u8::MAX).collect();
    for shift in 0..8 {
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 300] {
            let src: Vec<u8> = all.iter().cycle().skip(shift).take(len).copied().collect();
            let mut want = src.clone();
            want.make_ascii_lowercase();
            // Appended after what is there, which stays as it was.
            let mut mine = b"Kept".to_vec();
            append_lowercase(&mut mine, &src);
            assert_eq!(mine.get(..4), Some(b"Kept".as_slice()));
            assert_eq!(
                mine.get(4..),
                Some(want.as_slice()),
                "shift {shift} len {len}"
            );
        }
    }
    let mut v = Vec::new();
    append_lowercase(&mut v, b"GET /Index.HTML?A=Z@[`{");
    assert_eq!(v, b"get /index.html?a=z@[`{");
}

/// A value pushed again reads as the same value pushed alone, whether or not the
/// field it came from was kept.
#[test]
fn a_value_pushed_again_reads_as_pushed_alone() {
    let mut read = FieldSet::default();
    read.insert(Field::HeaderValues);
    read.insert(Field::UserAgent);
    let mut v = PooledValues::take(Field::fixed_slots(), 1);
    v.keep_only(&read);
    v.push(Field::HeaderValues, b"Close", None);
    v.push(Field::HeaderValues, b"Mozilla/5.0 (X11)", None);
    v.push_again(Field::UserAgent, Field::HeaderValues, b"Mozilla/5.0 (X11)");
    v.push_again(Field::Header(0), Field::HeaderValues, b"Mozilla/5.0 (X11)");
    v.push_again(Field::Host, Field::HeaderValues, b"Mozilla/5.0 (X11)");
    // From a field not kept: copied.
    v.push(Field::Host, b"WWW.X", None);
    v.push_again(Field::UserAgent, Field::Host, b"Curl/8");
    let all = |f: Field| -> Vec<Vec<u8>> { v.get(f).iter().map(|x| x.bytes.to_vec()).collect() };
    let ua = b"mozilla/5.0 (x11)".to_vec();
    assert_eq!(all(Field::HeaderValues), [b"close".to_vec(), ua.clone()]);
    assert_eq!(all(Field::UserAgent), [ua.clone(), b"curl/8".to_vec()]);
    assert_eq!(all(Field::Header(0)), [ua]);
    assert!(v.get(Field::Host).is_empty());
}

#[test]
fn large_buffers_are_not_kept() {
    let mut v = PooledValues::take(Field::fixed_slots(), 0);
    let big = vec![b'a'; MAX_KEPT_VALUE_BYTES * 2];
    v.push(Field::Body, &big, None);
    assert!(v.bytes.capacity() >= big.len());
    v.reset(Field::fixed_slots(), 0);
    assert!(v.get(Field::Body).is_empty());
    assert!(v.bytes.capacity() <= MAX_KEPT_VALUE_BYTES);
}

/// Reused with the same layout, only the slots values went to are emptied: every
/// field reads empty again, header fields included, and a long list is cut back.
#[test]
fn reuse_with_the_same_layout_empties_every_slot_written() {
    let fields = [
        Field::Method,
        Field::Status,
        Field::Anomaly,
        Field::Header(0),
        Field::Header(2),
    ];
    let mut first = PooledValues::take(Field::fixed_slots(), 3);
    for f in fields {
        first.push(f, b"x", None);
    }
    for _ in 0..(MAX_SPARE_VALUES_PER_SLOT * 2) {
        first.push(Field::QueryValues, b"y", None);
    }
    first.push(Field::HeaderValues, b"Curl/8", None);
    first.push_again(Field::UserAgent, Field::HeaderValues, b"Curl/8");
    let filled = first.filled();
    for f in fields.iter().chain(&[Field::QueryValues, Field::UserAgent]) {
        assert_ne!(filled & f.filled_bit(), 0, "{f:?}");
    }
    assert_eq!(filled & Field::Body.filled_bit(), 0);
    drop(first);
    let second = PooledValues::take(Field::fixed_slots(), 3);
    assert_eq!(second.filled(), 0);
    for f in fields.iter().chain(&[Field::QueryValues, Field::UserAgent]) {
        assert!(second.get(*f).is_empty(), "{f:?}");
    }
    let kept = second
        .slots
        .get(Field::QueryValues.slot(Field::fixed_slots()))
        .map_or(0, Vec::capacity);
    assert!(kept <= MAX_SPARE_VALUES_PER_SLOT, "{kept}");
}
