use super::*;

/// Collects what reassembly delivers, gaps shown as `[gap N]`.
fn run(segments: &[(u32, &[u8])]) -> (String, StreamStats) {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(99));
    let mut out = String::new();
    let mut deliver = |c: Chunk<'_>| match c {
        Chunk::Data(d) => out.push_str(&String::from_utf8_lossy(d)),
        Chunk::Gap(n) => out.push_str(&format!("[gap {n}]")),
        Chunk::Conflict => {}
    };
    for &(seq, data) in segments {
        r.insert_segment(SeqNumber(seq), data, &mut deliver);
    }
    r.finish(&mut deliver);
    (out, r.stats())
}

#[test]
fn delivers_in_order_segments() {
    let (out, stats) = run(&[(100, b"GET "), (104, b"/ HTTP/1.1")]);
    assert_eq!(out, "GET / HTTP/1.1");
    assert_eq!(stats.bytes_delivered, 14);
}

#[test]
fn reorders_out_of_order_segments() {
    let (out, stats) = run(&[(104, b"/ HTTP"), (100, b"GET ")]);
    assert_eq!(out, "GET / HTTP");
    assert_eq!(stats.out_of_order_segments, 1);
}

#[test]
fn drops_retransmissions_and_keeps_new_tail_of_partial_overlap() {
    let (out, stats) = run(&[(100, b"abcd"), (100, b"abcd"), (102, b"cdef")]);
    assert_eq!(out, "abcdef");
    assert_eq!(stats.retransmitted_segments, 1);
}

#[test]
fn a_same_start_copy_no_longer_than_the_first_is_dropped_and_counted() {
    // Linux drops a later out-of-order segment that adds nothing past an earlier one
    // starting at the same byte.
    let (out, stats) = run(&[(104, b"XXXX"), (104, b"YYYY"), (100, b"abcd")]);
    assert_eq!(out, "abcdXXXX");
    assert_eq!(stats.conflicting_overlaps, 1);
    let (out, _) = run(&[(104, b"XXXX"), (104, b"YY"), (100, b"abcd")]);
    assert_eq!(out, "abcdXXXX");
}

#[test]
fn a_same_start_copy_reaching_further_replaces_the_first() {
    let (out, stats) = run(&[(104, b"XXXX"), (104, b"YYYYYY"), (100, b"abcd")]);
    assert_eq!(out, "abcdYYYYYY");
    assert_eq!(stats.conflicting_overlaps, 1);
}

#[test]
fn the_segment_starting_lower_wins_whichever_arrived_first() {
    // The evasion: the benign tail first, then a segment from further back that
    // carries other bytes over it. Linux hands the application the later segment's
    // bytes (it starts lower), so the monitor must read those.
    let (out, stats) = run(&[(108, b"safe"), (104, b"EVILEVIL"), (100, b"abcd")]);
    assert_eq!(out, "abcdEVILEVIL");
    assert_eq!(stats.conflicting_overlaps, 1);
    // A lower segment that stops inside the later one: the lower wins what they
    // share, the rest stays.
    let (out, _) = run(&[(108, b"safe!!"), (104, b"EVILEV"), (100, b"abcd")]);
    assert_eq!(out, "abcdEVILEVfe!!");
    // A segment starting higher never overwrites one starting lower.
    let (out, _) = run(&[(104, b"EVILEVIL"), (108, b"safe"), (100, b"abcd")]);
    assert_eq!(out, "abcdEVILEVIL");
}

#[test]
fn a_lower_segment_overwrites_only_what_it_covers_across_pieces() {
    // Two buffered segments with a hole between them; a segment from further back
    // covers the hole and part of each: it fills the hole and wins the part of the
    // second it covers (it starts lower), not the first (which starts lower still).
    let (out, stats) = run(&[
        (104, b"1111"),
        (112, b"2222"),
        (106, b"zzzzzzzz"),
        (100, b"abcd"),
    ]);
    assert_eq!(out, "abcd1111zzzzzz22");
    assert_eq!(stats.conflicting_overlaps, 2);
    assert_eq!(stats.bytes_delivered, 16);
}

