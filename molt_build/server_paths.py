"""Where a workspace's server lives, and which moltb it runs (import-light: the client
reads this before anything else).

  <root>/moltb-out/.moltb/server/   server.json (pid, socket, identity), lock, log, cookies
  $XDG_RUNTIME_DIR or /tmp/moltb-<uid>/<hash of root>.sock   (a socket path must be short)
"""
from __future__ import annotations

import hashlib
import os

from molt_build.layout import BUILD_FILE, STATE_DIR, WORKSPACE_LINE
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def find_workspace_root(start: str) -> str | None:
    """The nearest ancestor whose BUILD.toml has a [workspace] line (None: let the
    engine find and explain it)."""
    d = os.path.abspath(start)
    while True:
        try:
            with open(os.path.join(d, BUILD_FILE), "rb") as f:
                if WORKSPACE_LINE.search(f.read()):
                    return d
        except OSError:
            pass
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def server_dir(root: str) -> str:
    return os.path.join(root, STATE_DIR, "server")


def socket_path(root: str) -> str:
    base = os.environ.get("XDG_RUNTIME_DIR") or ""
    if not base or not os.access(base, os.W_OK):
        base = os.path.join("/tmp", f"moltb-{os.getuid()}")
    digest = hashlib.sha256(os.path.realpath(root).encode()).hexdigest()[:20]
    return os.path.join(base, f"moltb-{digest}.sock")


def install_identity() -> str:
    """Which moltb this is: the interpreter, and the size and mtime of every module of
    the package (an upgrade or an edit of moltb, its rules or toolchains changes it)."""
    import sys
    h = hashlib.sha256(f"{sys.executable}\0{sys.version}".encode())
    stack = [PACKAGE_DIR]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            if e.name.endswith(".py"):
                st = e.stat()
                h.update(f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            elif e.name != "__pycache__" and e.is_dir():
                stack.append(e.path)
    return h.hexdigest()[:32]
