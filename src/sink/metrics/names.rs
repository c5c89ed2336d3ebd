//! Every metric name, help text and label name: the one place dashboards, alerting
//! rules and code agree on.
//!
//! Names follow Prometheus conventions: a `tamperwatch_` prefix, base units in the name
//! (`_seconds`, `_bytes`), `_total` on counters only. Renaming one breaks the committed
//! dashboard and alerting rules under `deploy/`, so grep there too.

/// A metric's exposed name and its `# HELP` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricName {
    pub name: &'static str,
    pub help: &'static str,
}

const fn metric(name: &'static str, help: &'static str) -> MetricName {
    MetricName { name, help }
}

// Packet stages.

/// Frames seen by the pipeline.
pub const PACKETS: MetricName = metric(
    "tamperwatch_packets_total",
    "Frames processed by the pipeline.",
);
/// Bytes of those frames, as on the wire.
pub const BYTES: MetricName = metric(
    "tamperwatch_bytes_total",
    "Bytes of the frames processed, as on the wire.",
);
/// TCP flows created.
pub const FLOWS: MetricName = metric("tamperwatch_flows_total", "TCP flows tracked.");
/// Holes in reassembled TCP streams.
pub const REASSEMBLY_GAPS: MetricName = metric(
    "tamperwatch_reassembly_gaps_total",
    "Gaps (missing bytes) in reassembled TCP streams.",
);
/// Frames that could not be decoded, by reason.
pub const DECODE_ERRORS: MetricName = metric(
    "tamperwatch_decode_errors_total",
    "Frames that could not be decoded, by reason.",
);
/// HTTP messages that could not be parsed, by reason.
pub const HTTP_PARSE_ERRORS: MetricName = metric(
    "tamperwatch_http_parse_errors_total",
    "HTTP messages that could not be parsed, by reason.",
);
/// Times a desynchronised HTTP stream found the next request or status line.
pub const HTTP_RESYNCS: MetricName = metric(
    "tamperwatch_http_resyncs_total",
    "Times an HTTP stream that lost framing (a capture gap) found the next message.",
);
/// Bytes scanned while looking for the next message after lost framing.
pub const HTTP_RESYNC_SCANNED_BYTES: MetricName = metric(
    "tamperwatch_http_resync_scanned_bytes_total",
    "Bytes scanned for the next request or status line after lost framing.",
);
/// Items parsed but not kept because a per-message cap was hit, by what.
pub const HTTP_CAPPED: MetricName = metric(
    "tamperwatch_http_capped_total",
    "HTTP items parsed but not kept over a cap (header lines, multipart parts and parameters).",
);

/// IP fragment reassembly outcomes and limits, by outcome.
pub const IP_FRAGMENTS: MetricName = metric(
    "tamperwatch_ip_fragments_total",
    "IP fragments by outcome (reassembled datagrams, overlaps, conflicting overlaps, timeouts, drops over limits, inconsistent datagrams).",
);
/// TCP packets the live capture let through that were not to or from the site.
pub const OUTSIDE_SITE_PACKETS: MetricName = metric(
    "tamperwatch_outside_site_packets_total",
    "TCP packets skipped after decoding as not to or from the site's addresses and ports.",
);
/// Flows evicted from a full flow table.
pub const FLOWS_EVICTED: MetricName = metric(
    "tamperwatch_flows_evicted_total",
    "TCP flows evicted from a full flow table.",
);

// Caps and anomalies (see `caps::CAPS`, which says how each is read).

