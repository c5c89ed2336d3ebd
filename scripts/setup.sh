#!/usr/bin/env bash
# Installs what building and testing tamperwatch needs, only when it is missing.
# Usage: scripts/setup.sh [build|test]   (test adds the tools integration tests use)
set -euo pipefail
mode=${1:-build}
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
have_pkg libpcap-dev || need+=(libpcap-dev)
command -v cc >/dev/null || need+=(gcc)
if [ "$mode" = test ]; then
  [ -x /usr/bin/time ] || need+=(time)
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v tcpdump >/dev/null || need+=(tcpdump)
  command -v curl >/dev/null || need+=(curl)
  command -v promtool >/dev/null || need+=(prometheus)
  command -v sqlite3 >/dev/null || need+=(sqlite3)
  # The fleet forwarding test (tests/fleet): rsyslog with RELP and TLS, iproute2.
  command -v rsyslogd >/dev/null || need+=(rsyslog)
  have_pkg rsyslog-relp || need+=(rsyslog-relp)
  have_pkg rsyslog-gnutls || need+=(rsyslog-gnutls)
  command -v certtool >/dev/null || need+=(gnutls-bin)
  command -v ip >/dev/null || need+=(iproute2)
  command -v chromium >/dev/null || need+=(chromium)   # tests/report.rs draws the report
  command -v tshark >/dev/null || need+=(tshark)       # tests/http_pipelining.rs cross-checks requests
  command -v python3 >/dev/null || need+=(python3)     # tests/daemon_flow_ids.rs serves HTTP with it
  command -v nft >/dev/null || need+=(nftables)        # tests/tcp_parity.rs drops its raw client's RSTs
  command -v hping3 >/dev/null || need+=(hping3)       # tests/live_flood.rs floods spoofed SYNs in namespaces
  command -v slowhttptest >/dev/null || need+=(slowhttptest)  # tests/live_pool.rs holds slow bodies open in namespaces
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "setup: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }
