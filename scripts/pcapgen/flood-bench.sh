#!/usr/bin/env bash
# flood-bench.sh - the flood captures of issue 10's memory measurements, made inside
# network namespaces (scripts/netns-fragments.sh: client, router, server; no route
# leaves them). Large: written under bench-data/ (git-ignored), not committed.
#
# usage: sudo bash scripts/pcapgen/flood-bench.sh syn OUTFILE [SYNS]
#   hping3 -S -p 8080 --rand-source --flood from the client namespace at a server
#   namespace where nginx-less python sink listens; the capture keeps the first SYNS
#   (default 1,000,000) SYNs, each from its own random spoofed source. The router's
#   reverse-path filter is off and it has no route for the spoofed sources, so the
#   server's SYN-ACKs go nowhere (they are also left out of the capture).
#        sudo bash scripts/pcapgen/flood-bench.sh pipeline OUTFILE [CONNS REQS HEADERS]
#   scripts/pcapgen/pipeline-flood.py: CONNS (default 1,000) real connections, each
#   sending REQS (64) pipelined requests with HEADERS (127) header lines, to a server
#   that reads and never answers. Captured with tcpdump on the server's interface.
#        sudo bash scripts/pcapgen/flood-bench.sh frag OUTFILE [FRAGMENTS]
#   hping3 -S -x -d 1200 --rand-source --flood: every packet is a first fragment (more
#   fragments flag set) from its own spoofed source, and no datagram is ever completed,
#   so the monitor's defragmenter holds each until it times out or is evicted. The
#   capture keeps the first FRAGMENTS (default 300,000).
#        sudo bash scripts/pcapgen/flood-bench.sh slow OUTFILE [CONNS SECONDS]
#   slowhttptest -B (slow POST): CONNS (default 20,000) connections each announce a
#   large body and send it a few bytes at a time, never finishing, for SECONDS (60),
#   to the sink (which reads and never answers): open bodies, as slowloris holds open
#   heads.
#        sudo bash scripts/pcapgen/flood-bench.sh tiny OUTFILE [CONNS SECONDS]
#   scripts/pcapgen/tiny-flood.py: CONNS (default 1,000) uploads fed one byte per
#   segment for SECONDS (15), with the router dropping one client segment in ten
#   (nftables), so the segments after each loss arrive before its retransmission and
#   must be held until the hole fills.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODE=${1:?syn|pipeline|frag|slow|tiny}
OUT=${2:?OUTFILE}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
# The tools it runs, installed when missing (a fresh host has no hping3).
need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
[[ $MODE != syn && $MODE != frag ]] || command -v hping3 >/dev/null || need+=(hping3)
[[ $MODE != slow ]] || command -v slowhttptest >/dev/null || need+=(slowhttptest)
[[ $MODE != tiny ]] || command -v nft >/dev/null || need+=(nftables)
if [[ ${#need[@]} -gt 0 ]]; then
    echo "flood-bench: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Upper bound on a capture: the flood must not wait forever for SYNs that never come.
FLOOD_MAX_S=${FLOOD_MAX_S:-180}
P=twfb$$
NS="$HERE/../netns-fragments.sh"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    bash "$NS" down "$P"
}
trap cleanup EXIT
bash "$NS" up "$P"
ip netns exec "${P}r" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    "net.ipv4.conf.${P}r0.rp_filter=0" "net.ipv4.conf.${P}r1.rp_filter=0"
# The sink and the flooding tools hold a descriptor per connection.
ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null || true
ip netns exec "${P}s" "$PY" "$HERE/pipeline-flood.py" sink 10.231.2.2 8080 & pids+=($!)
sleep 0.5
# hping_flood COUNT FILTER HPING3_ARGS...: captures the first COUNT packets matching
# FILTER on the server's side (at most FLOOD_MAX_S) while hping3 floods port 8080 from
# random spoofed sources with HPING3_ARGS; fails if hping3 does not run.
hping_flood() {
    local count=$1 filter=$2 dump flood
    shift 2
    ip netns exec "${P}s" timeout "$FLOOD_MAX_S" tcpdump -i "${P}s0" -s 0 -B 262144 -U \
        -c "$count" -w "$OUT" "$filter" 2>/dev/null & dump=$!
    pids+=($dump)
    sleep 1
    ip netns exec "${P}c" hping3 -q "$@" -p 8080 --rand-source --flood 10.231.2.2 >/dev/null 2>&1 & flood=$!
    pids+=($flood)
    sleep 1
    if ! kill -0 "$flood" 2>/dev/null; then
        echo "flood-bench: hping3 exited at once (run: ip netns exec ${P}c hping3 ... to see why)" >&2
        exit 1
    fi
    wait "$dump" || true
    kill -INT "$flood" 2>/dev/null || true
}
# capture_while CMD...: captures port 8080 on the server's side while CMD runs in the
# client namespace (and two seconds after, for the last replies); CMD's status is its.
capture_while() {
    local dump status=0
    ip netns exec "${P}s" tcpdump -i "${P}s0" -s 0 -B 262144 -U -w "$OUT" 'tcp port 8080' 2>/dev/null & dump=$!
    pids+=($dump)
    sleep 1
    ip netns exec "${P}c" "$@" || status=$?
    sleep 2
    kill -INT "$dump"; wait "$dump" || true
    return "$status"
}
case $MODE in
syn)
    SYNS=${3:-1000000}
    hping_flood "$SYNS" 'tcp port 8080 and tcp[tcpflags] & tcp-ack == 0' -S
    # Records counted from their headers (tcpdump -r takes minutes over a million).
    got=$("$PY" - "$OUT" <<'COUNT'
import struct, sys
with open(sys.argv[1], "rb") as f:
    magic = f.read(24)[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    n = 0
    while len(head := f.read(16)) == 16:
        f.seek(struct.unpack(order + "IIII", head)[2], 1)
        n += 1
print(n)
COUNT
)
    if [[ $got -lt $SYNS ]]; then
        echo "flood-bench: only $got of $SYNS SYNs captured in ${FLOOD_MAX_S}s" >&2
        exit 1
    fi
    ;;
pipeline)
    ip netns exec "${P}s" sysctl -qw net.core.somaxconn=4096
    capture_while timeout "$FLOOD_MAX_S" "$PY" "$HERE/pipeline-flood.py" send 10.231.2.2 8080 \
        "${3:-1000}" "${4:-64}" "${5:-127}"
    ;;
frag)
    hping_flood "${3:-300000}" 'ip[6:2] & 0x3fff != 0' -S -x -d 1200
    ;;
