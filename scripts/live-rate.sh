#!/usr/bin/env bash
# Live capture rate: the highest packet rate `tamperwatch run` sustains with < 0.1% loss.
#
#   1. creates two network namespaces, twl-a and twl-b, joined by a veth pair
#      (twl-a0 <-> twl-b0; addresses exist only inside the namespaces)
#   2. starts `tamperwatch run` in twl-b, capturing on twl-b0 (metrics on twl-b's own
#      loopback)
#   3. replays BENCH_PCAP into twl-a0 with tcpreplay, first --topspeed, then at lower
#      --mbps rates, restarting the daemon for each run
#   4. after each run, waits for the daemon to finish the backlog (timed: lag_s), reads from its
#      metrics: packets received by the capture, kernel / interface / worker-queue drops,
#      and packets the pipeline processed
#   5. prints a table and the highest rate with < 0.1% loss; writes it to
#      bench-data/live-rate.txt
#
# Loss is counted two ways and the larger decides: the daemon's own drop counters
# (kernel + interface + queue), and packets tcpreplay sent that the pipeline never
# processed (this also catches drops before the capture socket, e.g. the veth backlog).
#
# Run as root from anywhere: scripts/live-rate.sh. Not a test: it takes minutes.
#
# Environment:
#   BENCH_PCAP=bench-data/bench.pcap   the capture to replay (made by scripts/bench.sh)
#   LIVE_WORKERS=0                     capture.workers (0: one per core)
#   LIVE_IMMEDIATE=false               capture.immediate
#   LIVE_BUFFER_MB=16                  capture.buffer_bytes, in MiB (the default)
#   LIVE_RATES="topspeed 3000 2000 1500 1000 700 500 300 200 100"
#                                      tcpreplay rates to try, in order (Mbit/s); the
#                                      script stops at the first with < 0.1% loss
#   LIVE_LOOPS=1                       tcpreplay --loop (more packets per run)
#   LIVE_TCPREPLAY_OPTS=               more tcpreplay options, e.g. --preload-pcap
#   LIVE_PARALLEL=1                    tcpreplay processes at once (2: more offered load
#                                      than one can make; the same flows arrive twice,
#                                      interleaved, which loads capture and fan-out fully
#                                      but makes the TCP streams overlap)
#   LIVE_BIN=                          use this binary instead of target/release
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_PCAP=${BENCH_PCAP:-$ROOT/bench-data/bench.pcap}
LIVE_WORKERS=${LIVE_WORKERS:-0}
LIVE_IMMEDIATE=${LIVE_IMMEDIATE:-false}
LIVE_BUFFER_MB=${LIVE_BUFFER_MB:-16}
LIVE_RATES=${LIVE_RATES:-topspeed 3000 2000 1500 1000 700 500 300 200 100}
LIVE_LOOPS=${LIVE_LOOPS:-1}
LIVE_TCPREPLAY_OPTS=${LIVE_TCPREPLAY_OPTS:-}
LIVE_PARALLEL=${LIVE_PARALLEL:-1}
LIVE_BIN=${LIVE_BIN:-}
RESULTS=$ROOT/bench-data/live-rate.txt

NS_A=twl-a NS_B=twl-b
IF_A=twl-a0 IF_B=twl-b0
METRICS=127.0.0.1:9717

log() { printf '[live-rate] %s\n' "$*" >&2; }
die() { printf '[live-rate] ERROR: %s\n' "$*" >&2; exit 1; }

