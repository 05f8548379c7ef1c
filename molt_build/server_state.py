"""What a command run by the workspace server knows from it (import-light: the no-op
path reads it).

The server forks one process per command. That process inherits the server's memory:
the watcher's record of changed paths (frozen at the fork) and, per build snapshot,
the generation at which it was last known to match the files. `hint()` turns these
into the set of paths worth a stat; everything else is known not to have moved.
"""
from __future__ import annotations

import os

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
CURRENT: "RequestContext | None" = None     # set in a command process forked by the server
CHECKS = {"stat": 0}
_AFTER_REPLY: list = []                         # paths stat'ed to validate snapshots (the event log says how many)


INDEX: dict[str, tuple] = {}   # snapshot path -> (identity, watch's symlink version, its files by path, always stat'ed)
NOOP_LINES: dict[str, tuple] = {}   # snapshot path -> (identity, its no-op's event log lines)


class Hint:
    """The paths of one snapshot that may have changed since it was last valid."""

    def __init__(self, candidates: set[str], watched, index: tuple | None = None):
        self.candidates = candidates
        self.watched = watched
        self.index = index          # (files by path, entries to stat every time), when the server made one

    def files_to_stat(self, files: list) -> list:
        """The snapshot's (path, identity) entries worth a stat: reported by the watch,
        outside it, or recorded as untrusted (`DIRTY`, negative)."""
        if self.index is not None:
            by_path, always = self.index
            return [(rel, by_path[rel]) for rel in self.candidates if rel in by_path] + always
        needs = self.needs_stat
        return [(rel, ident) for rel, ident in files if ident[0] < 0 or needs(rel)]

    def needs_stat(self, rel: str) -> bool:
        if rel in self.candidates:
            return True
        if rel.startswith(_PACKAGE):    # moltb's own modules: the server's identity covers them
            return False
        return not self.watched(rel)


class RequestContext:
    def __init__(self, pid: int, request: int, gen: int | None, watcher, validated: dict, report_fd: int | None):
        self.pid = pid
        self.request = request
        self.gen = gen                  # watcher generation synced before the fork (None: no watch)
        self.watcher = watcher
        self.validated = validated      # snapshot path -> (its stat identity, generation it matched at)
        self.report_fd = report_fd

    def hint(self, snapshot_path: str, ident: tuple) -> Hint | None:
        """None: stat everything (no watch, a snapshot this server has not seen valid,
        or events lost since)."""
        w = self.watcher
        known = self.validated.get(snapshot_path)
        if w is None or self.gen is None or known is None or known[0] != ident or w.lost_gen > known[1]:
            return None
        since = known[1]
        index = INDEX.get(snapshot_path)
        index = index[2:] if index is not None and index[0] == ident and index[1] == w.symlink_version else None
        return Hint(w.changed_after(since), w.watched, index)

    def report_valid(self, snapshot_path: str, ident: tuple) -> None:
        """This snapshot matched the files as of this command's generation."""
        if self.gen is None:
            return
        if self.report_fd is None:      # the watcher lives in this process (--watch)
            self.validated[snapshot_path] = (tuple(ident), self.gen)
            return
        line = "\t".join((snapshot_path, *map(str, ident))) + "\n"
        try:
            os.write(self.report_fd, line.encode())
        except OSError:
            pass

    def fields(self) -> dict:
        if not self.pid:                # a --watch loop in a process of its own
            return {"watching": self.gen is not None}
        return {"server": {"pid": self.pid, "request": self.request, "watch": self.gen is not None}}


def index_snapshot(snapshot_path: str, ident: tuple, snap: dict, watcher) -> None:
    """Made by the server for a snapshot it holds: the command processes it forks look
    up changed paths instead of filtering every path of the snapshot."""
    from molt_build.noop import noop_log_lines
    hint = Hint(set(), watcher.watched)
    always = hint.files_to_stat(snap["files"])
    INDEX[snapshot_path] = (ident, watcher.symlink_version, dict(snap["files"]), always)
    # One string: a forked process that walked thousands of small ones would copy the
    # pages their reference counts live on.
    NOOP_LINES[snapshot_path] = (ident, noop_log_lines(snap))


def hold_build(root: str, sig: str, watcher, limit: int = 16) -> None:
    """Keep a request's snapshot, its decoded graph, what an edit build of it needs and
    its index in memory (the server, for the commands it forks; a --watch loop, for its
    next round)."""
    from molt_build import analysis_cache, noop
    noop.remember(root, sig, limit=limit, kinds=("noop",))
    path = noop.snapshot_file(root, "noop", sig)
    held = noop._MEMO.get(path)
    analysis_cache.hold(noop.snapshot_file(root, "graph", sig), held[1].get("lines") if held else None)
    known = INDEX.get(path)
    if held is not None and watcher is not None and \
            (known is None or known[:2] != (held[0], watcher.symlink_version)):
        index_snapshot(path, held[0], held[1], watcher)
    for p in list(INDEX):
        if p not in noop._MEMO:
            del INDEX[p]
            NOOP_LINES.pop(p, None)
    for p in list(analysis_cache.HELD):
        d, name = os.path.split(p)
        if os.path.join(d, "noop-" + name[len("graph-"):]) not in noop._MEMO:
            del analysis_cache.HELD[p]


def noop_lines(snapshot_path: str, ident: tuple) -> str | None:
    held = NOOP_LINES.get(snapshot_path)
    return held[1] if held is not None and held[0] == ident else None


def after_reply(fn) -> None:
    """Bookkeeping for the next build (snapshots, the digest cache): in a command run by
    the server it runs after the exit code went to the client (a server killed
    meanwhile loses only the shortcut: the files are replaced whole or not at all);
    elsewhere at once."""
    if CURRENT is not None and CURRENT.report_fd is not None:
        _AFTER_REPLY.append(fn)
    else:
        fn()


def run_after_reply() -> None:
    while _AFTER_REPLY:
        try:
            _AFTER_REPLY.pop(0)()
        except Exception:        # noqa: BLE001 - the command has answered; the shortcut is lost
            pass


def event_fields() -> dict:
    """For `build_started`: which server ran the command, how many paths were stat'ed."""
    fields = {"files_checked": CHECKS["stat"]}
    if CURRENT is not None:
        fields.update(CURRENT.fields())
    return fields


def hint(snapshot_path: str, ident: tuple) -> Hint | None:
    return CURRENT.hint(snapshot_path, ident) if CURRENT is not None else None


def report_valid(snapshot_path: str, ident: tuple) -> None:
    if CURRENT is not None:
        CURRENT.report_valid(snapshot_path, ident)
