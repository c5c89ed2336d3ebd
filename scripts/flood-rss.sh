#!/usr/bin/env bash
# flood-rss.sh - peak RSS of `tamperwatch replay` under issue 10's two flood cases, with
# the default memory budget (64 MiB) and the test site's policy, rules and CRS.
#
# usage: sudo bash scripts/flood-rss.sh        (makes the captures under bench-data/
#                                                first if missing; release build)
#   syn-1m.pcap         1,000,000 SYNs from random spoofed sources (hping3)
#   pipeline-1k.pcap    1,000 connections x 64 pipelined requests x 127 headers, no reply
# Prints, per capture, the replay's own `peak memory` line (VmHWM at the end of the
# run), the memory-budget line and the flood events. A measurement, not a timed test.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$ROOT/bench-data
BIN=$ROOT/target/release/tamperwatch
mkdir -p "$DATA"
[[ -f $DATA/syn-1m.pcap ]] || bash "$ROOT/scripts/pcapgen/flood-bench.sh" syn "$DATA/syn-1m.pcap" 1000000
[[ -f $DATA/pipeline-1k.pcap ]] || bash "$ROOT/scripts/pcapgen/flood-bench.sh" pipeline "$DATA/pipeline-1k.pcap"
[[ -x $BIN ]] || (cd "$ROOT" && cargo build --release --quiet)
for cap in syn-1m pipeline-1k; do
    echo "== $cap ($(stat -c %s "$DATA/$cap.pcap") bytes)"
    "$BIN" replay --config "$ROOT/pcaps/site.yaml" --events "$DATA/$cap.events.jsonl" "$DATA/$cap.pcap" |
        grep -E '^(packets|flows|memory budget|transactions|peak memory|detector state|flagged events|  flood)'
    grep -o '"rule":"flood[a-z.-]*"' "$DATA/$cap.events.jsonl" | sort | uniq -c || true
done
