"""Build snapshots and the no-op fast path: "build systems get slow when they need to
make decisions".

After every successful build, a snapshot records the stat of everything the result
depended on, in two groups:
  * analysis inputs: BUILD files, the directories whose listings patterns and globs
    read, the plugin modules and the tool binaries. While these are unchanged the
    action graph is unchanged, and is reused from `graph-<sig>.marshal`.
  * files: source inputs and materialized outputs. While these are unchanged too,
    the build is a no-op.
The next identical request stats those paths. A no-op writes the event log (from
pre-serialized lines) and the summary without importing the loader, pydantic, sqlite
or the rules; otherwise the changed files say which actions need a look.

This module must stay import-light: it runs before the CLI framework is imported.
"""
from __future__ import annotations

import json
import marshal
import os
import sys
import time
import zlib

from molt_build import flags as flag_table
from molt_build.layout import BUILD_FILE, STATE_DIR

SNAPSHOT_VERSION = 6
RACY_NS = 100_000_000          # a file modified this close to the build is not trusted
DIRTY = (-1, -1, -1)           # stat identity that never matches


def request_signature(patterns: list[str], options: dict[str, list[str]], cwd_pkg: str) -> str:
    """A stable name for a build request: what decides its result, not how it is run."""
    from molt_build import __version__
    env = {k: os.environ.get(k, "") for k in ("MOLTB_CACHE_DIR", "MOLTB_REMOTE", "PATH",
                                              "MOLTB_ZIG_CACHE_DIR")}
    text = json.dumps([SNAPSHOT_VERSION, __version__, patterns, sorted(options.items()), cwd_pkg, env],
                      sort_keys=True).encode()
    return f"{zlib.crc32(text):08x}{zlib.adler32(text):08x}"


def _path(root: str, kind: str, sig: str) -> str:
    return os.path.join(root, STATE_DIR, f"{kind}-{sig}.marshal")


