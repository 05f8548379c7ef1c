"""`moltb build --watch` / `moltb test --watch`: build (or test) now, then again after
every change of a file the request depends on, with one status line per round.

Changes come from the kernel (file_watch.py); where no watch can be had, the files the
last round depended on are polled. A burst of writes (an editor saving, a checkout) is
one round: the round starts once the tree has been quiet for DEBOUNCE_S, or at the
latest MAX_DEBOUNCE_S after the first change.

Ctrl-C during a round interrupts it and exits 8; Ctrl-C while waiting for changes
ends the watch with the exit code of the last round (0 when it succeeded).
"""
from __future__ import annotations

import os
import sys
import time

from molt_build import noop, server_state
from molt_build.errors import EXIT_INTERRUPTED
from molt_build.layout import LOG_DIR, OUT_DIR, STATE_DIR

DEBOUNCE_S = 0.01
MAX_DEBOUNCE_S = 0.3
POLL_S = 0.25


def watch(req) -> int:
    from molt_build.build import run_build
    from molt_build.server_paths import find_workspace_root
    cwd = req.cwd or os.getcwd()
    root = find_workspace_root(cwd)
    if root is None:                   # the engine says what is wrong
        return run_build(req).exit_code
    watcher, why = _watcher(root)
    outer = server_state.CURRENT
    validated: dict = {}
    ctx = server_state.RequestContext(outer.pid if outer else 0, outer.request if outer else 0,
                                      None, watcher, validated, None)
    server_state.CURRENT = ctx
    err = sys.stderr
    if watcher is None:
        err.write(f"INFO: watching by polling every {POLL_S:g} s ({why})\n")
    rc, rounds = 0, 0
    try:
        while True:
            ctx.gen = watcher.sync() if watcher is not None else None
            server_state.CHECKS["stat"] = 0
            rounds += 1
            t0 = time.monotonic()
            outcome = run_build(req)
            rc = outcome.exit_code
            if rc == EXIT_INTERRUPTED:
                return rc
            s = outcome.stats
            counts = f"{s.executed} executed, {s.cached} cached" if s is not None else "nothing built"
            if req.command == "test" and outcome.tests:
                t = outcome.tests
                counts += f"; tests: {t.get('passed', 0)} passed, {t.get('failed', 0)} failed"
            err.write(f"[watch] round {rounds}: {'ok' if rc == 0 else f'exit {rc}'} in {time.monotonic() - t0:.2f} s "
                      f"({counts}); waiting for changes, Ctrl-C to stop\n")
            err.flush()
            relevant = _relevant(root, req, cwd, watcher)
            if watcher is not None:
                _wait_watch(watcher, ctx.gen, relevant)
            else:
                _wait_poll(root, req, cwd)
    except KeyboardInterrupt:
        err.write("\nINFO: watch ended\n")
        return rc
    finally:
        server_state.CURRENT = outer
        if watcher is not None:
            watcher.close()


def _watcher(root: str):
    try:
        from molt_build.file_watch import FileWatcher, WatchUnavailable
    except ImportError as e:
        return None, f"no watchdog: {e}"
    try:
        cookies = os.path.join(root, STATE_DIR, f"watch-{os.getpid()}")
        return FileWatcher(root, [STATE_DIR, LOG_DIR, "cache", ".git"], cookies), ""
    except WatchUnavailable as e:
        return None, str(e)


def _snapshot(root: str, req, cwd: str, watcher=None) -> dict | None:
    """The request's snapshot, held (with its graph decoded and indexed) for the next
    round while it does not change on disk."""
    from molt_build.build import request_sig
    sig = request_sig(req, root, cwd)
    server_state.hold_build(root, sig, watcher)
    noop.remember_file(os.path.join(root, STATE_DIR, "digests.marshal"))
    return noop.load(root, sig)


def _relevant(root: str, req, cwd: str, watcher):
    """Which changed paths start a round: what the last round's result depended on, or
    (when it left no record, e.g. it failed) anything outside moltb's own directories."""
    out = OUT_DIR + "/"
    snap = _snapshot(root, req, cwd, watcher)
    if snap is None:
        return lambda rel: not rel.startswith(out) and rel != OUT_DIR
    paths = {rel for rel, _ in snap["files"] if not rel.startswith(out)}
    paths.update(p for p, _ in snap["analysis"] if not os.path.isabs(p))
    paths.update(rel for rel, _ in snap["dirs"])
    return paths.__contains__


def _wait_watch(watcher, since: int, relevant) -> None:
    gen = watcher.wait_change(since, None, relevant)
    deadline = time.monotonic() + MAX_DEBOUNCE_S
    while gen is not None and time.monotonic() < deadline:
        later = watcher.wait_change(gen, DEBOUNCE_S, relevant)
        if later is None:
            return
        gen = later


def _wait_poll(root: str, req, cwd: str) -> None:
    snap = _snapshot(root, req, cwd)
    stamp = _tree_stamp(root) if snap is None else None
    while True:
        time.sleep(POLL_S)
        if snap is None:
            if _tree_stamp(root) != stamp:
                return
        elif not noop.analysis_valid(snap, root) or noop.changed_files(snap, root, first_only=True):
            return


def _tree_stamp(root: str) -> tuple:
    """Names, sizes and mtimes of the workspace's files outside moltb's directories (a
    failed round left no record of what it read)."""
    skip = {os.path.join(root, d) for d in (OUT_DIR, LOG_DIR.split("/")[0], "cache", ".git")}
    stamp = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.join(d, x) not in skip]
        for f in files:
            try:
                st = os.stat(os.path.join(d, f))
            except OSError:
                continue
            stamp.append((d, f, st.st_size, st.st_mtime_ns))
    return tuple(sorted(stamp))