/// Evictions from a full flow table, by what the evicted flow was doing.
pub const FLOWS_EVICTED_BY_CLASS: MetricName = metric(
    "tamperwatch_flows_evicted_by_class_total",
    "TCP flows evicted from a full flow table, by class (without data, established, mid-message).",
);
/// Frames nested deeper than the tunnel decoder's depth limit.
pub const TUNNEL_DEPTH_EXCEEDED: MetricName = metric(
    "tamperwatch_tunnel_depth_exceeded_total",
    "Frames whose encapsulations (GRE, VXLAN, Geneve, PPPoE) nest deeper than the decoder's limit; dropped.",
);
/// Segments not buffered because a stream's out-of-order buffer was full.
pub const REASSEMBLY_BUFFER_LIMIT: MetricName = metric(
    "tamperwatch_reassembly_buffer_limit_total",
    "TCP segments not buffered because a stream's out-of-order buffer was at its limit.",
);
/// Segments too far ahead of the stream to buffer.
pub const REASSEMBLY_OUT_OF_WINDOW: MetricName = metric(
    "tamperwatch_reassembly_out_of_window_segments_total",
    "TCP segments too far ahead of the stream to be buffered; dropped.",
);
/// RSTs outside the receive window, ignored as the endpoints ignore them.
pub const TCP_RESETS_IGNORED: MetricName = metric(
    "tamperwatch_tcp_resets_ignored_total",
    "TCP resets outside the receive window, ignored as the endpoints do (RFC 5961).",
);
/// Transactions ended early because a session held too many.
pub const HTTP_FORCED_OUT: MetricName = metric(
    "tamperwatch_http_transactions_forced_out_total",
    "HTTP transactions handed on before their response because a session held too many.",
);
/// Responses framed the browsers' way where RFC 9112 says otherwise.
pub const HTTP_LENIENT_RESPONSES: MetricName = metric(
    "tamperwatch_http_lenient_responses_total",
    "HTTP responses framed the browsers' way where RFC 9112 says otherwise (obfuscated Transfer-Encoding, odd status lines).",
);
/// The same responses per kind of ambiguity (docs/http-parity.md gives each source).
pub const HTTP_RESPONSE_ANOMALIES: MetricName = metric(
    "tamperwatch_http_response_anomalies_total",
    "HTTP responses read the browsers' way where RFC 9112 reads them otherwise, by kind of ambiguity.",
);
/// Response content decoding stopped early, by reason.
pub const HTTP_DECODING_STOPPED: MetricName = metric(
    "tamperwatch_http_decoding_stopped_total",
    "HTTP response bodies whose content decoding stopped early, by reason (bomb guard, layer limit, corrupt, truncated, unknown coding).",
);
/// Bodies longer than the prefix kept for detection, by side.
pub const HTTP_BODY_PREFIX_CUT: MetricName = metric(
    "tamperwatch_http_body_prefix_cut_total",
    "HTTP bodies longer than the 64 KiB kept for detection (rules saw only their start), by side.",
);
/// Flows ended by the memory budget's emergency steps, by step.
pub const MEMORY_PRESSURE_FLOWS_DROPPED: MetricName = metric(
    "tamperwatch_memory_pressure_flows_dropped_total",
    "Flows ended by the memory budget's emergency steps, by step (dataless, short_timeout, established).",
);
/// Times the memory budget found the pooled heap spent, shortened timeouts or shrank
/// reassembly windows.
pub const MEMORY_PRESSURE_STEPS: MetricName = metric(
    "tamperwatch_memory_pressure_steps_total",
    "Times a worker found the workers' pooled heap spent (pool_exhausted), or the memory budget shortened timeouts or shrank reassembly windows, by step.",
);
/// Heap live workers have on loan from the others' pooled shares now.
pub const MEMORY_BORROWED: MetricName = metric(
    "tamperwatch_memory_borrowed_bytes",
    "Heap bytes the live workers have on loan from each other's pooled shares of the memory budget now (a flood from one address lands on one worker).",
);
/// Buffered out-of-order bytes given up as gaps when windows shrank.
pub const MEMORY_PRESSURE_RELEASED: MetricName = metric(
    "tamperwatch_memory_pressure_released_bytes_total",
    "Out-of-order bytes given up as gaps when the memory budget shrank reassembly windows.",
);
/// Per-client detector observations not tracked because the threshold table was full.
pub const THRESHOLD_WINDOWS_DROPPED: MetricName = metric(
    "tamperwatch_detector_state_dropped_total",
    "Per-client detector observations not tracked because detector state was at its cap.",
);
/// CRS inputs cut at the engine's caps.
pub const CRS_CAPS: MetricName = metric(
    "tamperwatch_crs_caps_total",
    "Times the CRS engine hit one of its caps, by kind (values or bodies cut, arguments or matches dropped, caches full).",
);
/// CRS evaluations that hit an internal limit or an unparsable body.
pub const CRS_EVAL_ERRORS: MetricName = metric(
    "tamperwatch_crs_eval_errors_total",
    "CRS evaluations that hit an internal limit or a body they could not parse.",
);

// Capture (libpcap statistics).

/// Packets the capture received (libpcap `ps_recv`).
pub const CAPTURE_RECEIVED: MetricName = metric(
    "tamperwatch_capture_packets_received_total",
    "Packets received by the capture (libpcap ps_recv).",
);
/// Packets the capture lost: in the kernel buffer, at the interface, or at a full
/// worker queue.
pub const CAPTURE_DROPPED: MetricName = metric(
    "tamperwatch_capture_packets_dropped_total",
    "Packets dropped before inspection (libpcap ps_drop, ps_ifdrop; full worker queues).",
);

// HTTP statistics (the site's usage summary).

