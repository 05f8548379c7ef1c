"""Per-key locks (locks.py) when a release meets another process's acquire: a key is
never held twice. Each KeyLocks instance stands for a process (flock locks belong to
an open file, so two instances in one process exclude each other like two processes)."""
from __future__ import annotations

import os

import molt_build.locks as locks_mod
from molt_build.locks import KeyLocks

KEY = "k" * 32


def test_a_lock_file_unlinked_between_open_and_lock_is_not_taken(tmp_path, monkeypatch):
    """B opens the lock file, A releases (unlinking it), then B's flock succeeds on the
    unlinked file: B must take a new file, and C must then find the key held."""
    (tmp_path / "cache").mkdir()
    a, b, c = (KeyLocks(str(tmp_path / "cache")) for _ in range(3))
    assert a.try_acquire(KEY)
    real_flock = locks_mod.fcntl.flock
    released = []

    def flock(fd, op):
        if not released:
            released.append(True)
            a.release(KEY)          # A lets go between B's open and B's flock
        return real_flock(fd, op)
    monkeypatch.setattr(locks_mod.fcntl, "flock", flock)
    assert b.try_acquire(KEY)
    monkeypatch.undo()
    assert released
    assert not c.try_acquire(KEY)
    b.release_all()
    assert c.try_acquire(KEY)
    c.release_all()


def test_a_release_unlinks_before_it_unlocks(tmp_path, monkeypatch):
    """While A's release unlinks the file, A still holds the lock: B cannot take it
    then (had A unlocked first, B would lock the file about to be unlinked, and C a
    new one: both would hold the key)."""
    (tmp_path / "cache").mkdir()
    a, b, c = (KeyLocks(str(tmp_path / "cache")) for _ in range(3))
    assert a.try_acquire(KEY)
    real_unlink = os.unlink
    during = []

    def unlink(path, *args, **kw):
        if os.fspath(path).endswith(KEY + ".lock") and not during:
            during.append(b.try_acquire(KEY))
        return real_unlink(path, *args, **kw)
    monkeypatch.setattr(locks_mod.os, "unlink", unlink)
    a.release(KEY)
    monkeypatch.undo()
    assert during == [False]
    assert c.try_acquire(KEY) and not b.try_acquire(KEY)
    c.release_all()
    b.release_all()


def test_a_dead_holders_file_is_taken_over(tmp_path):
    """A process killed while holding a lock leaves its file, unlocked by the OS: the
    next process takes that same file."""
    (tmp_path / "cache").mkdir()
    a, b = KeyLocks(str(tmp_path / "cache")), KeyLocks(str(tmp_path / "cache"))
    assert a.try_acquire(KEY)
    os.close(a._held.pop(KEY))      # what the OS does for a dead holder: unlocked, file left
    assert os.path.exists(os.path.join(a.dir, KEY + ".lock"))
    assert b.try_acquire(KEY)
    b.release_all()
    assert not os.path.exists(a.dir)