def _ident(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def find_root(cwd: str) -> str | None:
    """The nearest ancestor that has been built before (it has moltb's state dir)."""
    d = cwd
    while True:
        if os.path.isdir(os.path.join(d, STATE_DIR)) and os.path.isfile(os.path.join(d, BUILD_FILE)):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def cwd_package(root: str, cwd: str) -> str:
    rel = os.path.relpath(cwd, root)
    return "" if rel == "." or rel.startswith("..") else rel.replace(os.sep, "/")


def parse_build_args(args: list[str]):
    """(patterns, signature options, flags given) of a `moltb build` command line whose
    no-op can be answered from the snapshot alone, else None. `flags` maps each name
    of each flag given (-v and --verbose) to its value."""
    parsed = flag_table.parse(args, flag_table.BUILD)
    if parsed is None or not all(f.no_op for f in parsed[2]):
        return None
    patterns, values, given = parsed
    return patterns, flag_table.signature(flag_table.BUILD, values), {n: v for f, v in given.items() for n in f.names}


# ------------------------------------------------------------------ snapshots

def load(root: str, sig: str) -> dict | None:
    try:
        with open(_path(root, "noop", sig), "rb") as f:
            snap = marshal.loads(f.read())  # marshal.load(file) reads in tiny pieces
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(snap, dict) or snap.get("v") != SNAPSHOT_VERSION or snap.get("root") != root:
        return None
    return snap


def load_graph(root: str, sig: str) -> dict | None:
    try:
        with open(_path(root, "graph", sig), "rb") as f:
            return marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None


def analysis_valid(snap: dict, root: str) -> bool:
    """True when nothing the action graph was derived from has moved."""
    join, stat = os.path.join, os.stat
    for name, value in snap["env"].items():      # variables lanes took from the environment
        if os.environ.get(name) != value:
            return False
    try:
        for rel, mtime in snap["dirs"]:
            if stat(join(root, rel)).st_mtime_ns != mtime:
                return False
        for p, ident in snap["analysis"]:
            st = stat(join(root, p))
            if (st.st_ino, st.st_size, st.st_mtime_ns) != ident:
                return False
    except OSError:
        return False
    return True


def changed_files(snap: dict, root: str, first_only: bool = False) -> set[str]:
    """Sources and outputs whose stat differs from the snapshot (or that are gone).
    A plain loop of os.stat: the per-file work is interpreter time, threads lose."""
    join, stat = os.path.join, os.stat
    changed = set()
    for rel, ident in snap["files"]:
        try:
            st = stat(join(root, rel))
            if (st.st_ino, st.st_size, st.st_mtime_ns) == ident:
                continue
        except OSError:
            pass
        changed.add(rel)
        if first_only:
            break
    return changed


def save(root: str, sig: str, *, cache_dir: str, build_files: list[str], abs_files: list[str],
         dirs: dict[str, int], sources: list[str], outputs: list[str],
         targets: list[tuple[str, str]], lines: list[str], graph: dict,
         known: dict[str, tuple] | None = None, env: dict | None = None) -> bool:
    """Record what a successful build depended on. BUILD files or directories modified
    in the same clock tick as the build make it unusable (nothing is written); such
    sources are recorded as always-changed, so the next build looks at them. `known`
    holds identities already checked by this build for files it did not touch."""
    known = known or {}
    now = time.time_ns()
    analysis = []
    try:
        for rel in dict.fromkeys(build_files):
            st = os.stat(os.path.join(root, rel))
            if now - st.st_mtime_ns < RACY_NS:
                return False
            analysis.append((rel, _ident(st)))
        for p in dict.fromkeys(abs_files):
            analysis.append((p, _ident(os.stat(p))))
        dir_entries = []
        for rel, mtime in dirs.items():
            if now - mtime < RACY_NS:
                return False
            dir_entries.append((rel, mtime))
        files = []
        for rel in dict.fromkeys(outputs):
            ident = known.get(rel)
            files.append((rel, ident if ident is not None else _ident(os.stat(os.path.join(root, rel)))))
        for rel in dict.fromkeys(sources):
            ident = known.get(rel)
            if ident is None or ident == DIRTY:
                st = os.stat(os.path.join(root, rel))
                ident = DIRTY if now - st.st_mtime_ns < RACY_NS else _ident(st)
            files.append((rel, ident))
    except OSError:
        return False
    snap = {"v": SNAPSHOT_VERSION, "root": root, "cache_dir": cache_dir, "analysis": analysis, "env": env or {},
            "dirs": dir_entries, "files": files,
            "targets": [json.dumps({"label": l, "config": c}, separators=(",", ":"))[1:] for l, c in targets],
            "lines": lines}
    os.makedirs(os.path.join(root, STATE_DIR), exist_ok=True)
    for kind, data in (("graph", graph), ("noop", snap)):  # graph first: noop names a valid graph
        path = _path(root, kind, sig)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(marshal.dumps(data))
        os.replace(tmp, path)
    return True


# ------------------------------------------------------------------ fast path

def try_fast_build(args: list[str]) -> int | None:
    """Answer a no-op build without loading anything, or return None for the engine."""
    if os.environ.get("MOLTB_NO_FASTPATH"):
        return None
    parsed = parse_build_args(args)
    if parsed is None or "--no-cache" in parsed[2] or \
            parsed[2].get("--sandbox", "auto") not in ("auto", "namespace", "light", "none"):
        return None
    patterns, options, flags = parsed
    cwd = os.getcwd()
    root = find_root(cwd)
    if root is None:
        return None
    sig = request_signature(patterns, options, cwd_package(root, cwd))
    snap = load(root, sig)
    if snap is None or not analysis_valid(snap, root) or changed_files(snap, root, first_only=True):
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
             tests={"passed": 0, "failed": 0, "cached": 0, "flaky": 0, "xfail": 0, "skipped": 0,
                    "xpass": 0, "oom": 0, "timeout": 0})
    log.close()
    out = sys.stderr
    if flags.get("-v") or flags.get("--verbose"):
        out.write(f"INFO: event log: {log.path}\n")
    out.write(f"INFO: {total} actions: 0 executed, {total} cached, 0 failed\n")
    if not flags.get("-q") and not flags.get("--quiet"):
        out.write("INFO: Build completed successfully (nothing to do)\n")
    return 0
