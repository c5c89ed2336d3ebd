#!/usr/bin/env bash
# CRS cost per transaction: paired runs of `tamperwatch replay` over the benchmark
# capture with the Core Rule Set off and on (PL1), and start-up time of `rules check`.
#
# Each pair runs the two configurations back to back on the same CPU, so load from other
# work on the machine hits both alike; the figure reported is the median over pairs of
# (user+sys CPU on - CPU off) / transactions, with the CRS load (measured separately with
# `rules check`) subtracted. CPU time, not wall time: on a shared machine wall time counts
# the time other programs ran. CPU time is read from wait4(2) in microseconds
# (scripts/bench/cpu_time.py), not in GNU time's 10 ms steps. Replay runs with one
# worker. `cargo run --release --example crs_pcap bench-data/bench.pcap` times the
# engine alone over the capture's transactions (no pipeline, no CRS load).
#
#   scripts/bench-crs.sh            (needs bench-data/bench.pcap: scripts/bench.sh makes it,
#                                    BENCH_MB=100 is enough)
# With editcap, mergecap and capinfos (wireshark-common) it also reports the
# steady-state cost, after a warm-up on other traffic: see WARM below.
#   BENCH_WARM=                            the warm-up's source capture (default: the
#                                          other benchmark capture; 50,000 packets of it)
# Environment:
#   BENCH_PCAP=bench-data/bench.pcap       capture to replay (bench-small.pcap: short flows)
#   BENCH_BIN=target/release/tamperwatch   binary to time (built if missing)
#   BENCH_PAIRS=5                          paired runs
#   BENCH_CPU=1                            CPU to pin to (taskset); "none" to not pin
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$ROOT/bench-data
PCAP=${BENCH_PCAP:-$DATA/bench.pcap}
BIN=${BENCH_BIN:-$ROOT/target/release/tamperwatch}
PAIRS=${BENCH_PAIRS:-5}
CPU=${BENCH_CPU:-1}

log() { printf '[bench-crs] %s\n' "$*" >&2; }
die() { printf '[bench-crs] ERROR: %s\n' "$*" >&2; exit 1; }

[ -f "$PCAP" ] || die "$PCAP missing: run BENCH_MB=100 scripts/bench.sh first"
if [ ! -x "$BIN" ]; then
    log "building $BIN"
    (cd "$ROOT" && cargo build --release --bin tamperwatch) || die "cargo build failed"
fi
PIN=()
if [ "$CPU" != none ] && command -v taskset >/dev/null; then PIN=(taskset -c "$CPU"); fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
printf 'crs:\n  enabled: false\n' >"$WORK/off.yaml"
printf 'crs:\n  enabled: true\n  paranoia_level: 1\n' >"$WORK/on.yaml"

