#!/usr/bin/env bash
# flood-upload.sh - a spoofed SYN flood with a real upload inside it, captured inside
# network namespaces.
#
# usage: sudo bash scripts/pcapgen/flood-upload.sh OUTFILE [SECONDS]
#        sudo FLOOD=frag bash scripts/pcapgen/flood-upload.sh OUTFILE [SECONDS]
#
# FLOOD=frag (pcaps/attacks/frag-flood-upload.pcap) floods fragments instead of SYNs:
#   hping3 -S -x -d 16 -p 8080 --rand-source -i u200 -c 5000*SECONDS: every packet a
#   first fragment (more-fragments flag set, 36 bytes) from its own spoofed source,
#   none ever completed, about 5,000 a second: more datagrams than the monitor's
#   defragmenter holds open within its 30 s timeout, so it refuses the rest (the
#   server's kernel holds 4 MiB of them and drops the rest too). The uploads are
#   the same.
# FLOOD=slowloris (pcaps/attacks/slowloris-upload.pcap) holds requests open instead:
#   slowhttptest -H -c 200 -r 100 -i 5 -l SECONDS: 200 connections, each sending its
#   head a header line every 5 s and never finishing it, from 50 client addresses
#   (nftables SNAT in the client namespace hands each new connection the next of
#   10.231.1.10-59), four connections each: no client is a flood by itself. The
#   uploads come from 10.231.1.3, outside the SNAT pool. 200 stays under nginx's 256
#   worker connections, so the uploads are still served.
# FLOOD=slowbody (pcaps/attacks/slowbody-upload.pcap) holds request bodies open from
#   one address, the uploader's own: slowhttptest -B -c 3000 -r 1000 -i 2 -x 16
#   -s 1000000 -l SECONDS against the upload endpoint, which nginx proxies with
#   request buffering, so it waits for each 1 MB body that comes 16 bytes every 2 s
#   (nginx gets 8,192 worker connections for it). One address: every connection
#   meets in one worker of a sharded monitor, which has to borrow the others' heap.
#
# The test website (nginx with scripts/pcapgen/nginx.conf.in and backend.py, as
# scripts/make-pcaps.sh runs it) is started inside the server namespace of
# scripts/netns-fragments.sh, listening on 10.231.2.2:8080. From the client namespace:
#   timeout SECONDS (default 4) hping3 -S -p 8080 --rand-source --flood
#       a SYN flood from random spoofed sources, each source once, as fast as hping3
#       goes (about 50,000 SYN/s on the 2-core machine the committed file was made on;
#       hping3 ignores -c with --flood, so the count varies run to run);
#   curl -F 'file=@shell.php;type=application/x-php' .../permits/upload (from
#       10.231.1.2) one second into the flood, and again (as shell.phtml) two seconds
#       before its end, when a flow table of the default budget is full: PHP web
#       shells uploaded to the site's upload endpoint while the flood runs; between
#       them one sanctioned PDF.
# The router's reverse-path filter is off so spoofed sources are forwarded, and it has
# no route for them, so the server's SYN-ACKs to spoofed addresses go nowhere: nothing
# leaves the namespaces (never run a spoofed flood on the host's own interfaces).
#
# Captured with tcpdump on the server's interface. The filter keeps the SYNs and the
# client's own connections, and leaves out the server's SYN-ACKs to spoofed sources
# (they double the file and carry nothing a passive monitor uses). Processes are
# stopped by PID; the namespaces are removed on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?OUTFILE}
SECS=${2:-4}
FLOOD=${FLOOD:-syn}
UPLOADER=10.231.1.2
FLOOD_MAX_S=$SECS
case $FLOOD in
    syn) FLOOD_CMD=(hping3 -q -S --flood -p 8080 --rand-source 10.231.2.2) ;;
    frag) FLOOD_CMD=(hping3 -q -S -x -d 16 -i u200 -c $((5000 * SECS)) -p 8080 --rand-source 10.231.2.2) ;;
    slowloris)
        command -v nft >/dev/null || { echo "flood-upload: nft is missing" >&2; exit 1; }
        # slowhttptest exits non-zero when the server "survives"; the capture is what counts.
        FLOOD_CMD=(slowhttptest -H -c 200 -r 100 -i 5 -l "$SECS" -u http://10.231.2.2:8080/)
        UPLOADER=10.231.1.3
        FLOOD_MAX_S=$((SECS + 10)) ;;
    slowbody)
        FLOOD_CMD=(slowhttptest -B -c 3000 -r 1000 -i 2 -x 16 -s 1000000 -t POST -l "$SECS"
            -u http://10.231.2.2:8080/permits/upload)
        FLOOD_MAX_S=$((SECS + 10)) ;;
    *) echo "flood-upload: FLOOD must be syn, frag, slowloris or slowbody" >&2; exit 2 ;;
