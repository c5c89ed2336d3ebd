//! [`Summary`]: the counters of a whole run, by stage, and their text report.

use std::fmt;

use crate::decode::fragment::FragmentStats;
use crate::decode::DecodeError;
use crate::flow::PressureStats;
use crate::http::session::HttpStats;
use crate::reassembly::StreamStats;

/// Counters over a whole run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    /// Packets that are not IP or not TCP/UDP (ARP, ICMP): skipped, not errors.
    pub other_packets: u64,
    pub decode_errors: [u64; DecodeError::ALL.len()],
    pub fragments_reassembled: u64,
    pub flows: u64,
    pub flows_picked_up_mid_stream: u64,
    pub flows_evicted: u64,
    /// Evictions by class: without data, established, mid-message.
    pub flows_evicted_by_class: [u64; 3],
    pub flows_timed_out: u64,
    pub reassembly: StreamStats,
    pub http: HttpStats,
    pub transactions: u64,
    pub tls_client_hellos: u64,
    /// TCP packets skipped as not to or from the site (live capture only).
    pub outside_site: u64,
    /// IP fragment reassembly counters.
    pub fragments: FragmentStats,
    /// Memory budget: emergency steps taken and bytes held.
    pub memory: PressureStats,
}

/// Adds another worker's counters to these (a sharded run's total). Every field is
/// named, so a counter added to [`Summary`] without being summed does not compile.
impl std::ops::AddAssign<&Summary> for Summary {
    fn add_assign(&mut self, other: &Summary) {
        let Summary {
            packets,
            bytes,
            tcp_packets,
            udp_packets,
            other_packets,
            decode_errors,
            fragments_reassembled,
            flows,
            flows_picked_up_mid_stream,
            flows_evicted,
            flows_evicted_by_class,
            flows_timed_out,
            reassembly,
            http,
            transactions,
            tls_client_hellos,
            outside_site,
            fragments,
            memory,
        } = other;
        self.packets += packets;
        self.bytes += bytes;
        self.tcp_packets += tcp_packets;
        self.udp_packets += udp_packets;
        self.other_packets += other_packets;
        for (a, b) in self.decode_errors.iter_mut().zip(decode_errors) {
            *a += b;
        }
        self.fragments_reassembled += fragments_reassembled;
        self.flows += flows;
        self.flows_picked_up_mid_stream += flows_picked_up_mid_stream;
        self.flows_evicted += flows_evicted;
        for (a, b) in self
            .flows_evicted_by_class
            .iter_mut()
            .zip(flows_evicted_by_class)
        {
            *a += b;
        }
        self.flows_timed_out += flows_timed_out;
        self.reassembly += *reassembly;
        self.http += *http;
        self.transactions += transactions;
        self.tls_client_hellos += tls_client_hellos;
        self.outside_site += outside_site;
        self.fragments += *fragments;
        self.memory += *memory;
    }
}

impl Summary {
    /// The memory budget's line: what it held at peak and each emergency step taken.
    /// Not part of the [`fmt::Display`] report: with several workers each holds its
    /// own share, so these figures depend on the worker count and the report must not.
    pub fn memory_line(&self) -> String {
        let m = &self.memory;
        format!(
            "memory budget      {} bytes held at peak; under pressure: {} data-less flows dropped, timeouts shortened {}x ({} flows expired), windows shrunk {}x ({} bytes), {} established flows evicted\n",
            m.peak_held_bytes, m.dataless_dropped, m.timeouts_shortened, m.short_timeout_expired,
            m.windows_shrunk, m.window_bytes_released, m.established_evicted
        )
    }

    /// Total packets that could not be decoded.
    pub fn decode_error_total(&self) -> u64 {
        self.decode_errors.iter().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "packets            {}", self.packets)?;
        writeln!(f, "bytes              {}", self.bytes)?;
        writeln!(f, "tcp packets        {}", self.tcp_packets)?;
        writeln!(f, "udp packets        {}", self.udp_packets)?;
        writeln!(
            f,
            "other packets      {} (not IP, or not TCP/UDP)",
            self.other_packets
        )?;
        writeln!(
            f,
            "flows              {} ({} picked up mid-stream, {} timed out, {} evicted: {} without data, {} established, {} mid-message)",
            self.flows,
            self.flows_picked_up_mid_stream,
            self.flows_timed_out,
            self.flows_evicted,
            self.flows_evicted_by_class[0],
            self.flows_evicted_by_class[1],
            self.flows_evicted_by_class[2]
        )?;
        writeln!(f, "transactions       {}", self.transactions)?;
        writeln!(f, "tls client hellos  {}", self.tls_client_hellos)?;
        let r = &self.reassembly;
        writeln!(
            f,
            "reassembly         {} gaps ({} bytes), {} retransmitted, {} out of order, {} conflicting overlaps",
            r.gaps, r.gap_bytes, r.retransmitted_segments, r.out_of_order_segments, r.conflicting_overlaps
        )?;
        let fr = &self.fragments;
        writeln!(
            f,
            "ip fragments       {} ({} datagrams reassembled, {} overlaps, {} conflicting, {} timed out, {} dropped over limits, {} inconsistent)",
            fr.fragments,
            fr.reassembled,
            fr.overlaps,
            fr.overlap_conflicts,
            fr.timed_out,
            fr.dropped_over_limit + fr.dropped_over_memory,
            fr.inconsistent
        )?;
        if self.outside_site > 0 {
            writeln!(
                f,
                "outside the site   {} tcp packets skipped",
                self.outside_site
            )?;
        }
        writeln!(f, "decode errors      {}", self.decode_error_total())?;
        for e in DecodeError::ALL {
            let n = self.decode_errors[e.index()];
            if n > 0 {
                writeln!(f, "  {:<24} {n}", e.as_str())?;
            }
        }
        let http_errors: u64 = self.http.errors.iter().sum();
        writeln!(
            f,
            "http parse errors  {http_errors} ({} resyncs, {} bytes scanned to resync)",
            self.http.resyncs, self.http.resync_scan_bytes
        )?;
        let h = &self.http;
        if h.headers_dropped + h.multipart_parts_dropped + h.multipart_params_dropped > 0 {
            writeln!(
                f,
                "http over caps     {} header lines, {} multipart parts, {} multipart params",
                h.headers_dropped, h.multipart_parts_dropped, h.multipart_params_dropped
            )?;
        }
        let d = &h.decode;
        if h.lenient_responses + d.bomb_capped + d.corrupt + d.truncated > 0
            || d.layers_over_limit + d.unknown_coding > 0
        {
            writeln!(
                f,
                "http responses     {} read the browsers' way; content decoding: {} bomb-capped, \
                 {} corrupt, {} truncated, {} over the layer limit, {} unknown codings",
                h.lenient_responses,
                d.bomb_capped,
                d.corrupt,
                d.truncated,
                d.layers_over_limit,
                d.unknown_coding
            )?;
        }
        for e in crate::http::HttpError::ALL {
            let n = self.http.errors[e.index()];
            if n > 0 {
                writeln!(f, "  {:<24} {n}", e.as_str())?;
            }
        }
        Ok(())
    }
}