# cpu_of CMD...: prints user+sys seconds of one run (microseconds, from wait4), the
# command's stdout in $WORK/out.
cpu_of() {
    python3 "$ROOT/scripts/bench/cpu_time.py" "$WORK/out" "$WORK/err" "${PIN[@]}" "$@" ||
        die "$* failed: $(tail -3 "$WORK/err")"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

command -v python3 >/dev/null || die "python3 missing (apt-get install python3)"

log "start-up: rules check with CRS at PL1, $PAIRS runs"
STARTS=()
for ((i = 0; i < PAIRS; i++)); do
    STARTS+=("$(cpu_of "$BIN" rules check --config "$WORK/on.yaml" "$ROOT/rules")")
done
START=$(printf '%s\n' "${STARTS[@]}" | median)
STARTS_OFF=()
for ((i = 0; i < PAIRS; i++)); do
    STARTS_OFF+=("$(cpu_of "$BIN" rules check --config "$WORK/off.yaml" "$ROOT/rules")")
done
START_OFF=$(printf '%s\n' "${STARTS_OFF[@]}" | median)

# The steady-state figure: the capture played after another one (the warm-up: by
# default the first 50,000 packets of the other benchmark capture, shifted so that the
# measured capture starts an hour after it ends). The measured capture then costs what
# it costs a monitor that has been running a while: (difference over warm-up +
# capture - difference over the warm-up alone) / transactions leaves out the one-time
# costs (CRS load, the first use of each regex's lazy DFA, cold caches and tables).
# The warm-up is other traffic, so the capture's own values (fresh session cookies,
# queries) are as new to the engine's memo as they were.
WARM_SRC=${BENCH_WARM:-}
if [ -z "$WARM_SRC" ]; then
    if [ "$(basename "$PCAP")" = bench-small.pcap ]; then WARM_SRC=$DATA/bench.pcap; else WARM_SRC=$DATA/bench-small.pcap; fi
fi
WARM="" DOUBLE=""
if [ -f "$WARM_SRC" ] && command -v editcap >/dev/null && command -v mergecap >/dev/null &&
    command -v capinfos >/dev/null; then
    editcap -r "$WARM_SRC" "$WORK/warm.pcap" 1-50000 >/dev/null 2>&1 &&
        WARM=$WORK/warm.pcap
    warm_end=$(capinfos -e -S -T -r "$WORK/warm.pcap" 2>/dev/null | awk -F'\t' 'NR == 1 { print int($2) }')
    start=$(capinfos -a -S -T -r "$PCAP" 2>/dev/null | awk -F'\t' 'NR == 1 { print int($2) }')
    if [ -n "$WARM" ] && [ -n "$warm_end" ] && [ -n "$start" ]; then
        editcap -t $((warm_end - start + 3600)) "$PCAP" "$WORK/shifted.pcap" >/dev/null 2>&1 &&
            mergecap -a -F pcap -w "$WORK/double.pcap" "$WARM" "$WORK/shifted.pcap" >/dev/null 2>&1 &&
            DOUBLE=$WORK/double.pcap
    fi
fi
[ -n "$DOUBLE" ] || log "no steady-state figure: needs editcap, mergecap, capinfos (apt-get install wireshark-common) and $WARM_SRC"

TXNS=""
DIFFS=() OFFS=() ONS=() STEADY=()
for ((i = 0; i < PAIRS; i++)); do
    off=$(cpu_of "$BIN" replay --workers 1 --config "$WORK/off.yaml" --rules "$ROOT/rules" "$PCAP")
    on=$(cpu_of "$BIN" replay --workers 1 --config "$WORK/on.yaml" --rules "$ROOT/rules" "$PCAP")
    TXNS=$(awk '$1 == "transactions" { print $2 }' "$WORK/out")
    OFFS+=("$off") ONS+=("$on")
    DIFFS+=("$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.6f\n", a - b }')")
    log "pair $((i + 1)): off ${off}s, on ${on}s CPU"
    if [ -n "$DOUBLE" ]; then
        offw=$(cpu_of "$BIN" replay --workers 1 --config "$WORK/off.yaml" --rules "$ROOT/rules" "$WARM")
        onw=$(cpu_of "$BIN" replay --workers 1 --config "$WORK/on.yaml" --rules "$ROOT/rules" "$WARM")
        off2=$(cpu_of "$BIN" replay --workers 1 --config "$WORK/off.yaml" --rules "$ROOT/rules" "$DOUBLE")
        on2=$(cpu_of "$BIN" replay --workers 1 --config "$WORK/on.yaml" --rules "$ROOT/rules" "$DOUBLE")
        STEADY+=("$(awk -v a="$on2" -v b="$off2" -v c="$onw" -v d="$offw" 'BEGIN { printf "%.6f\n", (a - b) - (c - d) }')")
        log "  warm-up alone: off ${offw}s, on ${onw}s; warm-up + capture: off ${off2}s, on ${on2}s CPU"
    fi
done
[ -n "$TXNS" ] && [ "$TXNS" -gt 0 ] || die "no transactions in the replay summary"
OFF=$(printf '%s\n' "${OFFS[@]}" | median)
ON=$(printf '%s\n' "${ONS[@]}" | median)
DIFF=$(printf '%s\n' "${DIFFS[@]}" | median)
LOAD=$(awk -v a="$START" -v b="$START_OFF" 'BEGIN { d = a - b; if (d < 0) d = 0; printf "%.6f", d }')
PER=$(awk -v d="$DIFF" -v l="$LOAD" -v n="$TXNS" 'BEGIN { printf "%.1f", (d - l) * 1e6 / n }')

cat <<EOF
capture: $PCAP ($TXNS HTTP transactions)
pairs: $PAIRS, pinned: ${PIN[*]:-no}, load average: $(cut -d' ' -f1-3 /proc/loadavg)
rules check CPU (median): CRS off ${START_OFF}s, CRS on (PL1) ${START}s -> CRS load ${LOAD}s
replay CPU (median): CRS off ${OFF}s, CRS on ${ON}s; median paired difference ${DIFF}s
CRS cost per transaction (paired difference minus CRS load): ${PER} us
EOF
if [ ${#STEADY[@]} -gt 0 ]; then
    SECOND=$(printf '%s\n' "${STEADY[@]}" | median)
    STEADY_PER=$(awk -v d="$SECOND" -v n="$TXNS" 'BEGIN { printf "%.1f", d * 1e6 / n }')
    echo "CRS cost per transaction, steady state (after a warm-up on $(basename "$WARM_SRC")): ${STEADY_PER} us"
fi
