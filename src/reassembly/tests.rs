use super::*;

/// Collects what reassembly delivers, gaps shown as `[gap N]`.
fn run(segments: &[(u32, &[u8])]) -> (String, StreamStats) {
    let mut r = StreamReassembler::default();
    r.set_isn(SeqNumber(99));
    let mut out = String::new();
    let mut deliver = |c: Chunk<'_>| match c {
        Chunk::Data(d) => out.push_str(&String::from_utf8_lossy(d)),
        Chunk::Gap(n) => out.push_str(&format!("[gap {n}]")),
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
fn first_copy_wins_on_conflicting_overlap_and_is_counted() {
    let (out, stats) = run(&[(104, b"XXXX"), (104, b"YYYY"), (100, b"abcd")]);
    assert_eq!(out, "abcdXXXX");
    assert_eq!(stats.conflicting_overlaps, 1);
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
