"""How two runs of a differential case are compared, mode by mode (Molt's
tools/compat/comparison.py): stdout `exact` (default), `relaxed` (memory addresses and
reference counts normalised) or `pyperformance` (numbers normalised, per line);
stderr `ignore` (default), `exact`/`match` (byte for byte) or `exception` /
`exception_signature` / `traceback` (the last `Type: message` line of each side; when
either side has none, byte for byte). Exit codes always compare exactly."""
from __future__ import annotations

import re

_ADDR_AT = re.compile(r"(at|id=)\s*0x[0-9a-fA-F]+")
_ADDR = re.compile(r"\b0x[0-9a-fA-F]+\b")
_REFCOUNT = re.compile(r"refcount\s*=\s*\d+", re.I)
_NUMBER = re.compile(r"(?<![A-Za-z0-9_])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z0-9_])")
_SPACES = re.compile(r"\s+")
_EXCEPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(: .*)?$")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def relaxed(data: bytes) -> str:
    text = _ADDR_AT.sub(r"\1 0xADDR", _text(data))
    text = _ADDR.sub("0xADDR", text)
    return _REFCOUNT.sub("refcount=<N>", text)


def pyperformance(data: bytes) -> str:
    lines = (line.strip() for line in _text(data).splitlines())
    return "\n".join(_SPACES.sub(" ", _NUMBER.sub("<num>", line)) for line in lines if line)


STDOUT_MODES = {"exact": lambda data: data, "relaxed": relaxed, "pyperformance": pyperformance}
STDERR_MODES = ("ignore", "exact", "match", "exception", "exception_signature", "traceback")


def exception_line(data: bytes) -> str | None:
    """The last line that looks like `Type: message` (or a bare `Type`)."""
    for line in reversed(_text(data).splitlines()):
        if _EXCEPTION.match(line):
            return line
    return None


def same_stdout(mode: str, a: bytes, b: bytes) -> bool:
    norm = STDOUT_MODES[mode]
    return norm(a) == norm(b)


def same_stderr(mode: str, a: bytes, b: bytes) -> bool:
    if mode == "ignore":
        return True
    if mode in ("exact", "match"):
        return a == b
    ea, eb = exception_line(a), exception_line(b)
    if ea is None or eb is None:
        return a == b
    return ea == eb