/// Requests by method, status class and version.
pub const HTTP_REQUESTS: MetricName = metric(
    "tamperwatch_http_requests_total",
    "HTTP requests by method, status class and version.",
);
/// Time from the end of a request to the start of its response.
pub const HTTP_RESPONSE_LATENCY: MetricName = metric(
    "tamperwatch_http_response_latency_seconds",
    "Time from the last byte of a request to the first byte of its response.",
);
/// Request body sizes.
pub const HTTP_REQUEST_SIZE: MetricName = metric(
    "tamperwatch_http_request_size_bytes",
    "HTTP request body sizes after transfer decoding.",
);
/// Response body sizes.
pub const HTTP_RESPONSE_SIZE: MetricName = metric(
    "tamperwatch_http_response_size_bytes",
    "HTTP response body sizes after transfer decoding.",
);
/// Requests by the content group of their path (configured prefixes).
pub const HTTP_REQUESTS_BY_CONTENT_GROUP: MetricName = metric(
    "tamperwatch_http_requests_by_content_group_total",
    "HTTP requests by content group (configured path prefixes).",
);
/// Requests by browser family.
pub const HTTP_REQUESTS_BY_BROWSER: MetricName = metric(
    "tamperwatch_http_requests_by_browser_total",
    "HTTP requests by browser family, from the User-Agent.",
);
/// TLS ClientHellos by offered version and whether SNI was sent.
pub const TLS_CLIENT_HELLOS: MetricName = metric(
    "tamperwatch_tls_client_hellos_total",
    "TLS ClientHellos by highest version offered and whether a server name was sent.",
);
/// Estimated distinct client addresses since 00:00 UTC.
pub const VISITORS_TODAY: MetricName = metric(
    "tamperwatch_visitors_today",
    "Estimated distinct client addresses since 00:00 UTC (HyperLogLog, keyed hash).",
);

// Detection.

/// Flagged events by category and rule.
pub const FLAGGED_EVENTS: MetricName = metric(
    "tamperwatch_flagged_events_total",
    "Flagged events by category and rule.",
);
/// Rules in the running rule set.
pub const RULES_LOADED: MetricName =
    metric("tamperwatch_rules_loaded", "Rules in the running rule set.");
/// Rule reloads by result.
pub const RELOADS: MetricName = metric(
    "tamperwatch_reloads_total",
    "Rule and policy reloads, by result.",
);

// Sinks.

/// Rows in the flagged store.
pub const STORE_ROWS: MetricName = metric(
    "tamperwatch_store_rows",
    "Flagged records held in the store.",
);
/// Rows removed by retention.
pub const STORE_PURGED_ROWS: MetricName = metric(
    "tamperwatch_store_purged_rows_total",
    "Flagged records removed by retention.",
);
/// Writes to the flagged store given up.
pub const STORE_DROPPED_WRITES: MetricName = metric(
    "tamperwatch_store_dropped_writes_total",
    "Flagged records that could not be written to the store.",
);
/// Times the store file was found deleted or replaced and made again.
pub const STORE_RECREATED: MetricName = metric(
    "tamperwatch_store_recreated_total",
    "Times the flagged store file was found deleted or replaced and was recreated.",
);
/// Idle connections to the metrics endpoint closed to make room for a new one.
pub const ENDPOINT_IDLE_CLOSED: MetricName = metric(
    "tamperwatch_endpoint_idle_closed_total",
    "Idle connections to the metrics endpoint closed to make room for a new one.",
);
/// Connections to the metrics endpoint refused with 503 because every slot was busy.
pub const ENDPOINT_BUSY: MetricName = metric(
    "tamperwatch_endpoint_busy_total",
    "Connections to the metrics endpoint answered 503 because every slot was busy.",
);
/// Events dropped because a sink's queue was full.
pub const EVENTS_DROPPED: MetricName = metric(
    "tamperwatch_events_dropped_total",
    "Flagged events dropped because a sink could not keep up.",
);

// Label names.

pub const LABEL_METHOD: &str = "method";
pub const LABEL_STATUS_CLASS: &str = "status_class";
pub const LABEL_VERSION: &str = "version";
pub const LABEL_GROUP: &str = "group";
pub const LABEL_BROWSER: &str = "browser";
pub const LABEL_SNI: &str = "sni";
pub const LABEL_CATEGORY: &str = "category";
pub const LABEL_RULE: &str = "rule";
pub const LABEL_REASON: &str = "reason";
pub const LABEL_WHERE: &str = "where";
pub const LABEL_KIND: &str = "kind";
pub const LABEL_STEP: &str = "step";
pub const LABEL_OUTCOME: &str = "outcome";
pub const LABEL_RESULT: &str = "result";
/// What a cap dropped (`header_line`, `multipart_part`, `multipart_param`).
pub const LABEL_WHAT: &str = "what";
/// Which body of a transaction (`request`, `response`).
pub const LABEL_SIDE: &str = "side";
/// The class of an evicted flow (`without_data`, `established`, `mid_message`).
pub const LABEL_CLASS: &str = "class";

/// The label value every bounded set folds its remainder into.
pub const OTHER: &str = "other";
