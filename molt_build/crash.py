"""The one exit for what no user input explains.

Every command leaves through `handle`: a user error prints its message and exits with
its code; an OS error saying the machine cannot take what moltb writes (disk full,
unwritable cache or moltb-out) exits 36 with one line; anything else is a bug and
exits 37 (Bazel's internal error) with one line on stderr and the traceback in the
event log, as an `internal_error` event. A command that has no event log of its own
(`validate`, `query`, a crash before the build's log exists) gets one written for the
crash, under the workspace's `logs/moltb/` when there is a workspace, else in the
temporary directory.
"""
from __future__ import annotations

import os
import sys
import tempfile
import traceback

from molt_build.errors import EXIT_INTERNAL, InternalError, MoltbError, environment_problem


def one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InternalError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def report(exc: BaseException, err=None, events=None, start: str | None = None, command: str = "") -> int:
    """Record a crash: the traceback goes to `events` (or a log written for it), one
    line goes to `err`. Returns the exit code (37)."""
    err = err or sys.stderr
    text = "".join(traceback.format_exception(exc))
    fields = dict(command=command, type=type(exc).__name__, message=one_line(_describe(exc)), traceback=text)
    where = None
    if events is not None:
        try:
            events.emit("internal_error", **fields)
            where = events.path
        except (OSError, ValueError):
            pass
    if where is None:
        where = _crash_log(start or os.getcwd(), fields)
    saved = f"the traceback is in the event log {where}" if where else "the traceback could not be saved"
    err.write(f"ERROR: moltb crashed: {one_line(_describe(exc))} (internal error; {saved})\n")
    return EXIT_INTERNAL


def _crash_log(start: str, fields: dict) -> str | None:
    """An event log holding the crash: in the workspace when one is found, else in the
    temporary directory. Ends with `build_finished`, as every event log does."""
    from molt_build.events import EventLog
    roots = []
    try:
        from molt_build.workspace import find_root
        roots.append(find_root(start)[0])
    except Exception:       # no workspace, or one that does not load: the temp dir then
        pass
    roots.append(os.path.join(tempfile.gettempdir(), f"moltb-crash-{os.getuid()}"))
    for root in roots:
        try:
            log = EventLog(root)
            log.emit("internal_error", **fields)
            log.emit("build_finished", command=fields["command"], exit_code=EXIT_INTERNAL)
            log.close()
            return log.path
        except OSError:
            continue
    return None


def handle(exc: BaseException, err=None, events=None, start: str | None = None, command: str = "") -> int:
    """The exit code for an exception that reached the top of a command, after saying
    what it was (see the module docstring)."""
    err = err or sys.stderr
    if isinstance(exc, InternalError):
        return report(exc, err, events, start, command)
    env = environment_problem(exc)
    if env is not None:
        exc = env
    if isinstance(exc, MoltbError):
        err.write(f"ERROR: {exc}\n")
        return exc.exit_code
    return report(exc, err, events, start, command)
