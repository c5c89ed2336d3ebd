# evasion.sh - the pcaps/evasion/ captures (issue 9), sourced by make-pcaps.sh.
#
# Each case is a request a real server (nginx in front, PHP/frameworks behind)
# accepts, written the way an attacker who has read tamperwatch's source would
# write it, plus a benign control (NAME-benign) using the same syntax. curl where
# curl can write the bytes; scripts/pcapgen/evasion.py (python sockets through
# the kernel) where the bytes must be exact. One capture is edited with a tool
# after the fact: resync-lost-segment*.pcap have one real segment deleted by
# editcap, as a capture drop would lose it (labelled in pcaps/README.md).
# Uses cap/done_cap/c and the address roles of make-pcaps.sh.

ev() { "$PY" "$GEN/evasion.py" --files "$F" "$@" >>"$LOG"; }

# -- framing never trusts a cap: 126 padding headers before the framing ones
pad=()
for i in $(seq 1 126); do pad+=(-H "X-Pad-$i: $i"); done
cap evasion/header-padding
c --interface $ATT -A "$CHROME" -H 'Expect:' "${pad[@]}" \
    -F "file=@$F/shell.php;type=application/x-php" $S/permits/upload
done_cap
cap evasion/header-padding-benign
pad=()
for i in $(seq 1 100); do pad+=(-H "X-Pad-$i: $i"); done
c --interface $V2 -A "$FIREFOX" -H 'Expect:' "${pad[@]}" \
    -F "file=@$F/permit.pdf;type=application/pdf" $S/permits/upload
done_cap

# -- resync: one lost segment in the first request of a keep-alive connection
for v in resync resync-benign; do
    name=evasion/resync-lost-segment${v#resync}
    src=$ATT; [[ $v == resync-benign ]] && src=$V2
    cap "$name"
    ev --src $src $v
    done_cap
    full=$WORK/cap/$name.pcap
    frame=$("$PY" "$GEN/framewith.py" "$full" X-Lost-Segment-2)
    editcap -F pcap "$full" "$OUT/$name.pcap" "$frame" >/dev/null
    echo "$name: deleted frame $frame (the segment carrying X-Lost-Segment-2)" >>"$LOG"
done

# -- parse as servers do
cap evasion/absolute-form
c --interface $ATT -A "$CHROME" --request-target http://127.0.0.1:8080/admin/pages/1 \
    -d 'title=Hacked&body=pwned' $S/admin/pages/1
done_cap
cap evasion/absolute-form-benign
c --interface $V2 -A "$FIREFOX" -H 'Expect:' --request-target http://127.0.0.1:8080/permits/upload \
    -F "file=@$F/permit.pdf;type=application/pdf" $S/permits/upload
c --interface $ADMIN -A "$FIREFOX" --request-target http://127.0.0.1:8080/admin/pages/1 \
    -d 'title=Library+hours' $S/admin/pages/1
done_cap

cap evasion/method-override-body
c --interface $ATT -A "$CHROME" -d '_method=DELETE' $S/api/news/3
c --interface $ATT -A "$CHROME" -H 'Expect:' -F '_method=PUT' -F 'title=pwned' $S/api/news/4
done_cap
cap evasion/method-override-authorized-benign
c --interface $ADMIN -A "$FIREFOX" -H 'X-HTTP-Method-Override: PUT' -d 'title=Library+hours' $S/admin/pages/1
c --interface $ADMIN -A "$FIREFOX" -H 'X-HTTP-Method: DELETE' -d '' $S/api/news/6
c --interface $ADMIN -A "$FIREFOX" -H 'X-Method-Override: PATCH' -d 'title=Updated' $S/api/news/7
c --interface $ADMIN -A "$FIREFOX" -d '_method=PUT&title=Roadworks' $S/api/news/5
done_cap

for v in filename-star bare-lf quoted-filename; do
    cap evasion/$v;        ev --src $ATT $v;        done_cap
    cap evasion/$v-benign; ev --src $V2 $v-benign;  done_cap
done
cap evasion/boundary-decoy;          ev --src $ATT boundary-decoy;        done_cap
cap evasion/boundary-quoted-benign;  ev --src $V2 boundary-quoted-benign; done_cap

cap evasion/percent-u
c --interface $ATT -A "$CHROME" "$S/api/search?id=1%u0027%20OR%201=1--"
c --interface $ATT -A "$CHROME" "$S/news.html?q=%u003cscript%u003ealert(1)%u003c/script%u003e"
done_cap
cap evasion/percent-u-benign
c --interface $V2 -A "$FIREFOX" "$S/api/search?q=caf%u00e9+hours"
done_cap

cap evasion/sql-comments
c --interface $ATT -A "$CHROME" "$S/api/search?id=-1/**/UNION/**/SELECT/**/username,password/**/FROM/**/users"
c --interface $ATT -A "$CHROME" "$S/api/search?id=-1%20/*!50000UNION*/%20/*!50000SELECT*/%20username,password%20FROM%20users"
done_cap
cap evasion/sql-comments-benign
c --interface $V2 -A "$FIREFOX" "$S/api/search?q=docs/*.pdf"
c --interface $V2 -A "$FIREFOX" --data-urlencode 'name=Pat' --data-urlencode 'message=/* note */ please select a date' $S/contact
done_cap

cap evasion/sniff-window
c --interface $ATT -A "$CHROME" -H 'Expect:' -F "file=@$F/padded-shell.jpg;filename=photo.jpg;type=image/jpeg" \
    $S/permits/upload
done_cap

cap evasion/ambiguity
ev --src $ATT ambiguity
done_cap