DAEMON_PID=""
REPLAY_PIDS=()
RUN=""
CREATED_NS=0

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID SIGNAL TIMEOUT_S: signal, wait up to TIMEOUT_S, then SIGKILL.
stop_pid() {
    local pid=$1 sig=$2 t=$3 i
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 10; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        log "pid $pid ignored SIG$sig for ${t}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

del_netns() {
    local ns
    for ns in "$NS_A" "$NS_B"; do
        if ip netns list 2>/dev/null | grep -qw "^$ns"; then
            ip netns del "$ns" 2>/dev/null || log "could not delete netns $ns"
        fi
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${REPLAY_PIDS[@]}"; do stop_pid "$pid" TERM 5; done
    if [ -n "$DAEMON_PID" ]; then stop_pid "$DAEMON_PID" TERM 10; fi
    if [ "$CREATED_NS" = 1 ]; then del_netns; fi
    if [ -n "$RUN" ] && [ -d "$RUN" ]; then rm -rf "$RUN"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- checks ---------------------------------------------------------------------------

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, live capture)"
for t in ip tcpreplay curl ethtool awk; do
    command -v "$t" >/dev/null || die "$t not installed (apt-get install -y iproute2 tcpreplay curl ethtool gawk)"
done
[ -s "$BENCH_PCAP" ] || die "no capture at $BENCH_PCAP: run scripts/bench.sh, or set BENCH_PCAP"
if command -v suricata >/dev/null; then
    SURICATA_NOTE="suricata $(suricata -V 2>/dev/null | head -1) is installed, but not compared here"
else
    SURICATA_NOTE="suricata is not installed: no comparison with Suricata on this host"
fi
log "$SURICATA_NOTE"

if [ -n "$LIVE_BIN" ]; then
    BIN=$LIVE_BIN
else
    log "building target/release/tamperwatch"
    (cd "$ROOT" && cargo build --release --quiet)
    BIN=$ROOT/target/release/tamperwatch
fi
[ -x "$BIN" ] || die "no binary at $BIN"

# --- namespaces -----------------------------------------------------------------------

setup_netns() {
    del_netns # leftovers of an interrupted run (these names are ours)
    CREATED_NS=1
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip link add "$IF_A" mtu 1500 type veth peer name "$IF_B" mtu 1500
    ip link set "$IF_A" netns "$NS_A"
    ip link set "$IF_B" netns "$NS_B"
    ip -n "$NS_A" addr add 10.204.0.1/30 dev "$IF_A"
    ip -n "$NS_B" addr add 10.204.0.2/30 dev "$IF_B"
    local ns dev f
    for ns in "$NS_A:$IF_A" "$NS_B:$IF_B"; do
        dev=${ns#*:} ns=${ns%%:*}
        # Quiet links: no IPv6 autoconfiguration chatter in the counts.
        ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" 2>/dev/null || true
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "$dev" up
        # Replayed frames are already <= 1514 bytes; offloads would only coalesce them.
        for f in tso gso gro; do
            ip netns exec "$ns" ethtool -K "$dev" "$f" off >/dev/null 2>&1 || true
        done
    done
}

# --- daemon ---------------------------------------------------------------------------

write_config() {
    cat >"$RUN/tamperwatch.yaml" <<EOF
# Everything on the link is inspected (empty filter), so every frame sent is accounted for.
site:
  addresses: [10.203.0.1/32]
  ports: [80]
rules: $ROOT/rules
events:
  path: $RUN/events.jsonl
store:
  path: $RUN/flagged.db
capture:
  interface: $IF_B
  filter: ""
  workers: $LIVE_WORKERS
  immediate: $LIVE_IMMEDIATE
  buffer_bytes: $((LIVE_BUFFER_MB * 1024 * 1024))
metrics:
  listen: $METRICS
EOF
}

metrics() { ip netns exec "$NS_B" curl -sf --max-time 2 "http://$METRICS/metrics"; }

# value NAME_WITH_LABELS < metrics
value() { awk -v k="$1" '$1 == k { printf "%d\n", $2; found = 1 } END { if (!found) print 0 }'; }

start_daemon() {
    rm -f "$RUN/events.jsonl"
    ip netns exec "$NS_B" "$BIN" run --config "$RUN/tamperwatch.yaml" 2>>"$RUN/daemon.log" &
    DAEMON_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        if ip netns exec "$NS_B" curl -sf -o /dev/null --max-time 1 "http://$METRICS/readyz"; then
            return 0
        fi
        alive "$DAEMON_PID" || break
        sleep 0.1
    done
    cat "$RUN/daemon.log" >&2
    die "daemon did not become ready"
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

stop_daemon() {
    stop_pid "$DAEMON_PID" TERM 30
    DAEMON_PID=""
}

# settle SENT: waits until the pipeline has processed SENT packets or its count stops
# moving (workers report every second); prints the seconds that took (the backlog the
# capture buffer held when the replay ended).
settle() {
    local sent=$1 last=-1 now i start
    start=$(date +%s.%N)
    for ((i = 0; i < 300; i++)); do
        now=$(metrics | value tamperwatch_packets_total)
        [ "$now" -ge "$sent" ] && break
        if [ "$now" = "$last" ] && [ $((i % 6)) = 5 ]; then break; fi
        [ $((i % 6)) = 5 ] && last=$now
        sleep 0.25
    done
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'
}

# --- runs -----------------------------------------------------------------------------

ROWS=()
BEST=""

# run_rate RATE: replays once at RATE (topspeed or Mbit/s) and records a row.
run_rate() {
    local rate=$1 speed out sent secs pps mbps lag cpu0 cpu1 cpu m recv kdrop idrop qdrop processed counted lost worst pct ok
    if [ "$rate" = topspeed ]; then speed=(--topspeed); else speed=(--mbps="$rate"); fi
    start_daemon
    cpu0=$(cpu_ticks "$DAEMON_PID")
    local j
    for ((j = 0; j < LIVE_PARALLEL; j++)); do
        # shellcheck disable=SC2086 # LIVE_TCPREPLAY_OPTS is a list of options
        ip netns exec "$NS_A" tcpreplay -i "$IF_A" "${speed[@]}" --loop="$LIVE_LOOPS" \
            $LIVE_TCPREPLAY_OPTS "$BENCH_PCAP" >"$RUN/tcpreplay.$j" 2>&1 &
        REPLAY_PIDS+=($!)
    done
    for j in "${!REPLAY_PIDS[@]}"; do
        wait "${REPLAY_PIDS[$j]}" || { cat "$RUN/tcpreplay.$j" >&2; die "tcpreplay failed"; }
    done
    REPLAY_PIDS=()
    out=$(cat "$RUN"/tcpreplay.*)
    rm -f "$RUN"/tcpreplay.*
    sent=$(printf '%s\n' "$out" | awk '/Successful packets:/ { n += $3 } END { print n + 0 }')
    lag=$(settle "$sent")
    cpu1=$(cpu_ticks "$DAEMON_PID")
    sleep 1.5 # one more report period, for the drop counters
    m=$(metrics)
    stop_daemon
    # With parallel replays, the rate is all packets over the sending time of the
    # slowest (tcpreplay's own figure, which leaves out loading the file).
    secs=$(printf '%s\n' "$out" | awk '/Actual:/ { for (i = 1; i <= NF; i++) if ($i == "seconds" && $(i - 1) > m) m = $(i - 1) } END { printf "%.2f", m }')
    pps=$(awk -v n="$sent" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    mbps=$(printf '%s\n' "$out" | awk '/Actual:/ { gsub(/[(]/, "", $4); b += $4 } END { print b }' |
        awk -v s="$secs" '{ printf "%.0f", $1 * 8 / s / 1e6 }')
    recv=$(value tamperwatch_capture_packets_received_total <<<"$m")
    kdrop=$(value 'tamperwatch_capture_packets_dropped_total{where="kernel"}' <<<"$m")
    idrop=$(value 'tamperwatch_capture_packets_dropped_total{where="interface"}' <<<"$m")
    qdrop=$(value 'tamperwatch_capture_packets_dropped_total{where="queue"}' <<<"$m")
    processed=$(value tamperwatch_packets_total <<<"$m")
    # CPU the daemon used while replaying and draining, as a share of one core.
    cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v s="$secs" -v l="$lag" \
        'BEGIN { printf "%.0f%%", 100 * t / hz / (s + l) }')
    counted=$((kdrop + idrop + qdrop))
    lost=$((sent > processed ? sent - processed : 0))
    worst=$((counted > lost ? counted : lost))
    pct=$(awk -v w="$worst" -v s="$sent" 'BEGIN { printf "%.4f", s ? 100 * w / s : 100 }')
    ok=$(awk -v p="$pct" 'BEGIN { print (p < 0.1) ? "yes" : "no" }')
    ROWS+=("$(printf '%-9s %10s %9s %10s %9s %6s %5s %10s %7s %7s %7s %10s %8s %4s' \
        "$rate" "$sent" "$secs" "$pps" "$mbps" "$lag" "$cpu" "$recv" "$kdrop" "$idrop" "$qdrop" "$processed" "$pct%" "$ok")")
    log "rate $rate: ${pps} pps (${mbps} Mbps) sent $sent processed $processed drops k=$kdrop i=$idrop q=$qdrop loss $pct%"
    if [ "$ok" = yes ] && [ -z "$BEST" ]; then
        BEST="$pps packets/s ($mbps Mbit/s, tcpreplay ${rate}), loss $pct%"
    fi
}

RUN=$(mktemp -d /tmp/twl-rate.XXXXXX)
setup_netns
write_config
log "replaying $BENCH_PCAP ($(du -h "$BENCH_PCAP" | cut -f1)) into $IF_A; daemon on $IF_B (workers=$LIVE_WORKERS immediate=$LIVE_IMMEDIATE buffer=${LIVE_BUFFER_MB}MiB)"
for rate in $LIVE_RATES; do
    run_rate "$rate"
    [ -n "$BEST" ] && break
done

mkdir -p "$(dirname "$RESULTS")"
{
    echo "tamperwatch live capture rate — $(date -u '+%Y-%m-%d %H:%M:%SZ')"
    echo "host: $(nproc) CPUs, $(uname -r), load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "capture: $BENCH_PCAP, $LIVE_PARALLEL x tcpreplay --loop=$LIVE_LOOPS $LIVE_TCPREPLAY_OPTS over veth $IF_A -> $IF_B (netns $NS_A -> $NS_B)"
    echo "daemon: $BIN, workers=$LIVE_WORKERS (0 = one per core) immediate=$LIVE_IMMEDIATE buffer=${LIVE_BUFFER_MB}MiB, empty BPF filter, $(ls "$ROOT"/rules/*.yaml | wc -l) rule files"
    echo "$SURICATA_NOTE"
    echo "loss = max(kernel + interface + queue drops, sent - processed) / sent;"
    echo "lag_s = seconds after the replay ended until every packet was processed (backlog held in"
    echo "the capture buffer: near 0 means the daemon kept pace; large means the buffer absorbed a burst);"
    echo "cpu = the daemon's CPU time over that period, 100% = one core (of $(nproc), shared with tcpreplay)"
    echo
    printf '%-9s %10s %9s %10s %9s %6s %5s %10s %7s %7s %7s %10s %8s %4s\n' \
        rate sent seconds pps Mbps lag_s cpu received kdrop ifdrop qdrop processed loss ok
    printf '%s\n' "${ROWS[@]}"
    echo
    if [ -n "$BEST" ]; then
        echo "highest rate with < 0.1% loss: $BEST"
        case $BEST in
        *topspeed*) echo "(tcpreplay's top speed: the daemon's own limit is above what this host can send;" \
            "try LIVE_PARALLEL=2, or compare the cpu column with 100%)" ;;
        esac
    else
        echo "no rate tried had < 0.1% loss; try lower LIVE_RATES"
    fi
} | tee "$RESULTS.part"
mv "$RESULTS.part" "$RESULTS"
log "written to $RESULTS"
