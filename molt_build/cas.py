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
import itertools
import threading

import xxhash

from molt_build.digests import hash_file

READ_ONLY = 0o444
EXECUTABLE = 0o555
SMALL = 1 << 20          # outputs below this are read whole into memory when stored


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class CAS:
    def __init__(self, cache_dir: str):
        self.root = os.path.join(cache_dir, "cas")
        self.tmp = os.path.join(cache_dir, "tmp")
        os.makedirs(self.tmp, exist_ok=True)
        self._tmp_dev = os.stat(self.tmp).st_dev
        self._made: set[str] = set()
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def path(self, digest: str, executable: bool = False) -> str:
        return os.path.join(self.root, digest[:2], digest + (".x" if executable else ""))

    def has(self, digest: str, executable: bool = False) -> bool:
        return os.path.exists(self.path(digest, executable))

    def _dir_for(self, dst: str) -> None:
        d = os.path.dirname(dst)
        if d not in self._made:
            os.makedirs(d, exist_ok=True)
            self._made.add(d)

    def _tmpname(self, tag: str) -> str:
        """A temporary name no other thread or process uses (several may store one blob).
        Creators open it with O_EXCL or write it whole before renaming it into place."""
        with self._lock:
            n = next(self._seq)
        return os.path.join(self.tmp, f"{tag[:16]}.{os.getpid()}.{threading.get_ident()}.{n}")

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

    def ingest(self, src: str, executable: bool) -> str:
        """Store an action's output file and return its digest. On the same file system
        the file is hashed and renamed into place; across file systems (a tmpfs exec
        root) it is hashed while it is copied, in one read."""
        if os.stat(src).st_dev == self._tmp_dev:
            digest = hash_file(src)
            self.put_file(src, digest, executable, move=True)
            return digest
        with open(src, "rb") as f:
            head = f.read(SMALL)
            if len(head) < SMALL:               # small (most outputs): hash first, write only if new
                digest = xxhash.xxh3_128_hexdigest(head)
                dst = self.path(digest, executable)
                if not os.path.exists(dst):
                    self._dir_for(dst)
                    tmp = self._tmpname("ingest")
                    # Created with its final mode: no chmod; the open descriptor may still write.
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, EXECUTABLE if executable else READ_ONLY)
                    try:
                        with os.fdopen(fd, "wb") as out:
                            out.write(head)
                        os.replace(tmp, dst)
                    except BaseException:
                        _unlink_quietly(tmp)
                        raise
                os.unlink(src)
                return digest
            f.seek(0)
            return self._ingest_large(f, src, executable)

    def _ingest_large(self, f, src: str, executable: bool) -> str:
        h = xxhash.xxh3_128()
        tmp = self._tmpname("ingest")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        break
                    h.update(b)
                    out.write(b)
            digest = h.hexdigest()
            dst = self.path(digest, executable)
            if os.path.exists(dst):
                os.unlink(tmp)
            else:
                self._dir_for(dst)
                os.chmod(tmp, EXECUTABLE if executable else READ_ONLY)
                os.replace(tmp, dst)
            os.unlink(src)   # consumed, like the rename on one file system
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return digest

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
