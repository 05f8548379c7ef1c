"""The processes actions run as: waiting for a process's exit (on a pidfd where the
kernel has them, else polling), its process group's members, and killing the group."""
from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import time

POLL_S = 0.002          # how often a process without a pidfd is checked for its exit
_PIDFD = [hasattr(os, "pidfd_open")]


def pidfd_of(pid: int) -> int:
    """A descriptor that turns readable when the process exits (Linux 5.3+), else -1."""
    if _PIDFD[0]:
        try:
            return os.pidfd_open(pid)
        except OSError as e:
            if e.errno != errno.EMFILE:
                _PIDFD[0] = False     # not on this kernel (or not allowed): poll instead
    return -1


def exited(r) -> bool:
    """Its process exited (it is not reaped: `finish` does that)."""
    while True:
        try:
            info = os.waitid(os.P_PID, r.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except InterruptedError:
            continue
        except ChildProcessError:
            return True
        return info is not None and info.si_pid != 0


def wait_exit(r, expire) -> None:
    """Block until its process exits; `expire(r)` when its deadline passes first."""
    while True:
        now = time.monotonic()
        if r.deadline is not None and not r.timed_out and now >= r.deadline:
            expire(r)
        left = None if r.deadline is None or r.timed_out else r.deadline - now
        if r.pidfd >= 0:
            if select.select([r.pidfd], [], [], left)[0]:
                return
        elif exited(r):
            return
        else:
            time.sleep(POLL_S if left is None else min(POLL_S, left))


def inode_of(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return -1


def group_members(pgid: int) -> int:
    """Live processes of a process group, its (exited) leader aside."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == pgid:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            n += 1
    return n


def read_int(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return int(f.read(32).strip() or 0)
    except (OSError, ValueError):
        return 0


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
