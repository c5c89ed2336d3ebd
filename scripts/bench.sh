#!/usr/bin/env bash
# Throughput benchmark: `tamperwatch replay` against a bare libpcap read loop.
#
#   1. installs missing tools (apt-get)
#   2. makes, or reuses, bench-data/bench.pcap: >= BENCH_MB MiB of HTTP/1.1 over TCP in
#      MTU-1500 Ethernet frames, captured between two network namespaces (nginx <- wrk+curl)
#   3. builds and times scripts/bench/bare_pcap_loop.c (the ceiling)
#   4. builds tamperwatch (cargo build --release) and times `tamperwatch replay`
#   5. prints a results table and writes it to bench-data/results-$BENCH_PROFILE.txt
#
# Run as root from anywhere: scripts/bench.sh. See benches/README.md.
#
# Environment:
#   BENCH_MB=600             capture size in MiB; an existing capture at least this big is reused
#   BENCH_REGEN=0            1: make a new capture even if one is there
#   BENCH_CAPTURE_MAX_S=120  upper bound on capture time
#   BENCH_RATE=500mbit       server egress shaping (tc tbf) so tcpdump keeps up; "none" to disable
#   BENCH_RUNS=3             timed runs of each program; the median is reported
#   BENCH_CPU=1              CPU to pin the timed programs to (taskset); "none" to not pin
#   BENCH_RULES_DIR=         if set, also time `replay --rules DIR` and `replay --rules <empty dir>`
#   BENCH_SKIP_REPLAY=0      1: stop after the bare loop (no cargo build)
#   BENCH_BIN=               time this tamperwatch binary instead of building target/release
#   BENCH_PGO=0              1: time the profile-guided build of scripts/build-pgo.sh (trained on
#                            pcaps/, never on the benchmark captures) instead of target/release;
#                            PGO_TARGET_CPU=native (passed on) builds it for this machine's CPU
#   BENCH_PROFILE=mix        mix: keep-alive browsing with large objects (bench-data/bench.pcap);
#                            small: one small request per connection (bench-data/bench-small.pcap)
#   BENCH_CLIENTS=1          client addresses in the capture (>1: round-robin SNAT, file
#                            bench[-small]-clientsN.pcap; shows what --workers N gains)
#   BENCH_CONFIGS=           space-separated LABEL=FILE list: time `replay --config FILE` once per
#                            entry (e.g. "crs-off=off.yaml crs-on=on.yaml"); unset: plain `replay`
#   BENCH_PAIRED=1           1: each run k times the bare loop, then every replay variant, back to
#                            back, and "% of bare" is the median of the per-run ratios (paired runs
#                            cancel slow drifts in machine load); 0: all bare runs first
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/bench
DATA=$ROOT/bench-data
BENCH_PROFILE=${BENCH_PROFILE:-mix}
case $BENCH_PROFILE in
    mix) PCAP=$DATA/bench.pcap WRK_SCRIPT=mix.lua ;;
    small) PCAP=$DATA/bench-small.pcap WRK_SCRIPT=small.lua ;;
    *) printf '[bench] ERROR: BENCH_PROFILE must be mix or small\n' >&2; exit 2 ;;
esac
# Client addresses: 1 (the default) captures one client; more gives each new
# connection the next of that many source addresses (nftables SNAT in the client's
# namespace), as a public site's many visitors would. Workers shard flows by address
# pair, so only a many-client capture shows what `replay --workers N` gains.
BENCH_CLIENTS=${BENCH_CLIENTS:-1}
case $BENCH_CLIENTS in
    '' | *[!0-9]* | 0) printf '[bench] ERROR: BENCH_CLIENTS must be 1 to 200\n' >&2; exit 2 ;;
esac
[ "$BENCH_CLIENTS" -le 200 ] || { printf '[bench] ERROR: BENCH_CLIENTS must be 1 to 200\n' >&2; exit 2; }
if [ "$BENCH_CLIENTS" -gt 1 ]; then PCAP=${PCAP%.pcap}-clients$BENCH_CLIENTS.pcap; fi
NOTE_FILE=$PCAP.note.txt
RESULTS=$DATA/results-$BENCH_PROFILE.txt

