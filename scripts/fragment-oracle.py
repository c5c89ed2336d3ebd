#!/usr/bin/env python3
"""Asks the Linux kernel how it reassembles odd IPv4 and IPv6 fragment sequences.

usage: fragment-oracle.py recv ADDR        (in the server's namespace)
           prints the hex of every UDP datagram delivered to ADDR:9999, one per line,
           until 3 s pass without one
       fragment-oracle.py send SRC DST     (in the client's namespace, as root)
           sends each case's fragments with a raw socket and prints one JSON line per
           case: {"case", "fragments": [[offset, more_fragments, hex], ...], "whole": hex}
ADDR, SRC and DST are both IPv4 or both IPv6: the same cases go as IPv4 fragments or
as IPv6 Fragment headers.

Used by tests/fragment_parity.rs, which feeds the same fragments to tamperwatch's
defragmenter and expects a datagram exactly when the kernel delivered one, with the
same bytes. The fragments are hand-built (labelled so): no tool sends overlapping or
odd-length fragments on purpose. Over IPv4 each case's datagram is UDP with no checksum
(0), so the kernel delivers whatever bytes it reassembled; IPv6 requires the checksum,
which is that of the case's true datagram (every case where the kernel takes other
bytes is one it discards).
"""
import json
import socket
import struct
import sys
import time

from inet_checksum import checksum

PORT = 9999


def ip_fragment(src, dst, ident, offset, more, payload):
    flags = (0x2000 if more else 0) | (offset // 8)
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, 17, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))
    head = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
    return head + payload


def ip6_fragment(src, dst, ident, offset, more, payload):
    """An IPv6 packet whose only extension header is a Fragment header (UDP follows)."""
    frag = struct.pack("!BBHI", 17, 0, offset | (1 if more else 0), ident)
    head = struct.pack("!IHBB16s16s", 0x60000000, len(frag) + len(payload), 44, 64,
                       socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst))
    return head + frag + payload


def udp(tag, v6=None):
    """The case's whole 32-byte UDP datagram; `v6` = (src, dst) sets the checksum."""
    data = (tag + "-").encode() + b"A" * (24 - len(tag) - 1)
    dgram = struct.pack("!HHHH", 40000, PORT, 8 + len(data), 0) + data
    if v6:
        pseudo = (socket.inet_pton(socket.AF_INET6, v6[0]) + socket.inet_pton(socket.AF_INET6, v6[1])
                  + struct.pack("!IxxxB", len(dgram), 17))
        dgram = dgram[:6] + struct.pack("!H", checksum(pseudo + dgram) or 0xFFFF) + dgram[8:]
    return dgram


def cases(v6=None):
    """(name, [(offset, more, bytes)]) with u the case's whole 32-byte datagram."""
    out = []

    def case(name, build):
        u = udp(name, v6)
        out.append((name, build(u)))

    # Not a multiple of 8 with more to follow: Linux trims it to 16 bytes.
    case("odd-trimmed", lambda u: [(0, True, u[:20]), (16, False, u[16:])])
    # Cut down to nothing: the whole datagram is discarded.
    case("odd-to-nothing", lambda u: [(0, True, u[:16]), (16, True, u[16:21]), (16, False, u[16:])])
    # Partial overlap of the last run.
    case("overlap-tail", lambda u: [(0, True, u[:16]), (8, True, u[8:24]), (24, False, u[24:])])
    # Inside one run, other bytes: a duplicate, ignored.
    case("dup-in-run", lambda u: [(0, True, u[:16]), (8, True, b"X" * 8), (16, False, u[16:])])
    # Spans two appended fragments of one run: a duplicate.
    case("dup-across-appended", lambda u: [(0, True, u[:8]), (8, True, u[8:16]), (0, True, b"Y" * 16),
                                            (16, False, u[16:])])
    # Spans two runs (the second was not appended at the tail): an overlap.
    case("span-two-runs", lambda u: [(24, False, u[24:]), (0, True, u[:8]), (8, True, u[8:16]),
                                      (0, True, u[:16]), (16, True, u[16:24])])
    # A run inserted before the tail, then a gap filled: reassembles.
    case("out-of-order", lambda u: [(16, False, u[16:]), (8, True, u[8:16]), (0, True, u[:8])])
    # The same offset and length, different second half: a duplicate.
    case("dup-whole", lambda u: [(0, True, u[:16]), (0, True, u[:8] + b"Q" * 8), (16, False, u[16:])])
    # Overlap that reaches past the last run's end and into it.
    case("overlap-head", lambda u: [(8, True, u[8:16]), (0, True, u[:16]), (16, False, u[16:])])
    # Zero-length final fragment.
    case("empty-final", lambda u: [(0, True, u[:16]), (16, False, b""), (16, False, u[16:])])
    return out


def send(src, dst):
    v6 = ":" in dst
    # IPPROTO_RAW: the packets carry their own IP header (for IPv6 as well, on Linux).
    raw = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i, (name, frags) in enumerate(cases((src, dst) if v6 else None)):
        ident = 0x5100 + i
        for off, more, data in frags:
            packet = (ip6_fragment if v6 else ip_fragment)(src, dst, ident, off, more, data)
            raw.sendto(packet, (dst, 0))
            time.sleep(0.01)
        print(json.dumps({"case": name, "id": ident,
                          "fragments": [[off, more, data.hex()] for off, more, data in frags]}),
              flush=True)


def recv(addr):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, PORT))
    s.settimeout(3)
    print("ready", flush=True)
    try:
        while True:
            data, _ = s.recvfrom(65535)
            print(data.hex(), flush=True)
    except socket.timeout:
        pass


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3])
    else:
        recv(sys.argv[2])
