"""Per-action-key locks shared by every `moltb` process that uses one cache.

Before a process runs an action it takes the lock named by the action's key; another
process that needs the same key sees the lock held, goes on with its other ready work,
and polls until the lock is free, then finds the result in the cache. The holder
commits the cache row before it releases the lock, so "free" means "result visible"
(or "holder died": an OS lock dies with its process, and the waiter runs the action).

A lock is an flock(2) on `<key>.lock`. Its holder unlinks the file before it unlocks,
so a process that locked the file once it was unlinked sees that the path no longer
names what it locked, and starts over on a new file: two processes never both hold
one key.

Lock files live on tmpfs when there is one (creating a file there costs ~15 µs
against ~150 µs on ext4), in a directory named by the cache directory's identity
(device and inode), so every process on this machine using that cache meets there
whatever path it reached the cache by. `MOLTB_LOCK_DIR` overrides.
"""
from __future__ import annotations

import fcntl
import os

from molt_build.dirs import ATTEMPTS, make_dir

TMPFS = "/dev/shm"


def lock_dir(cache_dir: str) -> str:
    env = os.environ.get("MOLTB_LOCK_DIR")
    if env:
        return os.path.abspath(env)
    st = os.stat(cache_dir)
    if os.path.isdir(TMPFS) and os.access(TMPFS, os.W_OK | os.X_OK):
        return os.path.join(TMPFS, f"moltb-locks-{st.st_dev:x}-{st.st_ino:x}")
    return os.path.join(cache_dir, "locks")


class KeyLocks:
    """Non-blocking per-key locks (flock: the OS releases them when the holder dies)."""

    def __init__(self, cache_dir: str):
        self.dir = lock_dir(cache_dir)
        make_dir(self.dir)
        self._held: dict[str, int] = {}      # key -> the descriptor that holds its lock

    def try_acquire(self, key: str) -> bool:
        if key in self._held:
            return True
        path = os.path.join(self.dir, key + ".lock")
        for attempt in range(ATTEMPTS):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
            except FileNotFoundError:
                # The directory went with another process's last lock: make it again.
                if attempt == ATTEMPTS - 1:
                    raise
                make_dir(self.dir)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            try:
                st = os.stat(path)
                fst = os.fstat(fd)
                current = (st.st_ino, st.st_dev) == (fst.st_ino, fst.st_dev)
            except FileNotFoundError:
                current = False
            if current:
                self._held[key] = fd
                return True
            os.close(fd)        # its holder unlinked it before unlocking: take the new file
        return False

    def release(self, key: str) -> None:
        fd = self._held.pop(key, None)
        if fd is None:
            return
        # Unlinked while still locked (lock files do not pile up), then unlocked: whoever
        # locks the old file after this finds it gone from its path and starts over.
        try:
            os.unlink(os.path.join(self.dir, key + ".lock"))
        except OSError:
            pass
        os.close(fd)

    def release_all(self) -> None:
        """Release every lock; the directory goes too when no other process has one."""
        for key in list(self._held):
            self.release(key)
        try:
            os.rmdir(self.dir)
        except OSError:
            pass

    def sweep(self) -> int:
        """Remove lock files no process holds (left by processes killed with SIGKILL)."""
        n = 0
        for name in os.listdir(self.dir) if os.path.isdir(self.dir) else ():
            key = name[:-len(".lock")] if name.endswith(".lock") else None
            if key and key not in self._held and self.try_acquire(key):
                self.release(key)
                n += 1
        self.release_all()
        return n