BENCH_MB=${BENCH_MB:-600}
BENCH_REGEN=${BENCH_REGEN:-0}
BENCH_CAPTURE_MAX_S=${BENCH_CAPTURE_MAX_S:-120}
BENCH_RATE=${BENCH_RATE:-500mbit}
BENCH_RUNS=${BENCH_RUNS:-3}
if [ "$(nproc)" -gt 1 ]; then BENCH_CPU=${BENCH_CPU:-1}; else BENCH_CPU=${BENCH_CPU:-0}; fi
BENCH_RULES_DIR=${BENCH_RULES_DIR:-}
BENCH_SKIP_REPLAY=${BENCH_SKIP_REPLAY:-0}
BENCH_BIN=${BENCH_BIN:-}
BENCH_PGO=${BENCH_PGO:-0}
BENCH_CONFIGS=${BENCH_CONFIGS:-}
BENCH_PAIRED=${BENCH_PAIRED:-1}

NS_SRV=twb-srv NS_CLI=twb-cli
IF_SRV=twb-s0 IF_CLI=twb-c0
IP_SRV=10.203.0.1 IP_CLI=10.203.0.2

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# --- process and namespace bookkeeping -------------------------------------------------

PIDS=()      # every background process we start; stopped by PID in cleanup
RUN=""       # scratch directory of the capture step
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
    for ns in "$NS_SRV" "$NS_CLI"; do
        if ip netns list 2>/dev/null | grep -qw "^$ns"; then
            ip netns del "$ns" 2>/dev/null || log "could not delete netns $ns"
        fi
    done
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid" TERM 5
    done
    if [ "$CREATED_NS" = 1 ]; then del_netns; fi
    if [ -n "$RUN" ] && [ -d "$RUN" ]; then rm -rf "$RUN"; fi
    if [ -n "${TMP_PCAP:-}" ]; then rm -f "$TMP_PCAP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'log "command failed (line $LINENO): $BASH_COMMAND"' ERR

# --- 1. tools --------------------------------------------------------------------------

