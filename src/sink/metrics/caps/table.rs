//! The rows of [`CAPS`]: which series shows each stage counter, and how it is read.

use super::{Cap, DetectorCounts, Reading};
use crate::decode::DecodeError;
use crate::http::session::{MAX_BODY_PREFIX_BYTES, MAX_RESPONSE_PREFIX_BYTES};
use crate::http::HttpTransaction;
use crate::observe::Summary;
use crate::sink::metrics::names;
use crate::sink::metrics::Metrics;

/// A cap read from a [`Summary`] field path.
macro_rules! summary {
    ($metric:expr, $label:expr, $($path:tt)+) => {
        Cap {
            metric: $metric,
            label: $label,
            field: stringify!($($path)+),
            reading: Reading::Summary {
                read: |s: &Summary| s.$($path)+,
                write: |s: &mut Summary, v: u64| s.$($path)+ = v,
            },
        }
    };
}

/// A cap read from a [`DetectorCounts`] field.
macro_rules! detector {
    ($metric:expr, $field:ident) => {
        detector!($metric, None, $field)
    };
    ($metric:expr, $label:expr, $field:ident) => {
        Cap {
            metric: $metric,
            label: $label,
            field: concat!("detector.", stringify!($field)),
            reading: Reading::Detector {
                read: |c: &DetectorCounts| c.$field,
                write: |c: &mut DetectorCounts, v: u64| c.$field = v,
            },
        }
    };
}

const TUNNEL_TOO_DEEP: usize = DecodeError::TunnelTooDeep as usize;

