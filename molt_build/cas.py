"""The content-addressed store: files named by their XXH3-128 digest.

Writes are atomic (a complete file renamed into place), so a killed process never
leaves a partial entry; an existing entry is never overwritten. Blobs are read-only
files. A blob is checked against its digest the first time this process puts it
somewhere it was not (an exec root, a fresh checkout's output tree): bit rot is found
before it spreads, and a bad blob is removed. Blobs this process wrote itself are
known good.

`moltb cache clear` and `prune` may remove blobs, and the directories holding them,
while builds run: a write whose directory vanished is retried, and a blob that is
gone is reported as missing (the caller runs its producer again), never a traceback.
"""
from __future__ import annotations

import errno
import itertools
import os
import shutil
import stat
import threading

import xxhash

from molt_build.digests import hash_file
from molt_build.dirs import make_dir

READ_ONLY = 0o444
EXECUTABLE = 0o555
SMALL = 1 << 20          # outputs below this are read whole into memory when stored
ATTEMPTS = 3             # a write whose directory was removed under it (cache clear) is retried


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except IsADirectoryError:
        shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass


def _empty(path: str) -> None:
    """Truncate a corrupt blob before it goes: outputs hard-linked to it in workspaces
    then change size, so their builds see them as changed and put a good copy back."""
    try:
        os.chmod(path, 0o644)
        os.truncate(path, 0)
    except OSError:
        pass


class BlobMissing(Exception):
    """A blob is not in the store, or was not what its name says (and was removed)."""

    def __init__(self, digest: str, corrupt: bool):
        super().__init__(digest)
        self.digest = digest
        self.corrupt = corrupt


