"""The package tree: which directories are packages, and what globs see.

Every directory holding an entry named BUILD.toml is a package, whatever that entry
is (a FIFO or a directory by that name is a broken package, reported when it loads,
never silently skipped). A source path, a glob or a declared output never reaches into
a subpackage, `moltb-out/`, `logs/`, the cache or an `ignore`d directory. Every
directory whose listing an answer depended on is recorded (`dir_mtimes`), so a build
snapshot knows when the answer may have changed.
"""
from __future__ import annotations

import difflib
import glob as globlib
import os

from molt_build.layout import BUILD_FILE, OUT_DIR
from molt_build.workspace import Workspace


class PackageTree:
    """Packages and source files of one workspace, as the file system has them."""

    def __init__(self, ws: Workspace):
        self.root = ws.root
        self.dir_mtimes: dict[str, int] = {}     # directories whose listing the result depends on
        self._pkg_exists: dict[str, bool] = {}
        cache = os.path.abspath(ws.cache_dir)
        self.skip_abs = {cache, os.path.join(ws.root, OUT_DIR), os.path.join(ws.root, "logs")}
        self.skip_abs |= {os.path.normpath(os.path.join(ws.root, d)) for d in ws.config.ignore}

    def abs(self, pkg: str) -> str:
        return os.path.join(self.root, pkg) if pkg else self.root

    def package_exists(self, pkg: str) -> bool:
        hit = self._pkg_exists.get(pkg)
        if hit is None:
            # lexists: a dangling symlink or a loop named BUILD.toml is a (broken) package.
            hit = self._pkg_exists[pkg] = os.path.lexists(os.path.join(self.abs(pkg), BUILD_FILE))
        return hit

    def note_dir(self, path: str) -> None:
        try:
            self.dir_mtimes[os.path.relpath(path, self.root)] = os.stat(path).st_mtime_ns
        except OSError:
            pass

    def discover(self, prefix: str = "") -> list[str]:
        """Every package at or below `prefix` (a root-relative directory)."""
        found = []
        stack = [self.abs(prefix)]
        while stack:
            d = stack.pop()
            self.note_dir(d)
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                if e.name == BUILD_FILE:
                    rel = os.path.relpath(d, self.root)
                    pkg = "" if rel == "." else rel.replace(os.sep, "/")
                    found.append(pkg)
                    self._pkg_exists[pkg] = True
                elif e.is_dir(follow_symlinks=False):
                    if e.name.startswith(".") or e.name == "__pycache__" or e.path in self.skip_abs:
                        continue
                    stack.append(e.path)
        return sorted(found)

    def subpackage_of(self, pkg: str, rel: str, include_self: bool = False) -> str | None:
        """The subpackage holding package-relative path `rel` (or, with `include_self`,
        being `rel` itself), if any: a source path, a glob or an output never reaches
        into another package (as in Bazel)."""
        parts = rel.split("/")
        if not include_self:
            parts = parts[:-1]
        self.note_dir(self.abs(pkg))
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            sub = f"{pkg}/{d}" if pkg else d
            self.note_dir(os.path.join(self.abs(pkg), *parts[:i]))
            if self.package_exists(sub):
                return sub
        return None

    def glob(self, pkg: str, pattern: str) -> list[str]:
        """Files of `pkg` matching `pattern`, root-relative and sorted."""
        base = self.abs(pkg)
        # Record every directory the glob may look at, and find subpackage boundaries.
        subpkgs = []
        # The output tree, logs, cache and `ignore`d directories are not sources, even
        # when they sit inside the package (the root package, typically).
        for skip in self.skip_abs:
            if skip.startswith(base + os.sep):
                subpkgs.append(os.path.relpath(skip, base) + os.sep)
        for d, dirs, files in os.walk(base):
            self.note_dir(d)
            if d != base and (BUILD_FILE in files or BUILD_FILE in dirs):
                subpkgs.append(os.path.relpath(d, base) + os.sep)
                dirs[:] = []
                continue
            dirs[:] = [x for x in dirs if not x.startswith(".") and os.path.join(d, x) not in self.skip_abs]
        hits = []
        for rel in globlib.glob(pattern, root_dir=base, recursive=True):
            if any(rel.startswith(s) for s in subpkgs) or rel == BUILD_FILE:
                continue
            if os.path.isfile(os.path.join(base, rel)):
                hits.append(f"{pkg}/{rel}" if pkg else rel)
        return sorted(hits)

    def suggest_package(self, pkg: str) -> str | None:
        parent = os.path.dirname(pkg)
        try:
            names = [n for n in os.listdir(self.abs(parent))
                     if os.path.isfile(os.path.join(self.abs(parent), n, BUILD_FILE))]
        except OSError:
            return None
        close = difflib.get_close_matches(os.path.basename(pkg), names, n=1)
        return f"did you mean '//{os.path.join(parent, close[0])}'?" if close else None
