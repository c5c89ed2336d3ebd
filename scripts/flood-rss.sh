#!/usr/bin/env bash
# flood-rss.sh - peak RSS of `tamperwatch replay` under issue 10's flood cases, with
# the default memory budget (64 MiB) and the test site's policy, rules and CRS.
#
# usage: sudo bash scripts/flood-rss.sh        (makes the captures under bench-data/
#                                                first if missing; release build)
#   syn-1m.pcap         1,000,000 SYNs from random spoofed sources (hping3)
#   pipeline-1k.pcap    1,000 connections x 64 pipelined requests x 127 headers, no reply
#   frag-300k.pcap      300,000 first fragments of never-completed datagrams, each from
#                       its own spoofed source (hping3 -x)
#   slow-20k.pcap       slowhttptest -B: up to 20,000 connections holding open bodies
#   tiny-1k.pcap        1,000 uploads fed one byte per segment, one client segment in
#                       ten lost on the way, so segments wait out of order
# FLOOD_BIN=PATH times another build; FLOOD_CASES="syn-1m ..." picks captures.
# Prints, per capture, the replay's own `peak memory` line (VmHWM at the end of the
# run), the memory-budget line and the flood events. A measurement, not a timed test.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$ROOT/bench-data
BIN=${FLOOD_BIN:-$ROOT/target/release/tamperwatch}
mkdir -p "$DATA"
[[ -f $DATA/syn-1m.pcap ]] || bash "$ROOT/scripts/pcapgen/flood-bench.sh" syn "$DATA/syn-1m.pcap" 1000000
[[ -f $DATA/pipeline-1k.pcap ]] || bash "$ROOT/scripts/pcapgen/flood-bench.sh" pipeline "$DATA/pipeline-1k.pcap"
[[ -f $DATA/frag-300k.pcap ]] || bash "$ROOT/scripts/pcapgen/flood-bench.sh" frag "$DATA/frag-300k.pcap"
[[ -f $DATA/slow-20k.pcap ]] || bash "$ROOT/scripts/pcapgen/flood-bench.sh" slow "$DATA/slow-20k.pcap"
[[ -f $DATA/tiny-1k.pcap ]] || bash "$ROOT/scripts/pcapgen/flood-bench.sh" tiny "$DATA/tiny-1k.pcap"
[[ -x $BIN ]] || (cd "$ROOT" && cargo build --release --quiet)
for cap in ${FLOOD_CASES:-syn-1m pipeline-1k frag-300k slow-20k tiny-1k}; do
    echo "== $cap ($(stat -c %s "$DATA/$cap.pcap") bytes)"
    "$BIN" replay --config "$ROOT/pcaps/site.yaml" --events "$DATA/$cap.events.jsonl" "$DATA/$cap.pcap" |
        grep -E '^(packets|flows|memory budget|transactions|peak memory|detector state|flagged events|  flood|reassembly|ip fragments)'
    grep -o '"rule":"[^"]*"' "$DATA/$cap.events.jsonl" | sort | uniq -c || true
done