install_missing() {
    local need=()
    [ -e /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
    command -v nginx >/dev/null || need+=(nginx-light)
    command -v wrk >/dev/null || need+=(wrk)
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v gcc >/dev/null || need+=(gcc)
    { command -v ip >/dev/null && command -v tc >/dev/null; } || need+=(iproute2)
    [ -x /usr/bin/time ] || need+=(time)
    command -v ethtool >/dev/null || need+=(ethtool)
    command -v curl >/dev/null || need+=(curl)
    command -v taskset >/dev/null || need+=(util-linux)
    if [ "$BENCH_CLIENTS" -gt 1 ]; then command -v nft >/dev/null || need+=(nftables); fi
    [ ${#need[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing ${need[*]}; run as root or install them"
    log "installing: ${need[*]}"
    # Debian starts services on install; keep nginx from grabbing port 80 on the host.
    local policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy=1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" ||
        { [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

# --- 2. capture ------------------------------------------------------------------------

# repeat LINE BYTES: LINE repeated, cut at BYTES (yes dies of SIGPIPE: not an error)
repeat() { yes "$1" | head -c "$2" || true; }

# A static site: HTML pages, css/js, and binary objects of 1 KB, 10 KB, 100 KB and 1 MB.
# Counts must match scripts/bench/mix.lua.
gen_site() {
    local s=$1 i n
    mkdir -p "$s/assets" "$s/downloads" "$s/css" "$s/js"
    para='<p>The city council meets on the first Tuesday of each month. Agendas, minutes and permit forms are published here; residents may comment online or in person.</p>'
    page() { # page FILE TITLE BYTES
        {
            printf '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>%s</title>\n' "$2"
            printf '<link rel="stylesheet" href="/css/site.css"><script src="/js/app.js" defer></script></head><body>\n'
            printf '<nav><a href="/">Home</a> <a href="/page-1.html">Services</a> <a href="/page-2.html">Council</a></nav>\n'
            repeat "$para" "$3"
            printf '\n<img src="/assets/thumb-1.jpg" alt=""><a href="/downloads/report-1.pdf">Annual report</a>\n</body></html>\n'
        } >"$1"
    }
    page "$s/index.html" "City of Example" 12000
    page "$s/thanks.html" "Thank you" 800
    for i in $(seq 1 20); do
        n=$((2000 + (i * 7919) % 60000)) # 2 KB .. 62 KB
        page "$s/page-$i.html" "Page $i" "$n"
    done
    repeat 'body{font-family:sans-serif;margin:0 auto;max-width:60rem}.nav a{padding:.5rem;color:#036}' 30000 >"$s/css/site.css"
    repeat 'function track(e){var x=document.querySelectorAll("a");for(var i=0;i<x.length;i++){x[i].dataset.n=i}}' 90000 >"$s/js/app.js"
    for i in $(seq 1 50); do head -c 1024 /dev/urandom >"$s/assets/icon-$i.png"; done
    for i in $(seq 1 50); do head -c 10240 /dev/urandom >"$s/assets/thumb-$i.jpg"; done
    for i in $(seq 1 20); do head -c 102400 /dev/urandom >"$s/assets/photo-$i.jpg"; done
    for i in $(seq 1 5); do head -c 1048576 /dev/urandom >"$s/downloads/report-$i.pdf"; done
    chmod -R a+rX "$s"
}

setup_netns() {
    del_netns # leftovers of an interrupted run (these names are ours)
    CREATED_NS=1
    ip netns add "$NS_SRV"
    ip netns add "$NS_CLI"
    ip link add "$IF_SRV" mtu 1500 type veth peer name "$IF_CLI" mtu 1500
    ip link set "$IF_SRV" netns "$NS_SRV"
    ip link set "$IF_CLI" netns "$NS_CLI"
    ip -n "$NS_SRV" addr add "$IP_SRV/24" dev "$IF_SRV"
    ip -n "$NS_CLI" addr add "$IP_CLI/24" dev "$IF_CLI"
    local ns dev f
    for ns in "$NS_SRV:$IF_SRV" "$NS_CLI:$IF_CLI"; do
        dev=${ns#*:} ns=${ns%%:*}
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "$dev" up
        # No segmentation or receive offloads: the stack then hands tcpdump the real
        # <=1514-byte frames. tx checksum off so captured checksums are valid.
        for f in tso gso gro tx; do
            ip netns exec "$ns" ethtool -K "$dev" "$f" off >/dev/null 2>&1 ||
                log "ethtool -K $dev $f off failed in $ns (frame sizes are verified later)"
        done
    done
    if [ "$BENCH_CLIENTS" -gt 1 ]; then
        # Addresses 10.203.0.10 and up, owned by the client side (so it answers ARP for
        # them), handed out round robin to new connections.
        local i map=""
        for ((i = 0; i < BENCH_CLIENTS; i++)); do
            ip -n "$NS_CLI" addr add "10.203.0.$((10 + i))/24" dev "$IF_CLI"
            map+="${map:+, }$i : 10.203.0.$((10 + i))"
        done
        ip netns exec "$NS_CLI" nft -f - <<NFT
table ip twb {
    chain post {
        type nat hook postrouting priority srcnat;
        ip daddr $IP_SRV snat to numgen inc mod $BENCH_CLIENTS map { $map }
    }
}
NFT
    fi
    if [ "$BENCH_RATE" != none ]; then
        ip netns exec "$NS_SRV" tc qdisc replace dev "$IF_SRV" root tbf rate "$BENCH_RATE" \
            burst 256kb latency 50ms ||
            log "tc tbf shaping unavailable; capturing unshaped (watch for tcpdump drops)"
    fi
}

capture() {
    [ "$(id -u)" = 0 ] || die "the capture step needs root (network namespaces)"
    local target=$((BENCH_MB * 1024 * 1024))
    RUN=$(mktemp -d /tmp/twb-bench.XXXXXX)
    chmod 755 "$RUN"
    mkdir -p "$DATA"
    TMP_PCAP=$PCAP.part
    rm -f "$TMP_PCAP"

    log "generating static site in $RUN/site"
    gen_site "$RUN/site"
    mkdir -p "$RUN/body" "$RUN/proxy" "$RUN/fastcgi" "$RUN/uwsgi" "$RUN/scgi"
    sed -e "s#@RUN@#$RUN#g" -e "s#@SITE@#$RUN/site#g" "$HERE/nginx.conf.in" >"$RUN/nginx.conf"

    log "creating netns $NS_SRV ($IP_SRV) <-veth-> $NS_CLI ($IP_CLI)"
    setup_netns

    ip netns exec "$NS_SRV" nginx -t -q -c "$RUN/nginx.conf" || die "nginx config test failed"
    ip netns exec "$NS_SRV" nginx -c "$RUN/nginx.conf" 2>"$RUN/nginx.stderr" &
    local nginx_pid=$!
    PIDS+=("$nginx_pid")
    local i ok=0
    for ((i = 0; i < 50; i++)); do
        if ip netns exec "$NS_CLI" curl -sf -o /dev/null --max-time 1 "http://$IP_SRV/"; then ok=1; break; fi
        alive "$nginx_pid" || break
        sleep 0.1
    done
    [ "$ok" = 1 ] || die "nginx did not come up in $NS_SRV: $(cat "$RUN/nginx.stderr" "$RUN/nginx-error.log" 2>/dev/null)"

    # -B: 128 MiB kernel buffer (in KiB); -Z root: keep permission to write bench-data/.
    ip netns exec "$NS_SRV" tcpdump -i "$IF_SRV" -s 0 -B 131072 -n -Z root -w "$TMP_PCAP" \
        2>"$RUN/tcpdump.err" &
    local tcpdump_pid=$!
    PIDS+=("$tcpdump_pid")
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$RUN/tcpdump.err" 2>/dev/null && break
        alive "$tcpdump_pid" || die "tcpdump failed: $(cat "$RUN/tcpdump.err")"
        sleep 0.1
    done
    grep -q 'listening on' "$RUN/tcpdump.err" || die "tcpdump did not start: $(cat "$RUN/tcpdump.err")"

    log "capturing up to $BENCH_MB MiB (at most ${BENCH_CAPTURE_MAX_S}s, shaping: $BENCH_RATE)"
    local dur=$((BENCH_CAPTURE_MAX_S + 10))
    ip netns exec "$NS_CLI" wrk -t 2 -c 32 -d "${dur}s" --timeout 10s -s "$HERE/$WRK_SCRIPT" \
        "http://$IP_SRV/" >"$RUN/wrk.out" 2>&1 &
    local wrk_pid=$!
    PIDS+=("$wrk_pid")
    local curl_pid=""
    if [ "$BENCH_PROFILE" = mix ]; then
        ip netns exec "$NS_CLI" bash "$HERE/curl_mix.sh" "$RUN/site" "$RUN/stop" 1000000 \
            2>"$RUN/curl.err" &
        curl_pid=$!
        PIDS+=("$curl_pid")
    fi

    local start=$SECONDS size=0 last=0
    while :; do
        size=$(stat -c %s "$TMP_PCAP" 2>/dev/null || echo 0)
        [ "$size" -ge "$target" ] && break
        [ $((SECONDS - start)) -ge "$BENCH_CAPTURE_MAX_S" ] && { log "time limit reached"; break; }
        alive "$tcpdump_pid" || die "tcpdump exited early: $(cat "$RUN/tcpdump.err")"
        alive "$wrk_pid" || die "wrk exited early: $(cat "$RUN/wrk.out")"
        if [ $((SECONDS - last)) -ge 5 ]; then
            last=$SECONDS
            log "  $((size / 1048576)) MiB after $((SECONDS - start)) s"
        fi
        sleep 0.2
    done
    local took=$((SECONDS - start))

    touch "$RUN/stop"
    stop_pid "$wrk_pid" INT 5
    if [ -n "$curl_pid" ]; then
        for ((i = 0; i < 120; i++)); do # curl_mix sees the stop file after its current request
            alive "$curl_pid" || break
            sleep 0.1
        done
        stop_pid "$curl_pid" TERM 3
    fi
    sleep 0.5 # let the last FINs and RSTs reach the capture
    stop_pid "$tcpdump_pid" TERM 10
    stop_pid "$nginx_pid" QUIT 5
    PIDS=() # all reaped; forget them so cleanup never signals a reused PID

    log "wrk: $(grep -E 'requests in|Requests/sec|Non-2xx|Socket errors' "$RUN/wrk.out" | tr -s ' ' | paste -sd ';' -)"
    [ -n "$curl_pid" ] && log "curl: $(tail -1 "$RUN/curl.err")"
    log "tcpdump: $(grep -E 'captured|received|dropped' "$RUN/tcpdump.err" | paste -sd ';' -)"
    local dropped
    dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$RUN/tcpdump.err" | head -1)
    CAPTURE_NOTE="captured in ${took}s at shaping rate $BENCH_RATE; tcpdump kernel drops: ${dropped:-unknown}"
    if [ -n "$dropped" ] && [ "$dropped" -gt 0 ]; then
        log "WARNING: tcpdump dropped $dropped packets: the capture has TCP gaps (lower BENCH_RATE)"
    fi

    size=$(stat -c %s "$TMP_PCAP")
    mv -f "$TMP_PCAP" "$PCAP"
    TMP_PCAP=""
    echo "$CAPTURE_NOTE" >"$NOTE_FILE"
    [ "$size" -ge "$target" ] ||
        log "WARNING: capture is $((size / 1048576)) MiB, below the $BENCH_MB MiB target (time limit); it will be remade next run"

    stop_netns_now
}

stop_netns_now() {
    del_netns
    CREATED_NS=0
    rm -rf "$RUN"
    RUN=""
}

# --- 3./4. timed runs ------------------------------------------------------------------

PIN=()
[ "$BENCH_CPU" != none ] && PIN=(taskset -c "$BENCH_CPU")

# timed_run OUTPREFIX CMD...: runs CMD pinned, under GNU time; sets T_WALL (s, from
# EPOCHREALTIME), T_RSS (KiB), T_CPU (%), T_RC. stdout -> OUTPREFIX.out, stderr -> .err
timed_run() {
    local out=$1
    shift
    local t0 t1
    t0=$EPOCHREALTIME
    set +e
    "${PIN[@]}" /usr/bin/time -v -o "$out.time" "$@" >"$out.out" 2>"$out.err"
    T_RC=$?
    set -e
    t1=$EPOCHREALTIME
    T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    T_RSS=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$out.time")
    T_CPU=$(sed -n 's/.*Percent of CPU this job got: *//p' "$out.time")
    # CPU seconds (user + system): on a shared machine wall time includes waiting for
    # the CPU; CPU time does not.
    T_CPU_S=$(awk -F': *' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 } END { printf "%.3f", s }' "$out.time")
    # GNU time reports a non-zero exit of the child on its first line
    if [ "$T_RC" != 0 ] && grep -q 'Command exited with non-zero status' "$out.time"; then
        T_RC=$(sed -n 's/.*Command exited with non-zero status \([0-9]*\).*/\1/p' "$out.time")
    fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
fastest() { sort -g | head -n 1; }
maxof() { sort -g | tail -1; }

# bench_cmd NAME CMD...: BENCH_RUNS timed runs; sets R_WALL (median), R_RSS (max KiB),
# R_CPU (of the median run), R_ALL (all walls), R_RC (first non-zero exit, else 0).
bench_cmd() {
    local name=$1 k walls=() rsss=() cpus=()
    shift
    R_RC=0
    for ((k = 1; k <= BENCH_RUNS; k++)); do
        timed_run "$DATA/run-$name-$k" "$@"
        if [ "$T_RC" != 0 ]; then
            R_RC=$T_RC
            log "$name run $k: exit $T_RC; stderr tail:"
            tail -5 "$DATA/run-$name-$k.err" >&2 || true
            return 0
        fi
        walls+=("$T_WALL") rsss+=("$T_RSS") cpus+=("$T_CPU")
        log "$name run $k: ${T_WALL}s (CPU ${T_CPU_S}s), peak RSS ${T_RSS} KiB, CPU ${T_CPU}"
    done
    R_WALL=$(printf '%s\n' "${walls[@]}" | median)
    R_RSS=$(printf '%s\n' "${rsss[@]}" | maxof)
    R_ALL=${walls[*]}
    for ((k = 0; k < ${#walls[@]}; k++)); do
        if [ "${walls[$k]}" = "$R_WALL" ]; then R_CPU=${cpus[$k]}; break; fi
    done
    return 0
}

ROWS=() # preformatted table rows

# add_row LABEL WALL RSS_KiB CPU [RATIO_PERCENT]: the ratio defaults to bare wall / WALL
add_row() {
    ROWS+=("$(awk -v l="$1" -v w="$2" -v r="$3" -v c="$4" -v fb="$FILE_BYTES" -v wb="$WIRE_BYTES" \
        -v p="$PACKETS" -v bw="${BARE_WALL:-0}" -v rp="${5:-}" 'BEGIN {
            g = fb * 8 / w / 1e9; wg = wb * 8 / w / 1e9; pps = p / w
            ratio = (rp != "") ? sprintf("%.1f%%", rp) : (bw > 0) ? sprintf("%.1f%%", 100 * bw / w) : "-"
            printf "%-34s %9.3f %8.2f %8.2f %12.0f %7.3f %6s %9.1f %9s", l, w, g, wg, pps, pps / 1e6, c, r / 1024, ratio
        }')")
}
# na_row LABEL REASON
na_row() { ROWS+=("$(printf '%-34s %s' "$1" "n/a ($2)")"); }

write_results() {
    local hdr
    hdr=$(printf '%-34s %9s %8s %8s %12s %7s %6s %9s %9s' \
        run 'wall s' 'Gbit/s' 'wire' 'packets/s' 'Mpkt/s' 'CPU' 'RSS MiB' '% of bare')
    {
        echo "tamperwatch throughput benchmark — $(date -u '+%Y-%m-%d %H:%M:%SZ')"
        echo "host: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), load avg at start: $LOAD0"
        echo "capture: $PCAP"
        printf '  file %s bytes (%.1f MiB), %s packets, on-wire %s bytes (sum of packet lengths)\n' \
            "$FILE_BYTES" "$(awk -v b="$FILE_BYTES" 'BEGIN { print b / 1048576 }')" "$PACKETS" "$WIRE_BYTES"
        echo "  $CAPSTATS"
        if [ -n "${CAPTURE_NOTE:-}" ]; then echo "  $CAPTURE_NOTE"; fi
        echo "timing: median wall time of $BENCH_RUNS runs after a warm-up read (file in page cache);" \
            "pinned to CPU ${BENCH_CPU}; RSS = max over runs; paired runs: $BENCH_PAIRED"
        echo "profile: $BENCH_PROFILE"
        echo "binary: ${TW:-none}$([ "$BENCH_PGO" = 1 ] && echo ' (profile-guided: scripts/build-pgo.sh)')"
        echo "Gbit/s = pcap file bytes * 8 / wall; wire = on-wire bytes * 8 / wall; % of bare = bare wall / run wall"
        echo
        echo "$hdr"
        printf '%s\n' "${ROWS[@]}"
        if [ -n "${CPU_LINES:-}" ]; then printf '\n%s\n' "$CPU_LINES"; fi
        if [ -n "${DETAILS:-}" ]; then printf '\n%s\n' "$DETAILS"; fi
    } >"$RESULTS"
    echo
    cat "$RESULTS"
}

# --- main ------------------------------------------------------------------------------

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
install_missing
mkdir -p "$DATA"
rm -f "$DATA"/run-*

want=$((BENCH_MB * 1024 * 1024))
have=$(stat -c %s "$PCAP" 2>/dev/null || echo 0)
CAPTURE_NOTE=""
if [ "$BENCH_REGEN" != 1 ] && [ "$have" -ge "$want" ]; then
    log "reusing $PCAP ($((have / 1048576)) MiB >= $BENCH_MB MiB)"
    [ -f "$NOTE_FILE" ] && CAPTURE_NOTE=$(cat "$NOTE_FILE")
else
    capture
fi

log "building bare_pcap_loop"
gcc -O2 -Wall -o "$DATA/bare_pcap_loop" "$HERE/bare_pcap_loop.c" -lpcap
BARE=$DATA/bare_pcap_loop

log "describing the capture"
STATS=$("$BARE" --stats "$PCAP") || die "bare_pcap_loop --stats failed"
sv() { printf '%s\n' "$STATS" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
CAPSTATS="max frame $(sv max_frame) B, mean frame $(sv mean_frame) B, $(sv tcp_syn) TCP connections (SYN), $(sv tcp_synack) SYN-ACK, $(sv tcp_packets) TCP packets, $(sv tcp_payload_packets) with payload, $(sv tcp_rst) RST"
log "$CAPSTATS"
if [ "$(sv frames_over_1514)" != 0 ]; then
    die "$(sv frames_over_1514) frames exceed 1514 bytes (offloads still on?); rerun with BENCH_REGEN=1 after fixing"
fi
if command -v capinfos >/dev/null; then
    capinfos -c -d -u -a -e -z -E "$PCAP" | sed -n '2,$p' | sed 's/^/[bench]   capinfos: /' >&2 || true
fi

log "warm-up read (page cache)"
cat "$PCAP" >/dev/null

# The replay variants: LABEL and extra arguments (one string, split on spaces).
VAR_LABELS=() VAR_ARGS=()
build_tw() {
    if [ -n "$BENCH_BIN" ]; then
        TW=$BENCH_BIN
        log "using $TW (BENCH_BIN; no cargo build)"
        [ -x "$TW" ] || die "BENCH_BIN=$TW is not an executable"
        return 0
    fi
    if [ "$BENCH_PGO" = 1 ]; then
        log "scripts/build-pgo.sh (profile-guided build)"
        if ! TW=$("$ROOT/scripts/build-pgo.sh"); then
            na_row "tamperwatch replay" "scripts/build-pgo.sh failed"
            write_results
            die "scripts/build-pgo.sh failed: replay not measured"
        fi
        return 0
    fi
    log "cargo build --release"
    if ! (cd "$ROOT" && cargo build --release); then
        na_row "tamperwatch replay" "cargo build --release failed"
        write_results
        die "cargo build --release failed: replay not measured"
    fi
    TW=$ROOT/target/release/tamperwatch
    [ -x "$TW" ] || die "cargo build succeeded but $TW is missing"
}

if [ "$BENCH_SKIP_REPLAY" != 1 ]; then
    build_tw
    if [ -n "$BENCH_CONFIGS" ]; then
        for spec in $BENCH_CONFIGS; do
            [ -f "${spec#*=}" ] || die "BENCH_CONFIGS: ${spec#*=} is not a file"
            VAR_LABELS+=("replay ${spec%%=*}") VAR_ARGS+=("--config ${spec#*=}")
        done
    else
        VAR_LABELS+=("tamperwatch replay") VAR_ARGS+=("")
    fi
    if [ -n "$BENCH_RULES_DIR" ]; then
        if "$TW" replay --help 2>&1 | grep -q -- '--rules'; then
            EMPTY_RULES=$DATA/empty-rules
            rm -rf "$EMPTY_RULES"
            mkdir -p "$EMPTY_RULES"
            DETAILS_RULES="BENCH_RULES_DIR=$BENCH_RULES_DIR"
            VAR_LABELS+=("replay --rules <empty dir>") VAR_ARGS+=("--rules $EMPTY_RULES")
            VAR_LABELS+=("replay --rules <BENCH_RULES_DIR>") VAR_ARGS+=("--rules $BENCH_RULES_DIR")
        else
            na_row "replay --rules" "--rules not supported"
        fi
    fi
fi

# run_once NAME K CMD...: one timed run; appends to W_<NAME> and friends via eval-free arrays
declare -A WALLS RSSS CPUS CPUSECS FAILED
run_once() {
    local name=$1 k=$2
    shift 2
    [ -n "${FAILED[$name]:-}" ] && return 0
    timed_run "$DATA/run-$name-$k" "$@"
    if [ "$T_RC" != 0 ]; then
        FAILED[$name]=$T_RC
        log "$name run $k: exit $T_RC; stderr tail:"
        tail -5 "$DATA/run-$name-$k.err" >&2 || true
        return 0
    fi
    WALLS[$name]+="$T_WALL " RSSS[$name]+="$T_RSS " CPUS[$name]+="$T_CPU " CPUSECS[$name]+="$T_CPU_S "
    log "$name run $k: ${T_WALL}s (CPU ${T_CPU_S}s), peak RSS ${T_RSS} KiB, CPU ${T_CPU}"
}

run_variant() { # run_variant INDEX K
    local args
    read -r -a args <<<"${VAR_ARGS[$1]}"
    run_once "v$1" "$2" "$TW" replay "${args[@]}" "$PCAP"
}

log "timed runs: $BENCH_RUNS each of the bare loop and ${#VAR_LABELS[@]} replay variant(s), paired=$BENCH_PAIRED"
if [ "$BENCH_PAIRED" = 1 ]; then
    for ((k = 1; k <= BENCH_RUNS; k++)); do
        run_once bare "$k" "$BARE" "$PCAP"
        for ((v = 0; v < ${#VAR_LABELS[@]}; v++)); do run_variant "$v" "$k"; done
    done
else
    for ((k = 1; k <= BENCH_RUNS; k++)); do run_once bare "$k" "$BARE" "$PCAP"; done
    for ((v = 0; v < ${#VAR_LABELS[@]}; v++)); do
        for ((k = 1; k <= BENCH_RUNS; k++)); do run_variant "$v" "$k"; done
    done
fi
[ -z "${FAILED[bare]:-}" ] || die "bare_pcap_loop failed"

# summary NAME: sets R_WALL (median), R_RSS (max), R_CPU (of the median run), R_ALL
summary() {
    local walls cpus k
    read -r -a walls <<<"${WALLS[$1]}"
    read -r -a cpus <<<"${CPUS[$1]}"
    R_ALL=${walls[*]}
    R_WALL=$(printf '%s\n' "${walls[@]}" | median)
    R_RSS=$(printf '%s\n' ${RSSS[$1]} | maxof)
    R_CPUS=$(printf '%s\n' ${CPUSECS[$1]} | median)
    for ((k = 0; k < ${#walls[@]}; k++)); do
        if [ "${walls[$k]}" = "$R_WALL" ]; then R_CPU=${cpus[$k]}; break; fi
    done
}

summary bare
BARE_WALL=$R_WALL
BARE_CPUS=$R_CPUS
read -r -a BARE_WALLS <<<"${WALLS[bare]}"
bare_line=$(cat "$DATA/run-bare-1.out")
bv() { printf '%s\n' "$bare_line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
PACKETS=$(bv packets)
WIRE_BYTES=$(bv wire_bytes)
FILE_BYTES=$(stat -c %s "$PCAP")
add_row "bare pcap loop (ceiling)" "$R_WALL" "$R_RSS" "$R_CPU"
DETAILS="bare loop walls (s): $R_ALL"
[ -n "${DETAILS_RULES:-}" ] && DETAILS+=$'\n'"$DETAILS_RULES"

if [ "$BENCH_SKIP_REPLAY" = 1 ]; then
    na_row "tamperwatch replay" "BENCH_SKIP_REPLAY=1"
    write_results
    exit 0
fi

CPU_LINES="by CPU time (user + system, median of runs; robust to a busy machine):"
CPU_LINES+=$'\n'"$(printf '%-34s %9s %9s %9s' run 'cpu s' 'bare cpu' '% of bare')"
for ((v = 0; v < ${#VAR_LABELS[@]}; v++)); do
    label=${VAR_LABELS[$v]}
    if [ -n "${FAILED[v$v]:-}" ]; then
        na_row "$label" "exit ${FAILED[v$v]}, see $DATA/run-v$v-*.err"
        continue
    fi
    summary "v$v"
    ratio=""
    if [ "$BENCH_PAIRED" = 1 ]; then
        read -r -a vw <<<"${WALLS[v$v]}"
        ratio=$(for ((k = 0; k < ${#vw[@]}; k++)); do
            awk -v b="${BARE_WALLS[$k]}" -v r="${vw[$k]}" 'BEGIN { printf "%.4f\n", 100 * b / r }'
        done | median)
        DETAILS+=$'\n'"$label: per-run % of bare: $(for ((k = 0; k < ${#vw[@]}; k++)); do
            awk -v b="${BARE_WALLS[$k]}" -v r="${vw[$k]}" 'BEGIN { printf "%.1f ", 100 * b / r }'
        done)"
    fi
    add_row "$label" "$R_WALL" "$R_RSS" "$R_CPU" "$ratio"
    # On a host whose other tenants slow every run now and then, the fastest runs are
    # the steadiest figure: both were the least disturbed.
    DETAILS+=$'\n'"$label: fastest bare run / fastest run: $(awk \
        -v b="$(printf '%s\n' "${BARE_WALLS[@]}" | fastest)" \
        -v r="$(printf '%s\n' $R_ALL | fastest)" 'BEGIN { printf "%.1f %%", 100 * b / r }')"
    CPU_LINES+=$'\n'"$(awk -v l="$label" -v b="$BARE_CPUS" -v r="$R_CPUS" 'BEGIN {
        printf "%-34s %9.3f %9.3f %8.1f%%", l, r, b, (r > 0) ? 100 * b / r : 0 }')"
    DETAILS+=$'\n'"$label walls (s): $R_ALL (args: ${VAR_ARGS[$v]:-none})"
    if awk -v r="$R_WALL" -v b="$BARE_WALL" 'BEGIN { exit !(r < b / 2) }'; then
        DETAILS+=$'\n'"WARNING: $label finished in under half the bare-loop time; check that it reads the whole file."
    fi
    DETAILS+=$'\n'"$label stdout (run 1):"$'\n'"$(sed 's/^/  /' "$DATA/run-v$v-1.out")"
done

write_results
