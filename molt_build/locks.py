"""Per-action-key locks shared by every `moltb` process that uses one cache.

Before a process runs an action it takes the lock named by the action's key; another
process that needs the same key sees the lock held, goes on with its other ready work,
and polls until the lock is free, then finds the result in the cache. The holder
commits the cache row before it releases the lock, so "free" means "result visible"
(or "holder died": an OS lock dies with its process, and the waiter runs the action).

Lock files live on tmpfs when there is one (creating a file there costs ~15 µs
against ~150 µs on ext4), in a directory named by the cache directory's identity
(device and inode), so every process on this machine using that cache meets there
whatever path it reached the cache by. `MOLTB_LOCK_DIR` overrides.
"""
from __future__ import annotations

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
    """Non-blocking per-key locks (filelock: fcntl locks the OS releases on death)."""

    def __init__(self, cache_dir: str):
        self.dir = lock_dir(cache_dir)
        make_dir(self.dir)
        self._held: dict[str, object] = {}
        self._filelock = None

    def try_acquire(self, key: str) -> bool:
        if key in self._held:
            return True
        if self._filelock is None:
            import filelock  # imported on the first action that must run, not on hits
            self._filelock = filelock
        lock = self._filelock.FileLock(os.path.join(self.dir, key + ".lock"), blocking=False,
                                       thread_local=False)
        try:
            for attempt in range(ATTEMPTS):
                try:
                    lock.acquire()
                    break
                except (FileNotFoundError, FileExistsError):
                    # The directory went with another process's last lock (FileExistsError:
                    # while filelock was making it again, see dirs.make_dir).
                    if attempt == ATTEMPTS - 1:
                        raise
                    make_dir(self.dir)
        except self._filelock.Timeout:
            return False
        self._held[key] = lock
        return True

    def release(self, key: str) -> None:
        lock = self._held.pop(key, None)
        if lock is not None:
            lock.release()
            # Remove the file so lock files do not pile up. A process that opened it
            # just before sees, once it holds the lock, that the inode was unlinked
            # (filelock checks st_nlink) and starts over on a new file.
            try:
                os.unlink(os.path.join(self.dir, key + ".lock"))
            except OSError:
                pass

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
