#!/usr/bin/env bash
# flood-bench.sh - the two flood captures of issue 10's memory measurements, made inside
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
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODE=${1:?syn|pipeline}
OUT=${2:?OUTFILE}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
# The tools it runs, installed when missing (a fresh host has no hping3).
need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
[[ $MODE != syn ]] || command -v hping3 >/dev/null || need+=(hping3)
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
ip netns exec "${P}s" "$PY" "$HERE/pipeline-flood.py" sink 10.231.2.2 8080 & pids+=($!)
sleep 0.5
case $MODE in
syn)
    SYNS=${3:-1000000}
    ip netns exec "${P}s" timeout "$FLOOD_MAX_S" tcpdump -i "${P}s0" -s 0 -B 262144 -U \
        -c "$SYNS" -w "$OUT" 'tcp port 8080 and tcp[tcpflags] & tcp-ack == 0' 2>/dev/null & dump=$!
    pids+=($dump)
    sleep 1
    ip netns exec "${P}c" hping3 -q -S -p 8080 --rand-source --flood 10.231.2.2 >/dev/null 2>&1 & flood=$!
    pids+=($flood)
    sleep 1
    if ! kill -0 "$flood" 2>/dev/null; then
        echo "flood-bench: hping3 exited at once (run: ip netns exec ${P}c hping3 ... to see why)" >&2
        exit 1
    fi
    wait "$dump" || true
    kill -INT "$flood" 2>/dev/null || true
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
    ip netns exec "${P}s" tcpdump -i "${P}s0" -s 0 -B 262144 -U -w "$OUT" 'tcp port 8080' 2>/dev/null & dump=$!
    pids+=($dump)
    sleep 1
    ip netns exec "${P}c" timeout "$FLOOD_MAX_S" "$PY" "$HERE/pipeline-flood.py" send 10.231.2.2 8080 "${3:-1000}" "${4:-64}" "${5:-127}"
    sleep 2
    kill -INT "$dump"; wait "$dump" || true
    ;;
*) echo "usage: $0 syn|pipeline OUTFILE" >&2; exit 2 ;;
esac
ls -l "$OUT"
