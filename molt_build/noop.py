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

SNAPSHOT_VERSION = 7
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


def snapshot_file(root: str, kind: str, sig: str) -> str:
    """Where a request's snapshot ("noop") or action graph ("graph") is kept."""
    return _path(root, kind, sig)


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

_MEMO: dict[str, tuple[tuple, object]] = {}   # path -> (stat identity, data): filled by the server, inherited


def read_marshal(path: str) -> tuple[object, tuple] | None:
    """A snapshot file's data and stat identity (from memory when the server holds it)."""
    try:
        ident = _ident(os.stat(path))
        hit = _MEMO.get(path)
        if hit is not None and hit[0] == ident:
            return hit[1], ident
        with open(path, "rb") as f:
            return marshal.loads(f.read()), ident  # marshal.load(file) reads in tiny pieces
    except (OSError, EOFError, ValueError, TypeError):
        return None


def load(root: str, sig: str) -> dict | None:
    return load_checked(root, sig)[0]


def load_checked(root: str, sig: str):
    """(snapshot, watch hint, snapshot file identity): the hint names the snapshot's
    paths that may have moved, from the server's watch (None: all of them)."""
    path = _path(root, "noop", sig)
    got = read_marshal(path)
    snap = got[0] if got is not None else None
    if not isinstance(snap, dict) or snap.get("v") != SNAPSHOT_VERSION or snap.get("root") != root:
        return None, None, None
    from molt_build import server_state
    return snap, server_state.hint(path, got[1]), got[1]


def report_valid(root: str, sig: str, ident) -> None:
    if ident is not None:
        from molt_build import server_state
        server_state.report_valid(_path(root, "noop", sig), ident)


def remember_file(path: str) -> None:
    """Keep one marshal file in memory while it does not change on disk."""
    got = read_marshal(path)          # (what is held, when the file did not change)
    _MEMO.pop(path, None)             # (re-inserted last: the newest are kept longest)
    if got is not None:
        _MEMO[path] = (got[1], got[0])


def remember(root: str, sig: str, limit: int = 16, kinds=("noop", "graph")) -> None:
    """Keep this request's snapshot and graph in memory (a server, a --watch loop):
    the next build of it reads neither file while they do not change on disk. What is
    held stays the same object while the file does not change (what was made from it
    ahead, e.g. an index, still fits)."""
    for kind in kinds:
        remember_file(_path(root, kind, sig))
    while len(_MEMO) > limit:
        _MEMO.pop(next(iter(_MEMO)))


def analysis_valid(snap: dict, root: str, hint=None) -> bool:
    """True when nothing the action graph was derived from has moved. With a watch
    `hint`, only the paths it cannot vouch for are stat'ed."""
    from molt_build.server_state import CHECKS
    join, stat = os.path.join, os.stat
    for name, value in snap["env"].items():      # variables lanes took from the environment
        if os.environ.get(name) != value:
            return False
    try:
        for rel, mtime in snap["dirs"]:
            if hint is not None and not hint.needs_stat(rel):
                continue
            CHECKS["stat"] += 1
            if stat(join(root, rel)).st_mtime_ns != mtime:
                return False
        for p, ident in snap["analysis"]:
            if hint is not None and not hint.needs_stat(p):
                continue
            CHECKS["stat"] += 1
            st = stat(join(root, p))
            if (st.st_ino, st.st_size, st.st_mtime_ns) != ident:
                return False
    except OSError:
        return False
    return True


def changed_files(snap: dict, root: str, first_only: bool = False, hint=None) -> set[str]:
    """Sources and outputs whose stat differs from the snapshot (or that are gone).
    A plain loop of os.stat: the per-file work is interpreter time, threads lose.
    With a watch `hint`, only the paths it cannot vouch for are stat'ed."""
    from molt_build.server_state import CHECKS
    join, stat = os.path.join, os.stat
    changed = set()
    files = snap["files"] if hint is None else hint.files_to_stat(snap["files"])
    CHECKS["stat"] += len(files)
    for rel, ident in files:
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
         known: dict[str, tuple] | None = None, env: dict | None = None,
         target_lines: list[str] | None = None, files: list | None = None) -> bool:
    """Record what a successful build depended on. BUILD files or directories modified
    in the same clock tick as the build make it unusable (nothing is written); such
    sources are recorded as always-changed, so the next build looks at them. `known`
    holds identities already checked by this build for files it did not touch; `files`
    (path, identity) of all of them, when the caller has them (carried from the last
    snapshot); `target_lines`, the encoded targets when they did not change."""
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
        if files is None:
            files = _files(root, now, outputs, sources, known)
    except OSError:
        return False
    snap = {"v": SNAPSHOT_VERSION, "root": root, "cache_dir": cache_dir, "analysis": analysis, "env": env or {},
            "dirs": dir_entries, "files": files,
            "targets": target_lines if target_lines is not None else
            [json.dumps({"label": l, "config": c}, separators=(",", ":"))[1:] for l, c in targets],
            "lines": lines}
    os.makedirs(os.path.join(root, STATE_DIR), exist_ok=True)
    for kind, data in (("graph", graph), ("noop", snap)):  # graph first: noop names a valid graph
        path = _path(root, kind, sig)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(marshal.dumps(data))
        os.replace(tmp, path)
    report_valid(root, sig, _ident(os.stat(path)))
    return True


def _files(root: str, now: int, outputs: list[str], sources: list[str], known: dict) -> list:
    """(path, stat identity) of the outputs and sources, for the snapshot. A source
    modified this close to now is recorded as DIRTY: the next build looks at it."""
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
    return files


def carried_files(root: str, old: list, moved: set[str], outputs: set[str]) -> list:
    """The last snapshot's files with those that moved stat'ed again (a build of the
    same actions: the same files, in the same order)."""
    now = time.time_ns()
    files = []
    for rel, ident in old:
        if rel in moved or ident == DIRTY:
            st = os.stat(os.path.join(root, rel))
            ident = DIRTY if rel not in outputs and now - st.st_mtime_ns < RACY_NS else _ident(st)
        files.append((rel, ident))
    return files


# ------------------------------------------------------------------ fast path

TS_MARK = "\x00ts\x00"


def noop_log_lines(snap: dict) -> str:
    """The event log lines of a no-op of this snapshot (target_configured, then
    action_finished for each action), with TS_MARK where the time goes."""
    configured = '{"event":"target_configured","ts":"' + TS_MARK + '",'
    finished = '{"event":"action_finished","ts":"' + TS_MARK + '",'
    return "".join([configured + tail + "\n" for tail in snap["targets"]] +
                   [finished + tail + "\n" for tail in snap["lines"] if tail is not None])


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
    snap, hint, snap_ident = load_checked(root, sig)
    if snap is None or not analysis_valid(snap, root, hint) or changed_files(snap, root, first_only=True, hint=hint):
        return None
    report_valid(root, sig, snap_ident)
    from molt_build.events import EventLog, utc_now
    from molt_build.server_state import event_fields
    log = EventLog(root)
    log.emit("build_started", command="build", patterns=patterns, cwd=cwd, fast_path=True, **event_fields())
    from molt_build.server_state import noop_lines
    body = noop_lines(_path(root, "noop", sig), snap_ident) or noop_log_lines(snap)
    log.write_raw([body.replace(TS_MARK, utc_now())])
    total = sum(1 for tail in snap["lines"] if tail is not None)
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
