"""The typed hierarchy of user-facing errors.

Every error a user can cause is one of these: it carries the documented exit code and
enough context (file, target, field) to say what is wrong and how to fix it. Anything
else that escapes is an internal error and is reported as such.
"""
from __future__ import annotations

import errno

# Exit codes, as in Bazel and the SPEC.
EXIT_OK = 0
EXIT_BUILD_FAILED = 1
EXIT_USAGE = 2
EXIT_TESTS_FAILED = 3
EXIT_NO_TESTS = 4
EXIT_INTERRUPTED = 8
EXIT_ENVIRONMENT = 36
EXIT_INTERNAL = 37

# OS errors that say the machine cannot take what moltb writes (disk or quota full, a
# read-only or unwritable cache, moltb-out or logs, a file where a directory must be,
# no file descriptors left): a local environment problem, not a bug.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                                errno.ENOTDIR, errno.EMFILE, errno.ENFILE})


def printable(text: str, limit: int | None = None) -> str:
    """`text` with control characters escaped (a name from a BUILD file may hold any),
    cut to about `limit` characters."""
    if limit is not None and len(text) > limit:
        text = f"{text[:limit - 20]}...({len(text)} characters)"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


class MoltbError(Exception):
    """Base of all user-facing errors: a message plus where it came from."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, file: str | None = None, target: str | None = None,
                 field: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.target = target
        self.field = field
        self.hint = hint

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(printable(self.file))
        if self.target:
            parts.append(f"target '{printable(self.target, 100)}'")
        if self.field:
            parts.append(f"field '{printable(self.field, 100)}'")
        return ": ".join(parts)

    def __str__(self) -> str:
        # One line per error (and one for the hint), whatever the BUILD file held:
        # control characters in names and messages are shown escaped.
        where, message = self.where(), printable(self.message)
        text = f"{where}: {message}" if where else message
        if self.hint:
            text += f"\n  hint: {printable(self.hint)}"
        return text

    def as_dict(self) -> dict:
        return {"kind": type(self).__name__, "message": self.message, "file": self.file,
                "target": self.target, "field": self.field, "hint": self.hint}


class UsageError(MoltbError):
    """A bad command line: unknown pattern syntax, unknown toolchain name, bad flag value."""


class BuildFileError(MoltbError):
    """A BUILD.toml that cannot be loaded: syntax, unknown rule, bad attribute, missing source."""


class LabelError(BuildFileError):
    """A label or pattern that is malformed or names nothing."""


class CycleError(BuildFileError):
    """A dependency cycle between targets."""


class AnalysisError(MoltbError):
    """A rule rejected its target during analysis (bad combination, path escaping, ...)."""


class ToolchainUnavailable(MoltbError):
    """A toolchain that cannot be used here: names what is missing and how to install it."""


class EnvironmentProblem(MoltbError):
    """The machine, not the user: disk full, unwritable cache, missing system facility."""

    exit_code = EXIT_ENVIRONMENT


def environment_problem(err: BaseException) -> "EnvironmentProblem | None":
    """The EnvironmentProblem an OSError stands for, or None when it is not one."""
    if not isinstance(err, OSError) or err.errno not in ENVIRONMENT_ERRNOS:
        return None
    what = f"{err.strerror}: {err.filename}" if err.filename else (err.strerror or str(err))
    return EnvironmentProblem(f"local environment problem: {what} (the cache, moltb-out/ and logs/ must be "
                              "writable directories on a disk with free space)")


class InternalError(MoltbError):
    """A bug: an exception no user input explains, in moltb or in a rule or toolchain
    plugin. One line on stderr, the traceback in the event log (see crash.py)."""

    exit_code = EXIT_INTERNAL


class Interrupted(MoltbError):
    """The user pressed Ctrl-C (or the process got SIGTERM)."""

    exit_code = EXIT_INTERRUPTED