slow)
    CONNS=${3:-20000} SECS=${4:-60}
    ip netns exec "${P}s" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192
    ip netns exec "${P}c" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
    # slowhttptest exits non-zero when the server "survives"; the capture is what counts.
    capture_while timeout $((SECS + 30)) slowhttptest -B -c "$CONNS" -r 2000 -i 5 -x 16 \
        -s 1000000 -t POST -l "$SECS" -u "http://10.231.2.2:8080/upload.php" >/dev/null 2>&1 || true
    ;;
tiny)
    CONNS=${3:-1000} SECS=${4:-15}
    ip netns exec "${P}s" sysctl -qw net.core.somaxconn=4096
    # The router drops one client segment in ten at random: the segments after a lost
    # one reach the server (and the capture) before its retransmission, out of order.
    ip netns exec "${P}r" nft -f - <<'NFT'
table inet twfb_loss {
    chain forward {
        type filter hook forward priority 0;
        tcp dport 8080 tcp flags & (syn | fin | rst) == 0 numgen random mod 10 == 0 drop
    }
}
NFT
    capture_while timeout $((SECS + 60)) "$PY" "$HERE/tiny-flood.py" 10.231.2.2 8080 "$CONNS" "$SECS"
    ;;
*) echo "usage: $0 syn|pipeline|frag|slow|tiny OUTFILE" >&2; exit 2 ;;
esac
ls -l "$OUT"
