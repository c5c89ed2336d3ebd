#!/usr/bin/env python3
"""Runs a command and prints its user+system CPU seconds with microsecond resolution.

GNU time prints CPU time in 10 ms steps, which on a capture of a few thousand
transactions is several microseconds per transaction: too coarse to compare two engine
versions. The kernel accounts CPU time far more finely and wait4(2) returns it in
microseconds, so this reads it from there.

    cpu_time.py OUT ERR CMD [ARG...]

The command's stdout goes to OUT and stderr to ERR; the exit status is passed on.
"""
import os
import sys


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    pid = os.fork()
    if pid == 0:
        try:
            fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    print(f"{usage.ru_utime + usage.ru_stime:.6f}")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