#[test]
fn a_segment_that_repeats_held_bytes_from_lower_down_owns_them() {
    // 110.. "EVIL" first; the same bytes again from 105 (no conflict); then a decoy
    // from 108. Linux hands on the copy from 105 (the lowest start), so the decoy
    // loses everywhere it overlaps, even where the first two agreed.
    let (out, stats) = run(&[
        (110, b"EVILEVIL"),
        (105, b"xxxxxEVILEVIL"),
        (108, b"safesafesaf"),
        (100, b"abcde"),
    ]);
    assert_eq!(out, "abcdexxxxxEVILEVILf");
    assert_eq!(stats.conflicting_overlaps, 2);
}

#[test]
fn a_segment_starting_where_a_held_one_ends_joins_it() {
    // Linux appends 110.."cccc" to 106.."bbbb" (tcp_ooo_try_coalesce): one segment from
    // 106 on, so a later one from 108 loses the bytes of both, though it starts lower
    // than the second (tests/tcp_parity.rs: the kernel reads the same).
    let (out, stats) = run(&[
        (106, b"bbbb"),
        (110, b"cccc"),
        (108, b"XXXXXXXX"),
        (100, b"aaaaaa"),
    ]);
    assert_eq!(out, "aaaaaabbbbccccXX");
    assert_eq!(stats.conflicting_overlaps, 2);
    // A run of three joins the same way; a segment from before it still wins.
    let (out, _) = run(&[
        (104, b"bb"),
        (106, b"cc"),
        (108, b"dd"),
        (103, b"XXXXXX"),
        (100, b"aaa"),
    ]);
    assert_eq!(out, "aaaXXXXXXd");
}

#[test]
fn a_long_run_of_adjacent_segments_is_one_segment_to_a_later_overlap() {
    // 300 one-byte segments from 101, each joining the run before it (more pieces than
    // the walk that tells them the run's extent visits), then a segment from inside the
    // run past its end, then the hole: the run keeps its bytes, the later one adds its
    // tail only.
    let run_bytes: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut segments: Vec<(u32, &[u8])> = run_bytes
        .iter()
        .enumerate()
        .map(|(i, b)| (101 + i as u32, std::slice::from_ref(b)))
        .collect();
    segments.push((395, b"XXXXXXXXXX"));
    segments.push((100, b"0"));
    let (out, _) = run(&segments);
    let want = format!("0{}XXXX", String::from_utf8_lossy(&run_bytes));
    assert_eq!(out, want);
}

#[test]
fn an_in_order_segment_wins_over_buffered_bytes() {
    let (out, _) = run(&[(104, b"tail"), (100, b"abcdHEAD")]);
    assert_eq!(out, "abcdHEAD");
}

#[test]
fn announces_gaps_at_the_end_of_the_stream() {
    let (out, stats) = run(&[(100, b"ab"), (110, b"zz")]);
    assert_eq!(out, "ab[gap 8]zz");
    assert_eq!(stats.gaps, 1);
    assert_eq!(stats.gap_bytes, 8);
    assert_eq!(
        stats.bytes_delivered, 4,
        "gap bytes are not delivered bytes"
    );
}

#[test]
fn an_in_order_stream_holds_nothing_on_the_heap() {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(99));
    let mut delivered = 0;
    for (seq, data) in [(100, &b"GET / HTTP/1.1\r\n"[..]), (116, b"Host: a\r\n\r\n")] {
        r.insert_segment(SeqNumber(seq), data, &mut |c| {
            if let Chunk::Data(d) = c {
                delivered += d.len();
            }
        });
    }
    assert_eq!((r.heap_bytes(), r.stats().bytes_delivered), (0, 27));
    assert_eq!(delivered, 27);
    // A retransmission is counted, and only then is state allocated.
    r.insert_segment(SeqNumber(100), b"GET", &mut |_| {});
    assert!(r.heap_bytes() > 0);
    assert_eq!(r.stats().retransmitted_segments, 1);
    assert_eq!(r.stats().bytes_delivered, 27);
}

