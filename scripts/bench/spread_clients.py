#!/usr/bin/env python3
"""Derive a many-client capture from bench.sh's one-client capture.

bench.sh captures one client (10.203.0.2) talking to one server. The daemon and
`replay --workers N` shard by address pair (so that every IP fragment of a connection
meets its other packets in one worker), so such a capture is one worker's work
whatever N is. This rewrites the client address of each TCP connection to
10.204.HI.LO, where HI.LO is the connection's client port, as if every connection came
from its own visitor, and fixes the IPv4 and TCP checksums (RFC 1624 incremental
update). Everything else, payloads and timing included, is unchanged. Used to measure
`replay --workers N` on many clients; see benches/README.md.

usage: spread_clients.py IN.pcap OUT.pcap
"""

import struct
import sys

CLIENT = bytes([10, 203, 0, 2])
ETH_IPV4 = 0x0800
PROTO_TCP = 6


def csum_replace(checksum, old, new):
    """RFC 1624 eqn. 3: the checksum after the 16-bit words of `old` become `new`."""
    total = (~checksum) & 0xFFFF
    for i in range(0, len(old), 2):
        total += (~((old[i] << 8) | old[i + 1])) & 0xFFFF
        total += (new[i] << 8) | new[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def rewrite(frame):
    if len(frame) < 14 + 20 or struct.unpack_from("!H", frame, 12)[0] != ETH_IPV4:
        return frame
    ip = 14
    ihl = (frame[ip] & 0x0F) * 4
    if frame[ip + 9] != PROTO_TCP or len(frame) < ip + ihl + 20:
        return frame
    src, dst = bytes(frame[ip + 12:ip + 16]), bytes(frame[ip + 16:ip + 20])
    tcp = ip + ihl
    sport, dport = struct.unpack_from("!HH", frame, tcp)
    if src == CLIENT:
        offset, port = ip + 12, sport
    elif dst == CLIENT:
        offset, port = ip + 16, dport
    else:
        return frame
    new = bytes([10, 204, port >> 8, port & 0xFF])
    out = bytearray(frame)
    out[offset:offset + 4] = new
    ip_sum = struct.unpack_from("!H", out, ip + 10)[0]
    struct.pack_into("!H", out, ip + 10, csum_replace(ip_sum, CLIENT, new))
    tcp_sum = struct.unpack_from("!H", out, tcp + 16)[0]
    struct.pack_into("!H", out, tcp + 16, csum_replace(tcp_sum, CLIENT, new))
    return bytes(out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as fin, open(sys.argv[2], "wb") as fout:
        header = fin.read(24)
        magic = struct.unpack_from("<I", header)[0]
        if magic not in (0xA1B2C3D4, 0xA1B23C4D) or struct.unpack_from("<I", header, 20)[0] != 1:
            sys.exit("need a little-endian pcap of Ethernet frames")
        fout.write(header)
        while True:
            record = fin.read(16)
            if len(record) < 16:
                break
            incl = struct.unpack_from("<I", record, 8)[0]
            fout.write(record)
            fout.write(rewrite(fin.read(incl)))


if __name__ == "__main__":
    main()
