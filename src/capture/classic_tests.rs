//! The classic reader on hand-built files (labelled: no capture tool writes big-endian
//! headers, cut records or over-long lengths on purpose) and, in `file_tests`, against
//! libpcap on every capture in the repository.

use super::*;

/// A file header in the given byte order and timestamp resolution.
fn header(big_endian: bool, nanos: bool, snaplen: u32) -> Vec<u8> {
    let magic = if nanos { MAGIC_NANOS } else { MAGIC_MICROS };
    let fields: [u32; 4] = [0, 0, snaplen, 1];
    let mut out = Vec::new();
    let put32 = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    put32(&mut out, magic);
    for v in [2u16, 4] {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    for v in fields {
        put32(&mut out, v);
    }
    out
}

fn record(big_endian: bool, secs: u32, frac: u32, data: &[u8], wire: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [secs, frac, data.len() as u32, wire] {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    out.extend_from_slice(data);
    out
}

fn reader(file: &[u8]) -> ClassicReader<&[u8]> {
    let head: &[u8; FILE_HEADER_BYTES] = file[..FILE_HEADER_BYTES].try_into().expect("header");
    let parsed = ClassicHeader::parse(head).expect("classic header");
    ClassicReader::new(&file[FILE_HEADER_BYTES..], parsed)
}

/// (secs, micros, wire length, data) of a record.
type Owned = (i64, i64, u32, Vec<u8>);

/// Every record until the end or an error, and the error.
fn read_all(file: &[u8]) -> (Vec<Owned>, Option<String>) {
    let mut r = reader(file);
    let mut out = Vec::new();
    loop {
        match r.next_record() {
            Ok(Some(rec)) => out.push((rec.secs, rec.micros, rec.wire_len, rec.data.to_vec())),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

#[test]
fn reads_both_byte_orders_and_resolutions() {
    for big in [false, true] {
        for nanos in [false, true] {
            let mut f = header(big, nanos, 65535);
            f.extend(record(big, 1_795_341_600, 123_456_789, b"abc", 60));
            f.extend(record(big, 1_795_341_601, 5, b"", 0));
            let (recs, err) = read_all(&f);
            assert_eq!(err, None);
            let frac = if nanos { 123_456 } else { 123_456_789 };
            let tiny = if nanos { 0 } else { 5 };
            assert_eq!(
                recs,
                vec![
                    (1_795_341_600, frac, 60, b"abc".to_vec()),
                    (1_795_341_601, tiny, 0, Vec::new())
                ],
                "big endian {big}, nanos {nanos}"
            );
        }
    }
}

#[test]
fn leaves_other_formats_to_libpcap() {
    let mut old = header(false, false, 65535);
    old[6] = 3; // version 2.3
    let pcapng = [0x0a, 0x0d, 0x0d, 0x0a].repeat(6);
    for f in [&old[..], &pcapng[..]] {
        let head: &[u8; FILE_HEADER_BYTES] = f[..FILE_HEADER_BYTES].try_into().expect("24");
        assert_eq!(ClassicHeader::parse(head), None);
    }
}

#[test]
fn timestamps_are_signed_as_libpcap_reads_them() {
    let mut f = header(false, false, 0);
    f.extend(record(false, 0xffff_fffe, 0xffff_ffff, b"x", 1));
    let (recs, _) = read_all(&f);
    assert_eq!((recs[0].0, recs[0].1), (-2, -1));
}

#[test]
fn records_longer_than_the_snapshot_are_cut_and_the_rest_skipped() {
    let mut f = header(false, false, 4);
    f.extend(record(false, 1, 0, b"0123456789", 10));
    f.extend(record(false, 2, 0, b"ab", 2));
    let (recs, err) = read_all(&f);
    assert_eq!(err, None);
    assert_eq!(recs[0].3, b"0123".to_vec());
    assert_eq!(recs[0].2, 10);
    assert_eq!(recs[1].3, b"ab".to_vec());
}

#[test]
fn an_over_long_record_is_an_error_after_the_good_ones() {
    let mut f = header(false, false, 0);
    f.extend(record(false, 1, 0, b"ok", 2));
    let mut bad = record(false, 2, 0, b"", 0);
    bad[8..12].copy_from_slice(&(MAX_CAPTURED_BYTES + 1).to_le_bytes());
    f.extend(bad);
    let (recs, err) = read_all(&f);
    assert_eq!(recs.len(), 1);
    let err = err.expect("error");
    assert!(
        err.contains("invalid packet capture length 262145"),
        "{err}"
    );
}

#[test]
fn a_file_cut_anywhere_ends_with_truncated_after_the_whole_records() {
    let mut f = header(false, false, 0);
    f.extend(record(false, 1, 0, b"first", 5));
    let whole = f.len();
    f.extend(record(false, 2, 0, b"second", 6));
    for cut in whole + 1..f.len() {
        let (recs, err) = read_all(&f[..cut]);
        assert_eq!(recs.len(), 1, "cut at {cut}");
        let err = err.expect("truncated");
        assert!(
            err.starts_with("truncated dump file"),
            "cut at {cut}: {err}"
        );
    }
    assert_eq!(
        read_all(&f[..whole]),
        (vec![(1, 0, 5, b"first".to_vec())], None)
    );
}

#[test]
fn records_spanning_chunk_boundaries_come_out_whole() {
    // Enough maximal records to cross several chunk refills at varying offsets.
    let mut f = header(false, false, 0);
    let big: Vec<u8> = (0..MAX_CAPTURED_BYTES).map(|i| (i % 251) as u8).collect();
    let mut expected = Vec::new();
    for i in 0..12u32 {
        let len = (MAX_CAPTURED_BYTES - i * 7919) as usize;
        f.extend(record(false, i, 0, &big[..len], len as u32));
        expected.push(len);
    }
    let (recs, err) = read_all(&f);
    assert_eq!(err, None);
    let lens: Vec<usize> = recs.iter().map(|r| r.3.len()).collect();
    assert_eq!(lens, expected);
    assert!(recs.iter().all(|r| r.3[..] == big[..r.3.len()]));
}

/// Counts the bytes each `read` call asks for.
struct ReadSizes<'a> {
    inner: &'a [u8],
    asked: Vec<usize>,
}

impl io::Read for ReadSizes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.asked.push(buf.len());
        self.inner.read(buf)
    }
}

#[test]
fn reads_ask_for_a_step_unless_a_record_needs_more() {
    // Small records: every read asks for one step, so what was read is still in cache
    // when it is parsed. One maximal record: the read that completes it asks for it.
    let mut f = header(false, false, 0);
    for i in 0..4000u32 {
        f.extend(record(false, i, 0, &[7u8; 60], 60));
    }
    let big = vec![9u8; MAX_CAPTURED_BYTES as usize];
    f.extend(record(false, 5000, 0, &big, MAX_CAPTURED_BYTES));
    let head: &[u8; FILE_HEADER_BYTES] = f[..FILE_HEADER_BYTES].try_into().expect("header");
    let parsed = ClassicHeader::parse(head).expect("classic header");
    let mut r = ClassicReader::new(
        ReadSizes {
            inner: &f[FILE_HEADER_BYTES..],
            asked: Vec::new(),
        },
        parsed,
    );
    let mut lens = Vec::new();
    while let Some(rec) = r.next_record().expect("record") {
        lens.push(rec.data.len());
    }
    assert_eq!(lens.len(), 4001);
    assert_eq!(lens.last(), Some(&(MAX_CAPTURED_BYTES as usize)));
    let asked = &r.input.asked;
    // 4000 small records are 304,000 bytes: several step-sized reads.
    assert!(
        asked.iter().filter(|&&n| n == READ_STEP_BYTES).count() >= 4,
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|&n| n > READ_STEP_BYTES),
        "the maximal record was read whole: {asked:?}"
    );
    assert!(
        asked
            .iter()
            .all(|&n| n <= MAX_CAPTURED_BYTES as usize + RECORD_HEADER_BYTES),
        "{asked:?}"
    );
}