class CAS:
    def __init__(self, cache_dir: str):
        self.root = os.path.join(cache_dir, "cas")
        self.tmp = os.path.join(cache_dir, "tmp")
        os.makedirs(self.tmp, exist_ok=True)
        self._tmp_dev = os.stat(self.tmp).st_dev
        self._made: set[str] = set()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._good: set[tuple[str, bool]] = set()     # checked, or written, by this process

    def path(self, digest: str, executable: bool = False) -> str:
        return os.path.join(self.root, digest[:2], digest + (".x" if executable else ""))

    def has(self, digest: str, executable: bool = False) -> bool:
        return os.path.isfile(self.path(digest, executable))

    def _dir_for(self, dst: str) -> None:
        d = os.path.dirname(dst)
        if d not in self._made:
            make_dir(d)
            self._made.add(d)

    def _forget_dirs(self) -> None:
        """Directories made earlier may have been removed (cache clear): make them again."""
        self._made.clear()
        make_dir(self.tmp)

    def _tmpname(self, tag: str) -> str:
        """A temporary name no other thread or process uses (several may store one blob).
        Creators open it with O_EXCL or write it whole before renaming it into place."""
        with self._lock:
            n = next(self._seq)
        return os.path.join(self.tmp, f"{tag[:16]}.{os.getpid()}.{threading.get_ident()}.{n}")

    def _written(self, digest: str, executable: bool) -> None:
        self._good.add((digest, executable))

    def _retry(self, write):
        """Run a write, again after a vanished directory (a concurrent cache clear)."""
        for attempt in range(ATTEMPTS):
            try:
                return write()
            except FileNotFoundError:
                if attempt == ATTEMPTS - 1:
                    raise
                self._forget_dirs()

    def put_file(self, src: str, digest: str, executable: bool, move: bool = True) -> str:
        """Store `src` (whose digest is known) under its digest; `move` consumes src."""
        dst = self.path(digest, executable)
        mode = EXECUTABLE if executable else READ_ONLY

        def write() -> str:
            try:
                found = os.lstat(dst).st_mode      # one lstat: there, absent, or not a blob
            except OSError:
                found = None
            if found is not None and stat.S_ISREG(found):
                if move:
                    os.unlink(src)
                return dst
            if found is not None:
                _unlink_quietly(dst)            # not a regular file: never a blob
            self._dir_for(dst)
            if move:
                os.chmod(src, mode)
                try:
                    os.rename(src, dst)  # atomic; a concurrent writer of the same digest is harmless
                    return dst
                except OSError as e:
                    if e.errno != errno.EXDEV:
                        raise
            tmp = self._tmpname(digest)
            try:
                shutil.copyfile(src, tmp)
                os.chmod(tmp, mode)
                os.replace(tmp, dst)
            except BaseException:
                _unlink_quietly(tmp)
                raise
            if move:
                os.unlink(src)
            return dst

        out = self._retry(write)
        self._written(digest, executable)
        return out

    def ingest(self, src: str, executable: bool) -> str:
        """Store an action's output file and return its digest. On the same file system
        the file is hashed and renamed into place; across file systems (a tmpfs exec
        root) it is hashed while it is copied, in one read."""
        if os.stat(src).st_dev == self._tmp_dev:
            digest = hash_file(src)
            self.put_file(src, digest, executable, move=True)
            return digest
        with open(src, "rb") as f:
            want = min(os.fstat(f.fileno()).st_size + 1, SMALL)    # not a 1 MiB buffer for a small file
            head = f.read(want)
            if len(head) < want:                # small (most outputs): hash first, write only if new
                digest = xxhash.xxh3_128_hexdigest(head)
                self._retry(lambda: self._write_new(head, digest, executable))
                os.unlink(src)
                self._written(digest, executable)
                return digest
            f.seek(0)
            digest = self._retry(lambda: self._ingest_large(f, executable))
        os.unlink(src)   # consumed, like the rename on one file system
        self._written(digest, executable)
        return digest

    def _write_new(self, data: bytes, digest: str, executable: bool) -> None:
        dst = self.path(digest, executable)
        if self.has(digest, executable):
            return
        if os.path.lexists(dst):
            _unlink_quietly(dst)
        self._dir_for(dst)
        tmp = self._tmpname("ingest")
        # Created with its final mode: no chmod; the open descriptor may still write.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, EXECUTABLE if executable else READ_ONLY)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, dst)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def _ingest_large(self, f, executable: bool) -> str:
        f.seek(0)
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
            if self.has(digest, executable):
                os.unlink(tmp)
            else:
                if os.path.lexists(dst):
                    _unlink_quietly(dst)
                self._dir_for(dst)
                os.chmod(tmp, EXECUTABLE if executable else READ_ONLY)
                os.replace(tmp, dst)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return digest

    def put_bytes(self, data: bytes, digest: str) -> str:
        self._retry(lambda: self._write_new(data, digest, False))
        self._written(digest, False)
        return self.path(digest)

    def read_bytes(self, digest: str) -> bytes | None:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except OSError:
            return None

    def verify(self, digest: str, executable: bool = False) -> bool:
        """True when the blob exists and its content has the digest; a corrupt blob (or
        anything that is not a regular file under its name) is removed."""
        p = self.path(digest, executable)
        try:
            st = os.lstat(p)
        except OSError:
            return False
        ok = False
        if stat.S_ISREG(st.st_mode):
            try:
                ok = hash_file(p) == digest
            except FileNotFoundError:
                return False
            except OSError:
                ok = False
        if ok:
            self._good.add((digest, executable))
        else:
            self._good.discard((digest, executable))
            if stat.S_ISREG(st.st_mode):
                _empty(p)
            _unlink_quietly(p)
        return ok

    def checked(self, digest: str, executable: bool = False) -> str:
        """The blob's path, checked against its digest once per process (blobs this
        process wrote are known good). Raises BlobMissing when it is gone or bad."""
        if (digest, executable) in self._good and self.has(digest, executable):
            return self.path(digest, executable)
        present = os.path.lexists(self.path(digest, executable))
        if not self.verify(digest, executable):
            raise BlobMissing(digest, corrupt=present)
        return self.path(digest, executable)

    def materialize(self, digest: str, executable: bool, dest: str) -> None:
        """Place the blob at `dest` (hard link, else copy), replacing what is there
        atomically. Raises BlobMissing when the blob vanished (cache clear, prune)."""
        for attempt in range(2):
            try:
                return self._materialize(digest, executable, dest)
            except FileNotFoundError:
                if not os.path.lexists(self.path(digest, executable)):
                    raise BlobMissing(digest, corrupt=False) from None
                if attempt:
                    raise
                self._made.clear()          # a directory made earlier was removed

    def _materialize(self, digest: str, executable: bool, dest: str) -> None:
        src = self.path(digest, executable)
        d = os.path.dirname(dest)
        if d not in self._made:
            make_dir(d)
            self._made.add(d)
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
        except FileExistsError:
            os.unlink(tmp)
            os.link(src, tmp)
        except FileNotFoundError:
            raise
        except OSError:      # e.g. EXDEV: copy
            shutil.copyfile(src, tmp)
            os.chmod(tmp, EXECUTABLE if executable else READ_ONLY)
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        os.replace(tmp, dest)


def is_executable(st: os.stat_result) -> bool:
    return bool(st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
