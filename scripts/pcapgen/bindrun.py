#!/usr/bin/env python3
"""Run a Python program (e.g. sqlmap) with every TCP connection bound to a
chosen loopback source address, and refuse any non-loopback destination.

usage: bindrun.py SRC_ADDR /path/to/program.py [ARGS...]

sqlmap has no option to choose its source address; this wrapper gives it
one, so that in the capture it appears as the attacker 127.0.0.66.
"""
import ipaddress
import runpy
import socket
import sys

SRC = sys.argv[1]
if not ipaddress.ip_address(SRC).is_loopback:
    sys.exit("bindrun: loopback source only")
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _check(addr):
    host = addr[0] if isinstance(addr, tuple) else addr
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = ipaddress.ip_address(socket.gethostbyname(host))
    if not ip.is_loopback:
        raise OSError("bindrun: refusing non-loopback destination %s" % host)


def _bind(sock, addr):
    if sock.family == socket.AF_INET and sock.type & socket.SOCK_STREAM:
        try:
            if sock.getsockname()[1] == 0:
                sock.bind((SRC, 0))
        except OSError:
            pass


def connect(self, addr):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(addr)
        _bind(self, addr)
    return _connect(self, addr)


def connect_ex(self, addr):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(addr)
        _bind(self, addr)
    return _connect_ex(self, addr)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
prog = sys.argv[2]
sys.argv = sys.argv[2:]
sys.path.insert(0, __import__("os").path.dirname(prog))
runpy.run_path(prog, run_name="__main__")
