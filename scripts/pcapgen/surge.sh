#!/usr/bin/env bash
# surge.sh - a distributed SYN flood and its control, captured inside namespaces.
#
# usage: sudo bash scripts/pcapgen/surge.sh OUTDIR
#
# Uses the namespaces of scripts/netns-fragments.sh (client, router, server); the
# router's reverse-path filter is off so spoofed sources are forwarded, and it has no
# route for them, so the server's SYN-ACKs to spoofed addresses go nowhere: nothing
# leaves the namespaces (never run a spoofed flood on the host's own interfaces).
#   syn-flood-distributed.pcap  hping3 --rand-source: 5,000 SYNs from random sources
#                               to the server's port 80 in half a second
#   flash-crowd.pcap            the control: 300 complete HTTP requests (curl, one
#                               connection each) from 50 client addresses in three
#                               seconds: every handshake completes, no client floods
# Captured with tcpdump on the server's interface. Processes stopped by PID.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?OUTDIR}
P=twsg$$
NS="$HERE/../netns-fragments.sh"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash "$NS" down "$P"; }
trap cleanup EXIT
bash "$NS" up "$P"
ip netns exec "${P}r" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    "net.ipv4.conf.${P}r0.rp_filter=0" "net.ipv4.conf.${P}r1.rp_filter=0"
ip netns exec "${P}s" python3 "$HERE/fragnet.py" serve :: 80 & pids+=($!)
capture() {
    local file=$1; shift
    ip netns exec "${P}s" tcpdump -i "${P}s0" -s 0 -B 16384 -U -w "$file" 'tcp port 80' 2>/dev/null &
    local dump=$!
    sleep 1
    "$@"
    sleep 1
    kill -INT "$dump"; wait "$dump" || true
}
flood() { ip netns exec "${P}c" hping3 -q -S -p 80 --rand-source -c 5000 -i u100 10.231.2.2 >/dev/null 2>&1 || true; }
crowd() {
    for a in $(seq 10 59); do ip netns exec "${P}c" ip addr add "10.231.1.$a/24" dev "${P}c0"; done
    for i in $(seq 1 300); do
        ip netns exec "${P}c" curl -s -o /dev/null --max-time 5 --interface "10.231.1.$((10 + i % 50))" \
            "http://10.231.2.2/news/$i" || true
    done
}
capture "$OUT/syn-flood-distributed.pcap" flood
capture "$OUT/flash-crowd.pcap" crowd
