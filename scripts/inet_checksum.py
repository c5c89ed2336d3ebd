"""The Internet checksum (RFC 1071), for the kernel oracles' hand-built packets
(scripts/fragment-oracle.py, scripts/tcp-oracle.py)."""
import struct


def checksum(b):
    """The ones' complement of the ones' complement sum of `b`'s 16-bit words."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF
