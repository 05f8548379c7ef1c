"""Memoised tool probes (`cc --version`, `zig version`): keyed by the tool's identity
(path, inode, size, mtime) so a no-change build pays no subprocess, and an upgraded
tool is probed again."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

_FILE = "probes.json"


def _identity(path: str) -> str:
    st = os.stat(path)
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def cached_probe(cache_dir: str, path: str, argv: list[str]) -> str:
    key = json.dumps([path, _identity(path), argv])
    store = os.path.join(cache_dir, _FILE)
    try:
        with open(store, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    if key in data:
        return data[key]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    text = (out.stdout or out.stderr).strip()
    if out.returncode != 0:
        raise OSError(f"{' '.join(argv)} exited {out.returncode}: {out.stderr.strip()[:200]}")
    data[key] = text
    try:
        os.makedirs(cache_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".probes.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, store)
    except OSError:
        pass  # a probe cache that cannot be written only costs time
    return text