#[test]
fn handles_sequence_wraparound() {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(u32::MAX - 2));
    let mut out = Vec::new();
    let mut deliver = |c: Chunk<'_>| {
        if let Chunk::Data(d) = c {
            out.extend_from_slice(d)
        }
    };
    r.insert_segment(SeqNumber(1), b"def", &mut deliver);
    r.insert_segment(SeqNumber(u32::MAX - 1), b"abc", &mut deliver);
    assert_eq!(out, b"abcdef");
}

#[test]
fn peer_ack_past_a_hole_declares_the_gap() {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(0));
    let mut gaps = Vec::new();
    let mut deliver = |c: Chunk<'_>| {
        if let Chunk::Gap(n) = c {
            gaps.push(n)
        }
    };
    r.insert_segment(SeqNumber(1), b"a", &mut deliver);
    r.insert_segment(SeqNumber(10), b"b", &mut deliver);
    r.on_peer_ack(SeqNumber(11), &mut deliver);
    assert_eq!(gaps, vec![8]);
}

#[test]
fn buffer_limit_forces_a_gap_instead_of_growing() {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(0));
    let mut gaps = 0;
    let mut deliver = |c: Chunk<'_>| {
        if let Chunk::Gap(_) = c {
            gaps += 1
        }
    };
    let seg = vec![0u8; 1000];
    for i in 0..(MAX_PENDING_BYTES / 1000 + 10) {
        r.insert_segment(SeqNumber(10_000 + (i as u32) * 2000), &seg, &mut deliver);
        assert!(r.pending_bytes() <= MAX_PENDING_BYTES + 1000);
    }
    assert!(gaps > 0);
    assert!(r.stats().buffer_limit_hits > 0);
}

#[test]
fn ignores_segments_far_outside_the_window() {
    let (out, stats) = run(&[(100, b"ok"), (100 + MAX_SEQ_JUMP_BYTES + 10, b"junk")]);
    assert_eq!(out, "ok");
    assert_eq!(stats.out_of_window_segments, 1);
}

#[test]
fn resets_outside_the_window_are_refused_and_counted() {
    let mut r = StreamReassembler::default();
    assert!(r.accepts_reset(SeqNumber(5)), "unknown position: accepted");
    r.set_isn(SeqNumber(1000));
    r.insert_segment(SeqNumber(1001), b"hello", &mut |_| {});
    assert!(r.accepts_reset(SeqNumber(1006)), "exactly the next byte");
    assert!(r.accepts_reset(SeqNumber(1006 + 1000)), "inside the window");
    assert!(
        !r.accepts_reset(SeqNumber(1006 + RST_WINDOW_BYTES + 1)),
        "past the window"
    );
    assert!(!r.accepts_reset(SeqNumber(900)), "behind the next byte");
    assert_eq!(r.stats().resets_outside_window, 2);
}

#[test]
fn a_conflict_is_announced_just_before_the_bytes_it_concerns() {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(99));
    let mut out = Vec::new();
    let mut deliver = |c: Chunk<'_>| {
        out.push(match c {
            Chunk::Data(d) => String::from_utf8_lossy(d).into_owned(),
            Chunk::Gap(n) => format!("[gap {n}]"),
            Chunk::Conflict => "[conflict]".to_owned(),
        })
    };
    for (seq, data) in [
        (108u32, &b"safe"[..]),
        (104, b"EVILEVIL"),
        (112, b"more"),
        (100, b"abcd"),
    ] {
        r.insert_segment(SeqNumber(seq), data, &mut deliver);
    }
    r.finish(&mut deliver);
    assert_eq!(out, ["abcd", "EVIL", "[conflict]", "EVIL", "more"]);
}

#[test]
fn identical_overlaps_announce_nothing() {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(99));
    let mut conflicts = 0;
    let mut deliver = |c: Chunk<'_>| conflicts += usize::from(c == Chunk::Conflict);
    for (seq, data) in [(108u32, &b"same"[..]), (104, b"EVILsame"), (100, b"abcd")] {
        r.insert_segment(SeqNumber(seq), data, &mut deliver);
    }
    assert_eq!(conflicts, 0);
}
