"""The content-addressed store: files named by their XXH3-128 digest.

Writes are atomic (a complete file renamed into place), so a killed process never
leaves a partial entry; an existing entry is never overwritten. Reads that matter
verify the digest: a corrupt blob is reported and treated as a miss.
"""
from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

from molt_build.digests import hash_file

READ_ONLY = 0o444
EXECUTABLE = 0o555


class CAS:
    def __init__(self, cache_dir: str):
        self.root = os.path.join(cache_dir, "cas")
        self.tmp = os.path.join(cache_dir, "tmp")
        os.makedirs(self.tmp, exist_ok=True)
        self._made: set[str] = set()

    def path(self, digest: str, executable: bool = False) -> str:
        return os.path.join(self.root, digest[:2], digest + (".x" if executable else ""))

    def has(self, digest: str, executable: bool = False) -> bool:
        return os.path.exists(self.path(digest, executable))

    def _dir_for(self, dst: str) -> None:
        d = os.path.dirname(dst)
        if d not in self._made:
            os.makedirs(d, exist_ok=True)
            self._made.add(d)

    def _tmpname(self, digest: str) -> str:
        """A temporary name no other thread or process uses (several may store one blob)."""
        fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix=digest[:16] + ".")
        os.close(fd)
        return tmp

    def put_file(self, src: str, digest: str, executable: bool, move: bool = True) -> str:
        """Store `src` (whose digest is known) under its digest; `move` consumes src."""
        dst = self.path(digest, executable)
        if os.path.exists(dst):
            if move:
                os.unlink(src)
            return dst
        self._dir_for(dst)
        mode = EXECUTABLE if executable else READ_ONLY
        if move:
            os.chmod(src, mode)
            try:
                os.rename(src, dst)  # atomic; a concurrent writer of the same digest is harmless
                return dst
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
        tmp = self._tmpname(digest)
        shutil.copyfile(src, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, dst)
        if move:
            os.unlink(src)
        return dst

    def put_bytes(self, data: bytes, digest: str) -> str:
        dst = self.path(digest)
        if os.path.exists(dst):
            return dst
        self._dir_for(dst)
        tmp = self._tmpname(digest)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, READ_ONLY)
        os.replace(tmp, dst)
        return dst

    def read_bytes(self, digest: str) -> bytes | None:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except OSError:
            return None

    def verify(self, digest: str, executable: bool = False) -> bool:
        """True when the blob exists and its content has the digest; a corrupt blob is removed."""
        p = self.path(digest, executable)
        try:
            ok = hash_file(p) == digest
        except OSError:
            return False
        if not ok:
            try:
                os.unlink(p)
            except OSError:
                pass
        return ok

    def materialize(self, digest: str, executable: bool, dest: str) -> None:
        """Place the blob at `dest` (hard link, else copy), replacing what is there atomically."""
        src = self.path(digest, executable)
        self._dir_for(dest)
        try:
            os.link(src, dest)
            return
        except FileExistsError:
            pass
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                raise
            tmp = f"{dest}.moltb-tmp.{os.getpid()}"
            shutil.copyfile(src, tmp)
            os.chmod(tmp, EXECUTABLE if executable else READ_ONLY)
            os.replace(tmp, dest)
            return
        tmp = f"{dest}.moltb-tmp.{os.getpid()}"
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
            os.chmod(tmp, EXECUTABLE if executable else READ_ONLY)
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        os.replace(tmp, dest)


def is_executable(st: os.stat_result) -> bool:
    return bool(st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