esac
for cmd in "${FLOOD_CMD[0]}" tcpdump nginx curl; do
    command -v "$cmd" >/dev/null || { echo "flood-upload: $cmd is missing" >&2; exit 1; }
done
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
P=twfu$$
NS="$HERE/../netns-fragments.sh"
WORK=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    bash "$NS" down "$P"
    rm -rf "$WORK"
}
trap cleanup EXIT
bash "$NS" up "$P"
ip netns exec "${P}r" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    "net.ipv4.conf.${P}r0.rp_filter=0" "net.ipv4.conf.${P}r1.rp_filter=0"

if [[ $FLOOD == slowloris ]]; then
    ip -n "${P}c" addr add 10.231.1.3/24 dev "${P}c0"
    map=""
    for i in $(seq 0 49); do
        ip -n "${P}c" addr add "10.231.1.$((10 + i))/24" dev "${P}c0"
        map+="${map:+, }$i : 10.231.1.$((10 + i))"
    done
    ip netns exec "${P}c" nft -f - <<NFT
table ip twfu {
    chain post {
        type nat hook postrouting priority srcnat;
        ip saddr 10.231.1.2 ip daddr 10.231.2.2 snat to numgen inc mod 50 map { $map }
    }
}
NFT
fi

"$PY" "$HERE/mkfiles.py" "$WORK/site" "$WORK/files"
mkdir -p "$WORK/nginx"
sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@ROOT@|$WORK/site|g" \
    -e "s|listen 127.0.0.1:8080;|listen 10.231.2.2:8080;|" "$HERE/nginx.conf.in" >"$WORK/nginx/nginx.conf"
if [[ $FLOOD == slowbody ]]; then
    sed -i -e 's|^events { worker_connections 256; }|worker_rlimit_nofile 20000;\nevents { worker_connections 8192; }|' \
        "$WORK/nginx/nginx.conf"
    ip netns exec "${P}s" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192
fi
cp "$HERE/proxy.conf" "$WORK/nginx/proxy.conf"
ip netns exec "${P}s" "$PY" "$HERE/backend.py" 8081 2>"$WORK/backend.log" & pids+=($!)
ip netns exec "${P}s" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx.err" & pids+=($!)
S=http://10.231.2.2:8080
for _ in $(seq 100); do
    ip netns exec "${P}c" curl -s -o /dev/null --max-time 1 "$S/" && break
    sleep 0.1
done

ip netns exec "${P}s" tcpdump -i "${P}s0" -s 0 -B 65536 -U -w "$OUT" \
    'tcp port 8080 and (net 10.231.1.0/24 or tcp[tcpflags] & tcp-ack == 0)' 2>"$WORK/tcpdump.err" &
dump=$!
pids+=($dump)
sleep 1
ip netns exec "${P}c" timeout -s INT "$FLOOD_MAX_S" "${FLOOD_CMD[@]}" >/dev/null 2>&1 & flood=$!
pids+=($flood)
F=$WORK/files
up() { ip netns exec "${P}c" curl -s -o /dev/null -w "%{http_code} $1\n" --max-time 20 --interface "$UPLOADER" -H 'Expect:' "${@:2}" "$S/permits/upload"; }
sleep 1
up shell.php -F "file=@$F/shell.php;type=application/x-php"
up permit.pdf -F "file=@$F/permit.pdf;type=application/pdf"
sleep $((SECS - 2))
up shell.phtml -F "file=@$F/shell.php;filename=shell.phtml;type=application/octet-stream"
wait "$flood" || true
sleep 1
kill -INT "$dump"; wait "$dump" || true
cat "$WORK/tcpdump.err" >&2
size=$(stat -c %s "$OUT")
if ((size > 15 * 1000 * 1000)); then
    echo "flood-upload: $OUT is $size bytes (over 15 MB for the repository): rerun with fewer SECONDS" >&2
    exit 1
fi
