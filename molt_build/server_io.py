"""The server's side of a connection, and what a command's process takes from its
client: framed requests with the client's descriptors, JSON-line replies, the
client's stdio, umask and resource limits."""
from __future__ import annotations

import json
import os
import socket
import struct
import sys


def receive(conn) -> tuple[dict, list[int]]:
    """One framed request and the descriptors that came with it."""
    conn.settimeout(10.0)
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    if len(data) < 4:
        raise ValueError("short request")
    (size,) = struct.unpack("!I", data[:4])
    body = data[4:]
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            raise ValueError("truncated request")
        body += more
    conn.settimeout(None)
    return json.loads(body), list(fds)


def send(conn, msg: dict) -> None:
    conn.sendall(json.dumps(msg).encode() + b"\n")


def drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass


def close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def adopt_settings(msg: dict) -> None:
    """The client's umask and resource limits (as far as this process may take them:
    a limit above the server's own hard limit stays at that)."""
    import resource
    if isinstance(msg.get("umask"), int):
        os.umask(msg["umask"])
    for name, (soft, hard) in (msg.get("rlimits") or {}).items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            try:
                _, own_hard = resource.getrlimit(which)
                cap = own_hard if hard == resource.RLIM_INFINITY else min(hard, own_hard)
                resource.setrlimit(which, (cap if soft == resource.RLIM_INFINITY else min(soft, cap), cap))
            except (ValueError, OSError):
                pass


def adopt_stdio(names: list[int], fds: list[int]) -> None:
    """The client's stdin/stdout/stderr become this process's 0, 1, 2 (/dev/null for
    one it did not have), and sys.std* are made anew for them."""
    given = dict(zip(names, fds))
    for target in (0, 1, 2):
        fd = given.get(target)
        if fd is None:
            fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, target)
        os.close(fd)
    enc = os.environ.get("PYTHONIOENCODING")
    sys.stdin = open(0, "r", closefd=False, encoding=enc)
    sys.stdout = open(1, "w", closefd=False, encoding=enc, buffering=1 if os.isatty(1) else -1)
    sys.stderr = open(2, "w", closefd=False, encoding=enc, errors="backslashreplace", buffering=1)
