#!/usr/bin/env bash
# fragments.sh - captures of real kernel IPv4 fragmentation and IPv6 extension headers.
#
# usage: sudo bash scripts/pcapgen/fragments.sh OUTDIR
#
# Builds the three namespaces of scripts/netns-fragments.sh (client, router with a
# 1280-byte MTU towards the server, server), runs scripts/pcapgen/fragnet.py's server
# in the server namespace and captures on its interface while the client sends:
#   ip-fragments.pcap   a PHP shell upload (DF cleared: the router fragments every
#                       full-size segment) and, on a second connection, a sanctioned
#                       PDF upload the same way (the benign control)
#   ipv6-dstopts.pcap   the shell upload over IPv6 with a Destination Options header
#                       on every packet of the connection
# Nothing leaves the namespaces; every process is stopped by PID; namespaces removed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?OUTDIR}
P=twfg$$
NS="$HERE/../netns-fragments.sh"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash "$NS" down "$P"; }
trap cleanup EXIT
bash "$NS" up "$P"
ip netns exec "${P}s" python3 "$HERE/fragnet.py" serve :: 80 & pids+=($!)
capture() {
    local file=$1; shift
    ip netns exec "${P}s" tcpdump -i "${P}s0" -s 0 -U -w "$file" 'tcp or ip[6:2] & 0x3fff != 0 or (ip6 and not icmp6)' 2>/dev/null &
    local dump=$!
    sleep 1
    for c in "$@"; do ip netns exec "${P}c" python3 "$HERE/fragnet.py" send $c 80 >/dev/null; done
    sleep 1
    kill -INT "$dump"; wait "$dump" || true
}
capture "$OUT/ip-fragments.pcap" "frag-upload 10.231.2.2" "frag-benign 10.231.2.2"
capture "$OUT/ipv6-dstopts.pcap" "dstopts-upload fd31:2::2"
