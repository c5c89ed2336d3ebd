#!/usr/bin/env python3
"""Print the 1-based number of the first frame of a pcap whose bytes contain MARKER.

usage: framewith.py FILE MARKER

Used with `editcap FILE OUT N` (which deletes frame N) to make a capture with one
segment lost, as a kernel capture drop would. Classic pcap only (tcpdump -w).
"""
import struct
import sys


def main():
    path, marker = sys.argv[1], sys.argv[2].encode()
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, n = 24, 0
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        n += 1
        frame = data[off + 16:off + 16 + incl]
        if marker in frame:
            print(n)
            return
        off += 16 + incl
    sys.exit("framewith: %r not found in %s" % (marker, path))


if __name__ == "__main__":
    main()
