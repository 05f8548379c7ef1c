"""Labels (`//pkg/path:name`) and target patterns (`//pkg/...`, `//pkg:all`, `//...`).

Parsing is strict and cheap: labels are the keys of every map in the build graph, so a
malformed one is rejected where it is written, with the text that was wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from molt_build.errors import LabelError

_PKG_SEGMENT = re.compile(r"[A-Za-z0-9_\-.+@]+")
_NAME = re.compile(r"[A-Za-z0-9_\-.+=,@~/]+")
ALL_TARGETS = ("all", "*", "all-targets")
NAME_MAX = 255        # the longest file name most file systems take


@dataclass(frozen=True, order=True, slots=True)
class Label:
    """A target's identity: package path (no leading //, '' for the root) and name."""

    pkg: str
    name: str

    def __str__(self) -> str:
        return f"//{self.pkg}:{self.name}"


def _check_pkg(pkg: str, text: str) -> str:
    if pkg == "":
        return pkg
    if pkg.startswith("/") or pkg.endswith("/"):
        raise LabelError(f"invalid label '{_short(text)}': package path must not start or end with '/'")
    for seg in pkg.split("/"):
        if seg in ("", ".", "..") or not _PKG_SEGMENT.fullmatch(seg):
            raise LabelError(f"invalid label '{_short(text)}': bad package path segment '{_short(seg)}'")
    return pkg


def _check_name(name: str, text: str) -> str:
    if not name or not _NAME.fullmatch(name) or name.startswith("/") or name.endswith("/") \
            or any(seg in ("", ".", "..") for seg in name.split("/")):
        raise LabelError(f"invalid label '{_short(text)}': bad target name '{_short(name)}'")
    if any(len(seg) > NAME_MAX for seg in name.split("/")):    # names become file names
        raise LabelError(f"invalid label '{_short(text)}': a part of the name is longer than {NAME_MAX} "
                         f"characters")
    return name


def _short(text: str) -> str:
    """`text` for a one-line message: control characters escaped, long text cut."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:80])
    return shown if len(text) <= 80 else shown[:60] + f"...({len(text)} characters)"


def parse_label(text: str, current_pkg: str = "") -> Label:
    """Parse an absolute (`//a/b:c`, `//a/b`) or package-relative (`:c`, `c`) label."""
    if not isinstance(text, str) or not text:
        raise LabelError(f"invalid label {_short(repr(text))}: empty")
    if text.startswith("//"):
        body = text[2:]
        if ":" in body:
            pkg, name = body.split(":", 1)
        else:
            if not body:
                raise LabelError(f"invalid label '{_short(text)}': no package or name")
            pkg, name = body, body.rsplit("/", 1)[-1]
        return Label(_check_pkg(pkg, text), _check_name(name, text))
    if text.startswith(":"):
        return Label(current_pkg, _check_name(text[1:], text))
    if ":" in text or text.startswith("/"):
        raise LabelError(f"invalid label '{_short(text)}': labels start with '//' or ':'")
    return Label(current_pkg, _check_name(text, text))


@dataclass(frozen=True, slots=True)
class Pattern:
    """A target pattern: one label, every target of a package, or a whole subtree."""

    pkg: str
    name: str | None = None      # None with recursive=False means "all targets in pkg"
    recursive: bool = False

    def __str__(self) -> str:
        if self.recursive:
            return f"//{self.pkg + '/' if self.pkg else ''}..."
        return f"//{self.pkg}:{self.name or 'all'}"

    def package_matches(self, pkg: str) -> bool:
        if self.recursive:
            return not self.pkg or pkg == self.pkg or pkg.startswith(self.pkg + "/")
        return pkg == self.pkg


def parse_pattern(text: str, cwd_pkg: str = "") -> Pattern:
    """Parse a command-line target pattern; relative patterns resolve against `cwd_pkg`."""
    if not text:
        raise LabelError("empty target pattern")
    if text.startswith("//"):
        absolute = text
    elif text.startswith(":"):
        absolute = f"//{cwd_pkg}{text}"
    else:
        absolute = f"//{cwd_pkg}/{text}" if cwd_pkg else f"//{text}"
    body = absolute[2:]
    if body == "..." or body.endswith("/...") or body.endswith("/...:all") or body == "...:all":
        # Drop exactly the '/...' suffix: stripping every trailing '/' would let
        # '//a//...' or '///...' through as if they were '//a/...' and '//...'.
        head = body.split(":", 1)[0]
        pkg = "" if head == "..." else head[:-4]
        if head != "..." and not pkg:
            raise LabelError(f"invalid target pattern '{text}': empty package path")
        return Pattern(_check_pkg(pkg, text), None, True)
    if ":" in body:
        pkg, name = body.split(":", 1)
        _check_pkg(pkg, text)
        if name in ALL_TARGETS:
            return Pattern(pkg, None, False)
        return Pattern(pkg, _check_name(name, text), False)
    label = parse_label(absolute)
    return Pattern(label.pkg, label.name, False)
