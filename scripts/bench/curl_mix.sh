#!/usr/bin/env bash
# Short-lived curl clients for the capture step of scripts/bench.sh; runs inside netns
# twb-cli while wrk provides the bulk. Each iteration is a new TCP connection (or a short
# keep-alive burst), with HTTP/1.0, HEAD, multipart uploads, PUT and DELETE mixed in.
# Usage: curl_mix.sh SITE_DIR STOP_FILE MAX_ITERATIONS
set -u
site=$1 stop=$2 max=$3
base=http://10.203.0.1
c=(curl -s -o /dev/null --max-time 10 -H 'Host: www.bench.test')
ua=('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0'
    'curl/7.88.1'
    'Wget/1.21.3'
    'python-requests/2.31.0')
# each curl runs in the background so a TERM can stop it by PID at once
cpid=
trap 'if [ -n "$cpid" ]; then kill "$cpid" 2>/dev/null; fi; exit 143' TERM INT
req() { "$@" & cpid=$!; wait "$cpid"; cpid=; }
i=0
while [ ! -e "$stop" ] && [ "$i" -lt "$max" ]; do
    i=$((i + 1))
    a=${ua[$((i % ${#ua[@]}))]}
    p=$((i % 20 + 1))
    case $((i % 10)) in
        0) req "${c[@]}" -A "$a" --http1.0 "$base/page-$p.html" ;;
        1) req "${c[@]}" -A "$a" -F "file=@$site/assets/thumb-$((i % 50 + 1)).jpg" \
               -F "caption=photo $i" "$base/upload" ;;
        2) req "${c[@]}" -A "$a" -X PUT -H 'Content-Type: image/png' \
               --data-binary "@$site/assets/icon-$((i % 50 + 1)).png" "$base/assets/new-$i.png" ;;
        3) req "${c[@]}" -A "$a" -I "$base/downloads/report-$((i % 5 + 1)).pdf" ;;
        4) req "${c[@]}" -A "$a" -X DELETE "$base/page-$p.html" ;;
        5) req "${c[@]}" -A "$a" "$base/page-$p.html" -o /dev/null "$base/css/site.css" \
               -o /dev/null "$base/js/app.js" ;;
        6) req "${c[@]}" -A "$a" --data "name=resident$i&email=r$i%40example.test&msg=pothole+on+main+st" \
               "$base/contact" ;;
        *) req "${c[@]}" -A "$a" "$base/assets/photo-$((i % 20 + 1)).jpg" ;;
    esac
done
echo "curl_mix: $i iterations" >&2
