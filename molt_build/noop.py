"""The no-op fast path: "build systems get slow when they need to make decisions".

After every successful build, a snapshot records the stat of everything the result
depended on: BUILD files, the directories whose listing patterns and globs read,
source inputs, tool binaries, the plugin modules, and the materialized outputs. The
next identical request stats those paths;
when nothing moved it writes the event log (from pre-serialized lines) and the
summary without importing the loader, pydantic, sqlite or the rules. A plain loop of
os.stat beats a thread pool here: the per-file work is mostly interpreter time. Anything unexpected falls back to a full build.

This module must stay import-light: it runs before the CLI framework is imported.
"""
from __future__ import annotations

import json
import marshal
import os
import sys
import time
import zlib

SNAPSHOT_VERSION = 3
RACY_NS = 100_000_000
from molt_build.layout import BUILD_FILE, STATE_DIR
_VALUE_FLAGS = {"-j", "--jobs", "--toolchain", "--profile", "--cache-dir", "--color", "--remote"}
_BOOL_FLAGS = {"-k", "--keep-going", "-q", "--quiet", "-v", "--verbose", "--no-cache"}
_SIG_FLAGS = {"--toolchain", "--profile", "--cache-dir", "--remote", "--no-cache"}


def request_signature(patterns: list[str], options: dict[str, list[str]], cwd_pkg: str) -> str:
    """A stable name for a build request: what decides its result, not how it is run."""
    from molt_build import __version__
    env = {k: os.environ.get(k, "") for k in ("MOLTB_CACHE_DIR", "MOLTB_REMOTE", "PATH")}
    text = json.dumps([SNAPSHOT_VERSION, __version__, patterns, sorted(options.items()), cwd_pkg, env],
                      sort_keys=True)
    return f"{zlib.crc32(text.encode()):08x}{zlib.adler32(text.encode()):08x}"


def snapshot_path(root: str, sig: str) -> str:
    return os.path.join(root, STATE_DIR, f"noop-{sig}.marshal")


def _stat_key(path: str):
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _find_root(cwd: str) -> str | None:
    d = cwd
    while True:
        if os.path.isdir(os.path.join(d, STATE_DIR)) and os.path.isfile(os.path.join(d, BUILD_FILE)):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def parse_build_args(args: list[str]):
    """(patterns, signature options, flags) or None when the command line is unusual."""
    patterns: list[str] = []
    options: dict[str, list[str]] = {}
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            patterns.extend(args[i + 1:])
            break
        if a.startswith("-") and not a.startswith("-//") and a != "-":
            name, eq, value = a.partition("=")
            if name[:2] in ("-j",) and len(name) > 2 and not eq:   # -j2
                name, eq, value = name[:2], "=", name[2:]
            if name in _VALUE_FLAGS:
                if not eq:
                    i += 1
                    if i >= len(args):
                        return None
                    value = args[i]
                flags[name] = value
                if name in _SIG_FLAGS:
                    options.setdefault(name, []).append(value)
            elif a in _BOOL_FLAGS and not eq:
                flags[a] = True
                if a in _SIG_FLAGS:
                    options[a] = ["1"]
            else:
                return None
        else:
            patterns.append(a)
        i += 1
    if not patterns:
        return None
    return patterns, options, flags


def check(snap: dict, root: str) -> bool:
    """True when every recorded path still has its recorded stat."""
    files = snap["files"]
    dirs = snap["dirs"]
    join = os.path.join
    stat = os.stat

    def ok_range(lo: int, hi: int) -> bool:
        try:
            for rel, ident in files[lo:hi]:
                st = stat(join(root, rel))
                if (st.st_ino, st.st_size, st.st_mtime_ns) != ident:
                    return False
        except OSError:
            return False
        return True

    try:
        for rel, mtime in dirs:
            if stat(join(root, rel)).st_mtime_ns != mtime:
                return False
    except OSError:
        return False
    return ok_range(0, len(files))


def try_fast_build(args: list[str]) -> int | None:
    """Run a no-op build without loading anything, or return None to take the full path."""
    if os.environ.get("MOLTB_NO_FASTPATH"):
        return None
    parsed = parse_build_args(args)
    if parsed is None:
        return None
    patterns, options, flags = parsed
    cwd = os.getcwd()
    root = _find_root(cwd)
    if root is None:
        return None
    rel = os.path.relpath(cwd, root)
    cwd_pkg = "" if rel == "." else rel.replace(os.sep, "/")
    sig = request_signature(patterns, options, cwd_pkg)
    try:
        with open(snapshot_path(root, sig), "rb") as f:
            snap = marshal.loads(f.read())  # marshal.load(file) reads in tiny pieces
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if snap.get("v") != SNAPSHOT_VERSION or snap.get("root") != root or not check(snap, root):
        return None
    from molt_build.events import EventLog, utc_now
    log = EventLog(root)
    log.emit("build_started", command="build", patterns=patterns, cwd=cwd, fast_path=True)
    ts = utc_now()
    configured = '{"event":"target_configured","ts":"' + ts + '",'
    log.write_raw([configured + tail + "\n" for tail in snap["targets"]])
    finished = '{"event":"action_finished","ts":"' + ts + '",'
    log.write_raw([finished + tail + "\n" for tail in snap["lines"]])
    total = len(snap["lines"])
    log.emit("build_finished", exit_code=0,
             actions={"total": total, "executed": 0, "cached": total, "failed": 0},
             tests={"passed": 0, "failed": 0, "cached": 0, "flaky": 0, "xfail": 0, "skipped": 0})
    log.close()
    if not flags.get("-q") and not flags.get("--quiet"):
        out = sys.stderr
        if flags.get("-v") or flags.get("--verbose"):
            out.write(f"INFO: event log: {log.path}\n")
        out.write(f"INFO: {total} actions: 0 executed, {total} cached, 0 failed\n"
                  "INFO: Build completed successfully (nothing to do)\n")
    return 0


def write_snapshot(root: str, sig: str, files: list[str], outputs: list[str], dirs: dict[str, int],
                   abs_files: list[str], targets: list[tuple[str, str]], lines: list[str]) -> None:
    """Record the stat of everything a successful build depended on. Sources modified
    too recently to be trusted (same clock tick as the build) make the snapshot
    unusable, so the next build checks fully; outputs are moltb's own files."""
    now = time.time_ns()
    entries = []
    for rel in dict.fromkeys(outputs):
        try:
            entries.append((rel, _stat_key(os.path.join(root, rel))))
        except OSError:
            return
    for rel in dict.fromkeys(files):
        try:
            st = os.stat(os.path.join(root, rel))
        except OSError:
            return
        if now - st.st_mtime_ns < RACY_NS:
            return
        entries.append((rel, (st.st_ino, st.st_size, st.st_mtime_ns)))
    targets = [json.dumps({"label": l, "config": c}, separators=(",", ":"))[1:] for l, c in targets]
    for p in dict.fromkeys(abs_files):
        try:
            entries.append((p, _stat_key(p)))
        except OSError:
            return
    dir_entries = []
    for rel, mtime in dirs.items():
        if now - mtime < RACY_NS:
            return
        dir_entries.append((rel, mtime))
    snap = {"v": SNAPSHOT_VERSION, "root": root, "files": entries, "dirs": dir_entries,
            "targets": targets, "lines": lines}
    path = snapshot_path(root, sig)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        marshal.dump(snap, f)
    os.replace(tmp, path)
