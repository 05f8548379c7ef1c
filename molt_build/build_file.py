"""Reading one BUILD.toml safely: whatever is on disk gives a table or one
`BuildFileError` naming the file, never a hang, a traceback or a memory blow-up.

A BUILD.toml must be a regular file (not a FIFO, a device or a directory) of at most
`MAX_BYTES`, in UTF-8 without a byte-order mark. Its values may nest at most
`MAX_DEPTH` levels, integers are 64-bit (as TOML says) and no string or key holds a
NUL byte (no file name, argument or environment variable can carry one). These checks
apply to every table, so rules never see such values.
"""
from __future__ import annotations

import codecs
import os
import stat
import tomllib

from molt_build.errors import BuildFileError

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1
_READ_CHUNK = 1 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _not_regular(mode: int, display: str) -> BuildFileError:
    return BuildFileError(f"is not a regular file (it is {_kind(mode)})", file=display,
                          hint="a BUILD.toml must be a plain UTF-8 text file")


def _too_large(size: str, display: str) -> BuildFileError:
    return BuildFileError(f"is too large ({size}; the limit is {MAX_BYTES // (1024 * 1024)} MiB)", file=display,
                          hint="split the package, or generate fewer targets per file")


def read_bytes(path: str, display: str) -> bytes:
    """The file's bytes, if it is a regular file within the size limit. The file is
    opened without blocking and checked again once open, so a FIFO or device put in
    its place meanwhile cannot hang or flood the reader."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise BuildFileError(f"cannot read: {e.strerror}", file=display) from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(st.st_mode, display)
    if st.st_size > MAX_BYTES:
        raise _too_large(f"{st.st_size} bytes", display)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise BuildFileError(f"cannot read: {e.strerror}", file=display) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(st.st_mode, display)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(_READ_CHUNK, MAX_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_BYTES:       # it grew while being read
                raise _too_large(f"more than {MAX_BYTES} bytes", display)
    except OSError as e:
        raise BuildFileError(f"cannot read: {e.strerror}", file=display) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode(data: bytes, display: str) -> str:
    """UTF-8 text; an error names the line and column of the first bad byte."""
    if data.startswith(codecs.BOM_UTF8):
        raise BuildFileError("starts with a byte-order mark (BOM)", file=display,
                             hint="save the file as UTF-8 without a BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _position(data, e.start)
        raise BuildFileError(f"is not valid UTF-8 (byte 0x{data[e.start]:02x} at line {line}, column {column})",
                             file=display, hint="save the file as UTF-8") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _position(data, nul)
        raise BuildFileError(f"holds a NUL byte at line {line}, column {column}", file=display,
                             hint="a BUILD.toml is UTF-8 text: is this file UTF-16, or binary?")
    return text


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """(line, column) of a byte offset, both from 1."""
    return data.count(b"\n", 0, offset) + 1, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def parse(text: str, display: str) -> dict:
    """The TOML document, checked (see `check`); a syntax error names line and column."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BuildFileError(f"TOML syntax error: {e}", file=display,
                             hint="see https://toml.io for the syntax") from None
    except RecursionError:      # the parser recurses once per level of nesting
        raise _too_deep(display, None, None) from None
    except ValueError:          # int() refuses thousands of digits
        raise BuildFileError("a number has too many digits (TOML integers are 64-bit)", file=display) from None
    check(data, display)
    return data


def read_text(path: str, display: str) -> str:
    """A file loading reads besides BUILD files (e.g. a TESTS.txt), with their checks:
    a regular UTF-8 file under the size limit."""
    return decode(read_bytes(path, display), display)


def read_build_file(path: str, display: str) -> dict:
    """Read, decode, parse and check one BUILD.toml (`display`: its name in messages)."""
    return parse(decode(read_bytes(path, display), display), display)


def _too_deep(display: str, target: str | None, field: str | None) -> BuildFileError:
    return BuildFileError(f"values are nested more than {MAX_DEPTH} levels deep", file=display, target=target,
                          field=field, hint="arrays, inline tables and dotted keys nest; flatten the value")


def check(data: dict, display: str) -> None:
    """Depth, integer range and NUL bytes, for every value and key of the document.
    Iterative: the document may be as deep as the parser allowed."""
    stack: list[tuple[object, int, str | None, str | None]] = [(data, 0, None, None)]
    while stack:
        value, depth, target, field = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise BuildFileError("contains a NUL byte (\\u0000), which no file name, argument or "
                                     "environment variable can hold", file=display, target=target, field=field)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT_MIN <= value <= INT_MAX:
                raise BuildFileError("integer out of range (TOML integers are 64-bit)", file=display,
                                     target=target, field=field)
        elif isinstance(value, (list, dict)):
            if depth >= MAX_DEPTH:
                raise _too_deep(display, target, field)
            if isinstance(value, dict):
                for k, v in value.items():
                    t, f = (k, None) if depth == 0 else (target, k) if depth == 1 else (target, field)
                    if "\x00" in k:
                        raise BuildFileError("a key contains a NUL byte (\\u0000)", file=display,
                                             target=target if depth else None, field=field)
                    stack.append((v, depth + 1, t, f))
            else:
                stack.extend((v, depth + 1, target, field) for v in value)
