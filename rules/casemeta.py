"""The header lines of a differential case, in Molt's grammar (tests/molt_diff.py):

    # MOLT_META: expect_fail=molt expect_fail_reason=no-frames wasm=no
    # MOLT_ENV: MOLT_CAPABILITIES=fs,env PYTHONPATH=lib

Header lines may stand anywhere in the file (`//` comments in C cases). Tokens are split
on whitespace; a token without `=` is ignored; a MOLT_META value is a comma-separated
list (empty items dropped) and the same key on several lines accumulates; a MOLT_ENV
value is one string (the last one wins).

Keys: `expect_fail` (lanes expected to fail; `molt` also names `molt-native` and
`molt-wasm`) with `expect_fail_reason`, `wasm=no|only`, `platforms` (linux, macos,
freebsd, posix, windows), `min_py`, `max_py`, `stdout`, `stderr`, `stdlib_profile`
(micro|full, one value); and moltb's own `skip` (a reason) and `xfail` (every lane).
A malformed header is a per-case error (`CaseMeta.errors`), never a crash."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from molt_build.rules.comparison import STDERR_MODES, STDOUT_MODES

HEADER = re.compile(r"^[ \t]*(?:#|//)[ \t]*MOLT_(META|ENV)[ \t]*:(.*)$", re.M)
VERSION = re.compile(r"\d+\.\d+")
SINGLE = ("wasm", "min_py", "max_py", "stdout", "stderr", "stdlib_profile")
PLATFORMS = ("linux", "macos", "freebsd", "posix", "windows")


@dataclass
class CaseMeta:
    meta: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def one(self, key: str, default: str = "") -> str:
        values = self.meta.get(key)
        return values[-1] if values else default

    @property
    def expect_fail(self) -> list[str]:
        return self.meta.get("expect_fail", [])

    @property
    def reason(self) -> str:
        return " ".join(self.meta.get("expect_fail_reason", [])) or "expected to fail"

    def expects_failure_of(self, lane: str) -> bool:
        return any(lane == name or lane.startswith(name + "-") for name in self.expect_fail)

    def stdout_mode(self, default: str = "exact") -> str:
        return self.one("stdout", default)

    def stderr_mode(self, default: str) -> str:
        return self.one("stderr", default)

    def py_range(self) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
        def ver(key: str):
            text = self.one(key)
            return tuple(int(x) for x in text.split(".")) if text else None
        return ver("min_py"), ver("max_py")

    def platform_skip(self, platform: str = sys.platform) -> str:
        """Why this host is not one of `platforms` ('' when it is, or none are named)."""
        wanted = self.meta.get("platforms")
        if not wanted:
            return ""
        here = host_platforms(platform)
        return "" if set(here) & set(wanted) else f"platforms={','.join(wanted)} excludes {here[0]}"


def host_platforms(platform: str) -> tuple[str, ...]:
    """The `platforms` names a host answers to."""
    if platform.startswith("linux"):
        return ("linux", "posix")
    if platform == "darwin":
        return ("macos", "posix")
    if platform.startswith("freebsd"):
        return ("freebsd", "posix")
    if platform in ("win32", "cygwin"):
        return ("windows",)
    return ("posix",)


def parse(text: str) -> CaseMeta:
    cm = CaseMeta()
    for kind, rest in HEADER.findall(text):
        for token in rest.split():
            key, eq, value = token.partition("=")
            if not eq or not key:
                continue
            if kind == "ENV":
                cm.env[key] = value
            else:
                cm.meta.setdefault(key.lower(), []).extend(v for v in value.split(",") if v)
    _check(cm)
    return cm


def _check(cm: CaseMeta) -> None:
    def bad(text: str) -> None:
        cm.errors.append(f"malformed MOLT_META: {text}")
    for key in SINGLE:
        values = cm.meta.get(key, [])
        if len(set(values)) > 1:
            bad(f"{key} takes one value, got {','.join(values)}")
    if cm.one("wasm") not in ("", "no", "only"):
        bad(f"wasm={cm.one('wasm')} (use no or only)")
    if cm.one("stdlib_profile") not in ("", "micro", "full"):
        bad(f"stdlib_profile={cm.one('stdlib_profile')} (use micro or full)")
    if cm.one("stdout") and cm.one("stdout") not in STDOUT_MODES:
        bad(f"stdout={cm.one('stdout')} (one of {', '.join(STDOUT_MODES)})")
    if cm.one("stderr") and cm.one("stderr") not in STDERR_MODES:
        bad(f"stderr={cm.one('stderr')} (one of {', '.join(STDERR_MODES)})")
    for key in ("min_py", "max_py"):
        if cm.one(key) and not VERSION.fullmatch(cm.one(key)):
            bad(f"{key}={cm.one(key)} (a version such as 3.12)")
    unknown = [p for p in cm.meta.get("platforms", []) if p not in PLATFORMS]
    if unknown:
        bad(f"platforms={','.join(unknown)} (known: {', '.join(PLATFORMS)})")
    if "expect_fail" in cm.meta and not cm.expect_fail:
        bad("expect_fail names no lane")
