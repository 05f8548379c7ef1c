"""The thin client: hand `moltb build` / `moltb test` to the workspace's server.

It imports nothing heavy (no pydantic, typer, networkx). It passes its stdin, stdout
and stderr to the server (SCM_RIGHTS), so the command writes straight to this
terminal; it forwards Ctrl-C to the process running the command and exits with that
command's code. When no server answers it starts one; when none can be had (no Unix
sockets, a server that does not come up) it returns None and the command runs here.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import time

from molt_build.server_paths import find_workspace_root, install_identity, server_dir, socket_path

PROTOCOL = 1
START_TIMEOUT_S = 30.0
_OFF = ("0", "no", "false", "off")


def wanted(command: str, args: list[str]) -> bool:
    """Whether this command line goes to the server: not with --no-server or
    MOLTB_SERVER=0, and not `--help` or a line the quick parser does not take (the
    CLI framework then explains it here)."""
    if os.environ.get("MOLTB_SERVER", "1").lower() in _OFF or not hasattr(socket, "send_fds"):
        return False
    from molt_build import flags
    parsed = flags.parse(args, command)
    return parsed is not None and not parsed[1].get("no_server")


def run(args: list[str]) -> int | None:
    """The command's exit code, from the server; None: run it in this process."""
    root = find_workspace_root(os.getcwd())
    if root is None:
        return None
    identity = install_identity()
    for _ in range(3):
        sock = connect(root, identity)
        if sock is None:
            return None
        reply = _request(sock, {"op": "run", "argv": args, "cwd": os.getcwd(), "env": dict(os.environ)},
                         identity, pass_stdio=True)
        if reply != "restart":
            return reply
    return None


def shutdown(root: str) -> int | None:
    """Stop the workspace's server; its pid, or None when none was running."""
    path = socket_path(root)
    try:
        sock = _connect_once(path)
    except OSError:
        return None
    sock.sendall(_frame({"op": "shutdown", "protocol": PROTOCOL}))
    reply = _read_messages(sock)
    pid = next((m["stopping"] for m in reply if "stopping" in m), None)
    _wait_gone(pid, 10.0)
    return pid


def connect(root: str, identity: str) -> socket.socket | None:
    """A connection to the workspace's server, started when none answers."""
    path = socket_path(root)
    try:
        return _connect_once(path)
    except OSError:
        pass
    return _start(root, path)


def _connect_once(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


def _start(root: str, path: str) -> socket.socket | None:
    """Start the server in the background (its own session, its output to its log) and
    wait for it to listen. Two clients starting at once: the server's lock lets one run."""
    import subprocess
    d = server_dir(root)
    try:
        os.makedirs(d, exist_ok=True)
        log = open(os.path.join(d, "server.log"), "ab")
    except OSError as e:
        sys.stderr.write(f"WARNING: cannot start the moltb server ({e.strerror}); running in this process\n")
        return None
    with log:
        proc = subprocess.Popen([sys.executable, "-m", "molt_build.server", root], cwd=root,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            return _connect_once(path)
        except OSError:
            pass
        if proc.poll() is not None:       # it exited: another server took the lock, or it failed
            try:
                return _connect_once(path)
            except OSError:
                pass
            if proc.returncode != 0:
                break
        time.sleep(0.02)
    sys.stderr.write(f"WARNING: the moltb server did not start (see {os.path.join(d, 'server.log')}); "
                     "running in this process\n")
    return None


def _frame(msg: dict) -> bytes:
    data = json.dumps(msg).encode()
    return struct.pack("!I", len(data)) + data


def _request(sock: socket.socket, msg: dict, identity: str, pass_stdio: bool) -> int | str | None:
    """Send one command; its exit code, "restart" (the server runs another moltb), or
    None (the server went away before taking the command)."""
    msg = {**msg, "protocol": PROTOCOL, "identity": identity, "mount_ns": mount_namespace(), **process_settings()}
    fds = [fd for fd in (0, 1, 2) if _is_open(fd)] if pass_stdio else []
    msg["fds"] = fds
    try:
        socket.send_fds(sock, [_frame(msg)], fds)
    except OSError:
        sock.close()
        return None
    child = [0]

    def forward(signum, _frame_):
        if child[0]:
            try:
                os.kill(child[0], signum)
                return
            except OSError:
                pass
        raise KeyboardInterrupt

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        for m in _read_messages(sock, child):
            if "restart" in m:
                _wait_gone(m.get("server"), 10.0)
                return "restart"
            if "exit" in m:
                return int(m["exit"])
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        sock.close()
    if child[0]:
        sys.stderr.write("ERROR: the moltb server's command process ended without an exit code\n")
        return 37
    return None


def _read_messages(sock: socket.socket, child=None):
    """JSON lines from the server; `child[0]` learns the command's process id."""
    buf = b""
    while True:
        try:
            data = sock.recv(65536)
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if child is not None and "child" in m:
                child[0] = int(m["child"])
            yield m


_LIMITS = ("RLIMIT_NOFILE", "RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_FSIZE",
           "RLIMIT_CPU", "RLIMIT_NPROC")


def process_settings() -> dict:
    """What the command's process takes from the client besides its environment: the
    umask and the resource limits (a CI job's `ulimit -v` holds in the server too)."""
    import resource
    mask = os.umask(0)
    os.umask(mask)
    limits = {}
    for name in _LIMITS:
        if hasattr(resource, name):
            limits[name] = resource.getrlimit(getattr(resource, name))
    return {"umask": mask, "rlimits": limits}


def mount_namespace() -> str:
    """Which view of the file systems this process has: a server in another one (started
    inside `unshare`, a container, a sandbox) sees other files, so it does not serve us."""
    try:
        return os.readlink("/proc/self/ns/mnt")
    except OSError:
        return ""


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _wait_gone(pid, timeout: float) -> None:
    if not pid:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.02)
