"""Exec roots: a fresh directory per action holding only its declared inputs.

Source inputs are symlinks to the workspace, generated inputs are hard links to their
CAS blobs (copies across file systems). The action's cwd is the exec root, laid out
like the workspace (`pkg/a.c`, `moltb-out/<config>/pkg/...`), so an undeclared file
is simply not there. Outputs are collected from their declared paths only.
"""
from __future__ import annotations

import errno
import itertools
import os
import shutil

_seq = itertools.count()


class Sandbox:
    def __init__(self, base: str):
        self.root = os.path.join(base, f"{os.getpid()}-{next(_seq)}")
        self.exec_root = os.path.join(self.root, "x")
        self.tmp = os.path.join(self.root, "tmp")
        self.stdout = os.path.join(self.root, "stdout")
        self.stderr = os.path.join(self.root, "stderr")
        self._dirs: set[str] = set()
        os.makedirs(self.exec_root)
        os.mkdir(self.tmp)

    def _parent(self, rel: str) -> str:
        dst = os.path.join(self.exec_root, rel)
        d = os.path.dirname(dst)
        if d not in self._dirs:
            os.makedirs(d, exist_ok=True)
            self._dirs.add(d)
        return dst

    def link_source(self, rel: str, abspath: str) -> None:
        os.symlink(abspath, self._parent(rel))

    def link_blob(self, rel: str, blob: str) -> None:
        dst = self._parent(rel)
        try:
            os.link(blob, dst)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                raise
            shutil.copy2(blob, dst)

    def prepare_output(self, rel: str) -> str:
        return self._parent(rel)

    def output_path(self, rel: str) -> str:
        return os.path.join(self.exec_root, rel)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def clean_stale(base: str) -> None:
    """Remove exec roots left by processes that no longer exist (e.g. after kill -9)."""
    try:
        names = os.listdir(base)
    except OSError:
        return
    for n in names:
        pid = n.split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            shutil.rmtree(os.path.join(base, n), ignore_errors=True)
        except PermissionError:
            continue
