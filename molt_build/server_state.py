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
CHECKS = {"stat": 0}                         # paths stat'ed to validate snapshots (the event log says how many)


class Hint:
    """The paths of one snapshot that may have changed since it was last valid."""

    def __init__(self, candidates: set[str], watched):
        self.candidates = candidates
        self.watched = watched

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
        return Hint({p for p, g in w.changed.items() if g > since}, w.watched)

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
