"""File digests (XXH3-128), memoised by (device, inode, size, mtime_ns) so an
unchanged file is never re-read. Entries for files modified just before they were
hashed are not kept ("racily clean", as in git): the next build hashes them again."""
from __future__ import annotations

import marshal
import os
import time

import xxhash

RACY_NS = 100_000_000  # 100 ms: mtimes closer than this to "now" are not trusted
_CHUNK = 1 << 20


def hash_file(path: str) -> str:
    """The file's digest. The first read asks for the file's size plus one byte: a
    read of _CHUNK would allocate (and free) a 1 MiB buffer even for a 4-byte file."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        n = min(os.fstat(fd).st_size + 1, _CHUNK)
        h = xxhash.xxh3_128()
        while True:
            b = os.read(fd, n)
            if not b:
                return h.hexdigest()
            h.update(b)
            n = _CHUNK
    finally:
        os.close(fd)


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


class DigestCache:
    """Path → digest, validated by stat. Keys are root-relative paths."""

    def __init__(self, path: str):
        self.path = path
        self.entries: dict[str, tuple] = {}
        self.dirty = False
        self._this_build: dict[str, str] = {}
        from molt_build.noop import read_marshal
        got = read_marshal(path)          # from memory when the server holds it unchanged
        self.entries = got[0] if got is not None and isinstance(got[0], dict) else {}

    def digest(self, rel: str, abspath: str) -> str:
        """A file's digest, stat'ed once per build: sources do not change under a build
        (a header read by 50 compiles costs one stat, not 50)."""
        d = self._this_build.get(rel)
        if d is not None:
            return d
        d = self._digest(rel, abspath)
        self._this_build[rel] = d
        return d

    def new_build(self) -> None:
        """Forget what this build stat'ed (for a cache kept across builds)."""
        self._this_build.clear()

    def _digest(self, rel: str, abspath: str) -> str:
        st = os.stat(abspath)
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self.entries.get(rel)
        if hit is not None and hit[0] == ident:
            return hit[1]
        d = hash_file(abspath)
        if time.time_ns() - st.st_mtime_ns > RACY_NS:
            self.entries[rel] = (ident, d)
            self.dirty = True
        return d

    def known(self, rel: str, st: os.stat_result) -> str | None:
        hit = self.entries.get(rel)
        if hit is not None and hit[0] == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
            return hit[1]
        return None

    def record(self, rel: str, st: os.stat_result, digest: str) -> None:
        """Remember a file moltb wrote itself (its content is known)."""
        self.entries[rel] = ((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), digest)
        self.dirty = True

    def forget(self, rel: str) -> None:
        self._this_build.pop(rel, None)
        if self.entries.pop(rel, None) is not None:
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            marshal.dump(self.entries, f)
        os.replace(tmp, self.path)
        self.dirty = False
