#!/usr/bin/env bash
# Speed-up of `replay --workers N` over one worker, on capture files.
#
#   scripts/bench/workers.sh CAPTURE...
#
# For each capture, runs `tamperwatch replay --workers 1` and `--workers W` (default 2)
# in alternation, BENCH_RUNS times each (paired, so a change in machine load hits both
# alike), checks that their outputs are byte-identical, and prints the median wall
# times and their ratio. Needs a release build (cargo build --release) or BENCH_BIN.
#
# Environment:
#   BENCH_RUNS=5        timed runs of each worker count; the median is reported
#   BENCH_WORKERS=2     the worker count compared with one
#   BENCH_BIN=          the tamperwatch binary (default target/release/tamperwatch)
#   BENCH_CONFIG=       a --config for the replays (e.g. one with `crs: { enabled: false }`)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BENCH_BIN:-$ROOT/target/release/tamperwatch}
RUNS=${BENCH_RUNS:-5}
WORKERS=${BENCH_WORKERS:-2}
CONFIG_ARGS=()
[ -n "${BENCH_CONFIG:-}" ] && CONFIG_ARGS=(--config "$BENCH_CONFIG")
[ -x "$BIN" ] || { echo "no tamperwatch binary at $BIN (cargo build --release)" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 CAPTURE..." >&2; exit 2; }

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run W I CAPTURE: one timed replay; prints the wall time in seconds.
run() {
    local w=$1 i=$2 pcap=$3 start end
    start=$(date +%s.%N)
    "$BIN" replay "${CONFIG_ARGS[@]}" --workers "$w" --events "$OUT/events-$w" "$pcap" >"$OUT/summary-$w" 2>/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

echo "host: $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %10s %10s %8s\n' capture "1 worker" "$WORKERS workers" speed-up
for pcap in "$@"; do
    cat "$pcap" >/dev/null # page cache
    one=() many=()
    for ((i = 1; i <= RUNS; i++)); do
        one+=("$(run 1 "$i" "$pcap")")
        many+=("$(run "$WORKERS" "$i" "$pcap")")
        cmp -s "$OUT/events-1" "$OUT/events-$WORKERS" || { echo "events differ on $pcap" >&2; exit 1; }
        cmp -s "$OUT/summary-1" "$OUT/summary-$WORKERS" || { echo "summary differs on $pcap" >&2; exit 1; }
    done
    m1=$(printf '%s\n' "${one[@]}" | median)
    mw=$(printf '%s\n' "${many[@]}" | median)
    printf '%-40s %9.3fs %9.3fs %7.2fx\n' "$(basename "$pcap")" "$m1" "$mw" "$(echo "$m1 / $mw" | bc -l)"
    echo "  walls 1: ${one[*]}" >&2
    echo "  walls $WORKERS: ${many[*]}" >&2
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
