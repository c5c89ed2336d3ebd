//! [`NOT_CAPS`]: the stage counters deliberately left out of [`super::CAPS`], each with
//! the series or reason that covers it (the completeness test reads both lists).

/// Stage counters that are not caps, and the series or reason that covers each.
pub const NOT_CAPS: &[(&str, &str)] = &[
    ("packets", "tamperwatch_packets_total"),
    ("bytes", "tamperwatch_bytes_total"),
    (
        "tcp_packets",
        "a split of packets, shown by replay's summary",
    ),
    (
        "udp_packets",
        "a split of packets, shown by replay's summary",
    ),
    (
        "other_packets",
        "a split of packets, shown by replay's summary",
    ),
    (
        "decode_errors",
        "tamperwatch_decode_errors_total by reason (the tunnel depth cap is in CAPS)",
    ),
    ("fragments_reassembled", "the same as fragments.reassembled"),
    (
        "memory.held_bytes",
        "a level, not a count: replay's summary line `memory budget`",
    ),
    (
        "memory.peak_held_bytes",
        "a level, not a count: replay's summary line `memory budget`",
    ),
    (
        "memory.borrowed_bytes",
        "tamperwatch_memory_borrowed_bytes (a level; the pool running short is a cap)",
    ),
    ("flows", "tamperwatch_flows_total"),
    (
        "flows_picked_up_mid_stream",
        "normal on a restart or a mirror port",
    ),
    ("flows_timed_out", "idle flows ending normally"),
    ("transactions", "tamperwatch_http_requests_total"),
    ("tls_client_hellos", "tamperwatch_tls_client_hellos_total"),
    ("outside_site", "tamperwatch_outside_site_packets_total"),
    ("fragments.fragments", "fragments seen: traffic, not a cap"),
    ("reassembly.bytes_delivered", "traffic, not a cap"),
    ("reassembly.retransmitted_segments", "normal TCP behaviour"),
    ("reassembly.out_of_order_segments", "normal TCP behaviour"),
    (
        "reassembly.conflicting_overlaps",
        "an evasion, flagged by the TCP detectors",
    ),
    ("reassembly.gaps", "tamperwatch_reassembly_gaps_total"),
    ("reassembly.gap_bytes", "the size of the gaps counted above"),
    ("http.requests", "tamperwatch_http_requests_total"),
    (
        "http.responses",
        "tamperwatch_http_response_size_bytes count",
    ),
    (
        "http.errors",
        "tamperwatch_http_parse_errors_total by reason",
    ),
    ("http.resyncs", "tamperwatch_http_resyncs_total"),
    (
        "http.resync_scan_bytes",
        "tamperwatch_http_resync_scanned_bytes_total",
    ),
    ("http.tunnels", "CONNECT tunnels: traffic, not a cap"),
];
