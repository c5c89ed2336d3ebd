//! IP fragment reassembly on hand-built fragment views: orders, overlaps, the byte budget and expiry.

use super::*;
use std::net::Ipv4Addr;

fn frag(id: u32, offset: u32, more: bool, payload: &[u8]) -> FragmentView<'_> {
    FragmentView {
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        id,
        protocol: 6,
        offset_bytes: offset,
        more_fragments: more,
        payload,
    }
}

fn datagram(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn in_order_fragments_reassemble() {
    let data = datagram(64);
    let mut d = Defragmenter::default();
    assert!(d
        .insert(&frag(1, 0, true, &data[..24]), 0)
        .expect("fragment")
        .is_none());
    assert!(d
        .insert(&frag(1, 24, true, &data[24..48]), 0)
        .expect("fragment")
        .is_none());
    let whole = d
        .insert(&frag(1, 48, false, &data[48..]), 0)
        .expect("fragment")
        .expect("fragment");
    assert_eq!(whole.payload, data);
    assert_eq!(d.held_bytes(), 0);
    assert_eq!(d.in_progress(), 0);
}

#[test]
fn reverse_and_shuffled_orders_reassemble_the_same_bytes() {
    let data = datagram(800);
    let chunks: Vec<(u32, &[u8])> = data
        .chunks(16)
        .enumerate()
        .map(|(i, c)| ((i * 16) as u32, c))
        .collect();
    let n = chunks.len();
    for order in [
        (0..n).rev().collect::<Vec<_>>(),
        (0..n)
            .filter(|i| i % 2 == 1)
            .chain((0..n).filter(|i| i % 2 == 0))
            .collect(),
    ] {
        let mut d = Defragmenter::default();
        let mut out = None;
        for i in order {
            let (off, c) = chunks[i];
            if let Some(w) = d.insert(&frag(9, off, i + 1 < n, c), 0).expect("fragment") {
                out = Some(w);
            }
        }
        assert_eq!(out.expect("fragment").payload, data);
    }
}

#[test]
fn a_partial_overlap_discards_the_datagram_and_counts_a_conflict() {
    let mut d = Defragmenter::default();
    d.insert(&frag(2, 0, true, b"AAAAAAAA"), 0)
        .expect("fragment");
    // Overlaps the first 8 bytes with different bytes, then adds 8 new ones.
    assert!(d.insert(&frag(2, 0, true, b"BBBBBBBBCCCCCCCC"), 0).is_err());
    assert_eq!(d.in_progress(), 0);
    assert_eq!(d.held_bytes(), 0);
    // What follows starts a datagram of its own that the first bytes never join.
    assert!(d
        .insert(&frag(2, 16, false, b"DD"), 0)
        .expect("fragment")
        .is_none());
    assert_eq!((d.stats.overlaps, d.stats.overlap_conflicts), (1, 1));
}

#[test]
fn an_identical_retransmitted_fragment_is_an_overlap_without_conflict() {
    let mut d = Defragmenter::default();
    d.insert(&frag(3, 0, true, b"AAAAAAAA"), 0)
        .expect("fragment");
    d.insert(&frag(3, 0, true, b"AAAAAAAA"), 0)
        .expect("fragment");
    assert_eq!((d.stats.overlaps, d.stats.overlap_conflicts), (1, 0));
    assert_eq!(d.held_bytes(), 8 + PIECE_OVERHEAD_BYTES);
}

#[test]
fn a_duplicate_inside_one_run_is_ignored_whatever_its_bytes() {
    let mut d = Defragmenter::default();
    d.insert(&frag(10, 0, true, b"AAAAAAAA"), 0)
        .expect("fragment");
    d.insert(&frag(10, 8, true, b"BBBBBBBB"), 0)
        .expect("fragment");
    // Spans both fragments, which form one run (the second was appended at the tail).
    d.insert(&frag(10, 0, true, b"XXXXXXXXXXXXXXXX"), 0)
        .expect("a duplicate is no error");
    let whole = d
        .insert(&frag(10, 16, false, b"CC"), 0)
        .expect("fragment")
        .expect("complete");
    assert_eq!(whole.payload, b"AAAAAAAABBBBBBBBCC");
    assert_eq!((d.stats.overlaps, d.stats.overlap_conflicts), (1, 1));
}

#[test]
fn bytes_spanning_two_runs_are_an_overlap_even_if_each_byte_was_received() {
    let mut d = Defragmenter::default();
    d.insert(&frag(11, 24, false, b"DD"), 0).expect("fragment");
    d.insert(&frag(11, 0, true, b"AAAAAAAA"), 0)
        .expect("fragment");
    // Inserted before the tail: a run of its own, not joined to the one before.
    d.insert(&frag(11, 8, true, b"BBBBBBBB"), 0)
        .expect("fragment");
    assert!(d
        .insert(&frag(11, 0, true, b"AAAAAAAABBBBBBBB"), 0)
        .is_err());
    assert_eq!(d.in_progress(), 0);
    assert_eq!((d.stats.overlaps, d.stats.overlap_conflicts), (1, 0));
}

#[test]
fn an_odd_ipv4_fragment_is_cut_to_a_multiple_of_eight() {
    let data = datagram(40);
    let mut d = Defragmenter::default();
    // 21 bytes with more to follow: the last 5 are cut, and the next fragment brings
    // them again from offset 16.
    assert!(d
        .insert(&frag(12, 0, true, &data[..21]), 0)
        .expect("fragment")
        .is_none());
    assert_eq!(d.held_bytes(), 16 + PIECE_OVERHEAD_BYTES);
    let whole = d
        .insert(&frag(12, 16, false, &data[16..]), 0)
        .expect("fragment")
        .expect("complete");
    assert_eq!(whole.payload, data);
}

#[test]
fn an_odd_fragment_cut_to_nothing_discards_the_datagram() {
    let data = datagram(24);
    let mut d = Defragmenter::default();
    d.insert(&frag(13, 0, true, &data[..16]), 0)
        .expect("fragment");
    assert!(d.insert(&frag(13, 16, true, &data[16..21]), 0).is_err());
    assert_eq!(d.in_progress(), 0);
    assert_eq!(d.stats.inconsistent, 1);
}

#[test]
fn an_odd_ipv6_fragment_is_dropped_alone() {
    let data = datagram(24);
    let v6 = |offset, more, payload| FragmentView {
        src: "fd00::1".parse().expect("addr"),
        dst: "fd00::2".parse().expect("addr"),
        ..frag(14, offset, more, payload)
    };
    let mut d = Defragmenter::default();
    d.insert(&v6(0, true, &data[..16]), 0).expect("fragment");
    assert!(d.insert(&v6(16, true, &data[16..21]), 0).is_err());
    let whole = d
        .insert(&v6(16, false, &data[16..]), 0)
        .expect("fragment")
        .expect("complete");
    assert_eq!(whole.payload, data);
}

#[test]
fn bytes_past_the_announced_end_drop_the_datagram() {
    let mut d = Defragmenter::default();
    d.insert(&frag(4, 8, false, b"end"), 0).expect("fragment");
    assert!(d.insert(&frag(4, 16, true, b"AAAAAAAA"), 0).is_err());
    assert_eq!(d.stats.inconsistent, 1);
    assert_eq!(d.held_bytes(), 0);
}

#[test]
fn memory_is_what_arrived_not_the_datagram_size() {
    let mut d = Defragmenter::default();
    // Only the last fragment of a 64 KiB datagram: 8 bytes held, not 64 KiB.
    d.insert(&frag(5, 65_520, false, b"12345678"), 0)
        .expect("fragment");
    assert_eq!(d.held_bytes(), 8 + PIECE_OVERHEAD_BYTES);
}

#[test]
fn the_byte_budget_refuses_and_counts() {
    let mut d = Defragmenter::default();
    let chunk = vec![0u8; 65_000 / 8 * 8];
    let mut id = 0;
    while d.held_bytes() + chunk.len() + PIECE_OVERHEAD_BYTES <= MAX_FRAGMENT_BYTES {
        d.insert(&frag(id, 0, true, &chunk), 0).expect("fragment");
        id += 1;
    }
    assert!(d.insert(&frag(id, 0, true, &chunk), 0).is_err());
    assert_eq!(d.stats.dropped_over_memory, 1);
    assert!(d.held_bytes() <= MAX_FRAGMENT_BYTES);
}

#[test]
fn old_datagrams_expire_and_free_their_bytes() {
    let mut d = Defragmenter::default();
    d.insert(&frag(6, 0, true, b"AAAAAAAA"), 0)
        .expect("fragment");
    d.insert(&frag(7, 0, true, b"AAAAAAAA"), FRAGMENT_TIMEOUT_SECS + 1)
        .expect("fragment");
    assert_eq!(d.stats.timed_out, 1);
    assert_eq!(d.held_bytes(), 8 + PIECE_OVERHEAD_BYTES);
}

#[test]
fn many_tiny_fragments_of_one_datagram_stay_linear() {
    // 8-byte fragments of the largest datagram, in reverse order (the worst case
    // for an append-and-sort design): 8,191 fragments.
    let data = datagram(65_528);
    let mut d = Defragmenter::default();
    let n = data.len() / 8;
    let mut out = None;
    for i in (0..n).rev() {
        let c = &data[i * 8..i * 8 + 8];
        if let Some(w) = d
            .insert(&frag(8, (i * 8) as u32, i + 1 < n, c), 0)
            .expect("fragment")
        {
            out = Some(w);
        }
    }
    assert_eq!(out.expect("fragment").payload, data);
}

#[test]
fn a_flood_of_tiny_incomplete_datagrams_fills_the_monitor_after_the_kernel() {
    // What Linux holds of one-fragment datagrams before refusing fragments, the monitor
    // holds too (and as many again): a flood that fills it has filled the server's
    // kernel first, so no fragmented request the server takes is dropped here.
    let mut d = Defragmenter::default();
    for id in 0..2 * LINUX_TINY_DATAGRAMS_HELD as u32 {
        assert!(
            d.insert(&frag(id, 0, true, b"12345678"), 0)
                .expect("held")
                .is_none(),
            "refused datagram {id}"
        );
    }
    assert_eq!(d.stats.dropped_over_limit + d.stats.dropped_over_memory, 0);
    // And the flood stays bounded: new datagrams are refused, and counted, once the
    // bytes are charged.
    let mut id = 2 * LINUX_TINY_DATAGRAMS_HELD as u32;
    while d.insert(&frag(id, 0, true, b"12345678"), 0).is_ok() {
        id += 1;
        assert!(d.in_progress() <= MAX_DATAGRAMS_IN_PROGRESS);
    }
    assert!(d.held_bytes() <= MAX_FRAGMENT_BYTES);
    assert_eq!(d.stats.dropped_over_limit + d.stats.dropped_over_memory, 1);
}