/// Every cap and anomaly counter, in pipeline order.
pub const CAPS: &[Cap] = &[
    summary!(names::FLOWS_EVICTED, None, flows_evicted),
    summary!(
        names::FLOWS_EVICTED_BY_CLASS,
        Some((names::LABEL_CLASS, "without_data")),
        flows_evicted_by_class[0]
    ),
    summary!(
        names::FLOWS_EVICTED_BY_CLASS,
        Some((names::LABEL_CLASS, "established")),
        flows_evicted_by_class[1]
    ),
    summary!(
        names::FLOWS_EVICTED_BY_CLASS,
        Some((names::LABEL_CLASS, "mid_message")),
        flows_evicted_by_class[2]
    ),
    summary!(
        names::TUNNEL_DEPTH_EXCEEDED,
        None,
        decode_errors[TUNNEL_TOO_DEEP]
    ),
    summary!(
        names::IP_FRAGMENTS,
        Some((names::LABEL_OUTCOME, "reassembled")),
        fragments.reassembled
    ),
    summary!(
        names::IP_FRAGMENTS,
        Some((names::LABEL_OUTCOME, "overlap")),
        fragments.overlaps
    ),
    summary!(
        names::IP_FRAGMENTS,
        Some((names::LABEL_OUTCOME, "overlap_conflict")),
        fragments.overlap_conflicts
    ),
    summary!(
        names::IP_FRAGMENTS,
        Some((names::LABEL_OUTCOME, "timed_out")),
        fragments.timed_out
    ),
    summary!(
        names::IP_FRAGMENTS,
        Some((names::LABEL_OUTCOME, "dropped_over_limit")),
        fragments.dropped_over_limit
    ),
    summary!(
        names::IP_FRAGMENTS,
        Some((names::LABEL_OUTCOME, "dropped_over_memory")),
        fragments.dropped_over_memory
    ),
    summary!(
        names::IP_FRAGMENTS,
        Some((names::LABEL_OUTCOME, "inconsistent")),
        fragments.inconsistent
    ),
    summary!(
        names::REASSEMBLY_BUFFER_LIMIT,
        None,
        reassembly.buffer_limit_hits
    ),
    summary!(
        names::REASSEMBLY_OUT_OF_WINDOW,
        None,
        reassembly.out_of_window_segments
    ),
    summary!(
        names::TCP_RESETS_IGNORED,
        None,
        reassembly.resets_outside_window
    ),
    summary!(names::HTTP_FORCED_OUT, None, http.forced_out),
    summary!(
        names::HTTP_CAPPED,
        Some((names::LABEL_WHAT, "header_line")),
        http.headers_dropped
    ),
    summary!(
        names::HTTP_CAPPED,
        Some((names::LABEL_WHAT, "multipart_part")),
        http.multipart_parts_dropped
    ),
    summary!(
        names::HTTP_CAPPED,
        Some((names::LABEL_WHAT, "multipart_param")),
        http.multipart_params_dropped
    ),
    summary!(names::HTTP_LENIENT_RESPONSES, None, http.lenient_responses),
    summary!(
        names::HTTP_RESPONSE_ANOMALIES,
        Some((names::LABEL_KIND, "lenient_status_line")),
        http.response_anomalies.lenient_status_line
    ),
    summary!(
        names::HTTP_RESPONSE_ANOMALIES,
        Some((names::LABEL_KIND, "bare_cr_line_end")),
        http.response_anomalies.bare_cr_line_end
    ),
    summary!(
        names::HTTP_RESPONSE_ANOMALIES,
        Some((names::LABEL_KIND, "regrouped_header_lines")),
        http.response_anomalies.regrouped_header_lines
    ),
    summary!(
        names::HTTP_RESPONSE_ANOMALIES,
        Some((names::LABEL_KIND, "te_obfuscated")),
        http.response_anomalies.te_obfuscated
    ),
    summary!(
        names::HTTP_RESPONSE_ANOMALIES,
        Some((names::LABEL_KIND, "te_below_http11")),
        http.response_anomalies.te_below_http11
    ),
    summary!(
        names::HTTP_RESPONSE_ANOMALIES,
        Some((names::LABEL_KIND, "odd_content_length")),
        http.response_anomalies.odd_content_length
    ),
    summary!(
        names::HTTP_RESPONSE_ANOMALIES,
        Some((names::LABEL_KIND, "http09_response")),
        http.response_anomalies.http09_response
    ),
    summary!(
        names::HTTP_DECODING_STOPPED,
        Some((names::LABEL_REASON, "bomb_capped")),
        http.decode.bomb_capped
    ),
    summary!(
        names::HTTP_DECODING_STOPPED,
        Some((names::LABEL_REASON, "layers_over_limit")),
        http.decode.layers_over_limit
    ),
    summary!(
        names::HTTP_DECODING_STOPPED,
        Some((names::LABEL_REASON, "corrupt")),
        http.decode.corrupt
    ),
    summary!(
        names::HTTP_DECODING_STOPPED,
        Some((names::LABEL_REASON, "truncated")),
        http.decode.truncated
    ),
    summary!(
        names::HTTP_DECODING_STOPPED,
        Some((names::LABEL_REASON, "unknown_coding")),
        http.decode.unknown_coding
    ),
    Cap {
        metric: names::HTTP_BODY_PREFIX_CUT,
        label: Some((names::LABEL_SIDE, "request")),
        field: "transaction.body_prefix",
        reading: Reading::Transaction {
            hit: request_prefix_cut,
            make: |t: &mut HttpTransaction| {
                t.body_prefix = vec![b'a'; MAX_BODY_PREFIX_BYTES];
                t.request_body_len = MAX_BODY_PREFIX_BYTES as u64 + 1;
            },
        },
    },
    Cap {
        metric: names::HTTP_BODY_PREFIX_CUT,
        label: Some((names::LABEL_SIDE, "response")),
        field: "transaction.response_body_prefix",
        reading: Reading::Transaction {
            hit: response_prefix_cut,
            make: |t: &mut HttpTransaction| {
                t.response_body_prefix = vec![b'a'; MAX_RESPONSE_PREFIX_BYTES];
                t.response_body_len = MAX_RESPONSE_PREFIX_BYTES as u64 + 1;
            },
        },
    },
    summary!(
        names::MEMORY_PRESSURE_FLOWS_DROPPED,
        Some((names::LABEL_STEP, "dataless")),
        memory.dataless_dropped
    ),
    summary!(
        names::MEMORY_PRESSURE_FLOWS_DROPPED,
        Some((names::LABEL_STEP, "short_timeout")),
        memory.short_timeout_expired
    ),
    summary!(
        names::MEMORY_PRESSURE_FLOWS_DROPPED,
        Some((names::LABEL_STEP, "established")),
        memory.established_evicted
    ),
    summary!(
        names::MEMORY_PRESSURE_STEPS,
        Some((names::LABEL_STEP, "pool_exhausted")),
        memory.pool_refusals
    ),
    summary!(
        names::MEMORY_PRESSURE_STEPS,
        Some((names::LABEL_STEP, "shorten_timeouts")),
        memory.timeouts_shortened
    ),
    summary!(
        names::MEMORY_PRESSURE_STEPS,
        Some((names::LABEL_STEP, "shrink_windows")),
        memory.windows_shrunk
    ),
    summary!(
        names::MEMORY_PRESSURE_RELEASED,
        None,
        memory.window_bytes_released
    ),
    detector!(names::THRESHOLD_WINDOWS_DROPPED, threshold_windows_dropped),
    detector!(
        names::CRS_CAPS,
        Some((names::LABEL_KIND, "values_cut")),
        crs_values_cut
    ),
    detector!(
        names::CRS_CAPS,
        Some((names::LABEL_KIND, "args_dropped")),
        crs_args_dropped
    ),
    detector!(
        names::CRS_CAPS,
        Some((names::LABEL_KIND, "bodies_cut")),
        crs_bodies_cut
    ),
    detector!(
        names::CRS_CAPS,
        Some((names::LABEL_KIND, "transform_cache_full")),
        crs_transform_cache_full
    ),
    detector!(
        names::CRS_CAPS,
        Some((names::LABEL_KIND, "matches_dropped")),
        crs_matches_dropped
    ),
    detector!(
        names::CRS_CAPS,
        Some((names::LABEL_KIND, "memo_resets")),
        crs_memo_resets
    ),
    detector!(names::CRS_EVAL_ERRORS, crs_eval_errors),
    Cap {
        metric: names::CAPTURE_DROPPED,
        label: Some((names::LABEL_WHERE, "kernel")),
        field: "capture.ps_drop",
        reading: Reading::Pushed {
            // libpcap's totals are absolute: the capture thread sets all three.
            add: |m: &Metrics, v: u64| m.set_capture_stats(v, v, 0),
        },
    },
    Cap {
        metric: names::CAPTURE_DROPPED,
        label: Some((names::LABEL_WHERE, "interface")),
        field: "capture.ps_ifdrop",
        reading: Reading::Pushed {
            add: |m: &Metrics, v: u64| m.set_capture_stats(v, 0, v),
        },
    },
    Cap {
        metric: names::CAPTURE_DROPPED,
        label: Some((names::LABEL_WHERE, "queue")),
        field: "capture.queue_drops",
        reading: Reading::Pushed {
            add: Metrics::add_queue_drops,
        },
    },
    Cap {
        metric: names::STORE_DROPPED_WRITES,
        label: None,
        field: "store.dropped",
        reading: Reading::Pushed {
            add: Metrics::add_store_dropped_writes,
        },
    },
    Cap {
        metric: names::EVENTS_DROPPED,
        label: None,
        field: "events.dropped",
        reading: Reading::Pushed {
            add: Metrics::add_events_dropped,
        },
    },
];

/// The request body ran past the bytes kept for detection (the CRS and the upload
/// rules saw only its first [`MAX_BODY_PREFIX_BYTES`]).
fn request_prefix_cut(txn: &HttpTransaction) -> bool {
    txn.body_prefix.len() >= MAX_BODY_PREFIX_BYTES
        && txn.request_body_len > MAX_BODY_PREFIX_BYTES as u64
}

/// The decoded response body ran past the bytes kept for detection.
fn response_prefix_cut(txn: &HttpTransaction) -> bool {
    txn.response_body_prefix.len() >= MAX_RESPONSE_PREFIX_BYTES
        && txn.response_body_len > MAX_RESPONSE_PREFIX_BYTES as u64
}
