#!/usr/bin/env bash
# netns-fragments.sh - three network namespaces where the kernel fragments real TCP.
#
# usage: netns-fragments.sh up PREFIX | down PREFIX
#
#   PREFIXc (client 10.231.1.2, fd31:1::2) -- PREFIXr (router) -- PREFIXs (server
#   10.231.2.2, fd31:2::2)
#
# The router's link towards the server has an MTU of 1280 (the IPv6 minimum) while both hosts have 1500,
# so the server advertises an MSS of 1460 and a client that clears DF (IP_PMTUDISC_DONT)
# has its full-size segments fragmented by the router's own IP stack: the server, and a
# capture on its interface PREFIXs0, receive real kernel fragments. IPv6 routers never
# fragment; IPv6 is there for extension headers. The namespaces are joined only to each
# other: no route leaves them. Root only. PREFIX: at most 9 characters.
set -euo pipefail
cmd=${1:?up|down}
p=${2:?prefix}
ns() { ip netns exec "$1" "${@:2}"; }
case $cmd in
up)
    for n in c r s; do ip netns add "${p}$n"; ns "${p}$n" ip link set lo up; done
    ip link add "${p}c0" netns "${p}c" type veth peer name "${p}r0" netns "${p}r"
    ip link add "${p}r1" netns "${p}r" type veth peer name "${p}s0" netns "${p}s"
    ns "${p}r" ip link set "${p}r1" mtu 1280
    ns "${p}c" ip addr add 10.231.1.2/24 dev "${p}c0"
    ns "${p}c" ip -6 addr add fd31:1::2/64 dev "${p}c0" nodad
    ns "${p}r" ip addr add 10.231.1.1/24 dev "${p}r0"
    ns "${p}r" ip -6 addr add fd31:1::1/64 dev "${p}r0" nodad
    ns "${p}r" ip addr add 10.231.2.1/24 dev "${p}r1"
    ns "${p}r" ip -6 addr add fd31:2::1/64 dev "${p}r1" nodad
    ns "${p}s" ip addr add 10.231.2.2/24 dev "${p}s0"
    ns "${p}s" ip -6 addr add fd31:2::2/64 dev "${p}s0" nodad
    for l in c:c0 r:r0 r:r1 s:s0; do ns "${p}${l%%:*}" ip link set "${p}${l#*:}" up; done
    ns "${p}c" ip route add default via 10.231.1.1
    ns "${p}c" ip -6 route add default via fd31:1::1
    ns "${p}s" ip route add default via 10.231.2.1
    ns "${p}s" ip -6 route add default via fd31:2::1
    ns "${p}r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ;;
down)
    for n in c r s; do ip netns del "${p}$n" 2>/dev/null || true; done
    ;;
*) echo "usage: $0 up|down PREFIX" >&2; exit 2 ;;
esac
