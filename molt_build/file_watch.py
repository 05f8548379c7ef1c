"""Which files under a workspace changed, learned from the kernel (inotify, through
watchdog's reader) instead of a stat walk.

Every event gets a generation number. A reader that checked the workspace at
generation G later asks `changed_after(G)`: the paths with an event after G. Three
things make that answer complete or say it is not:
  * `sync()` writes a cookie file in a watched directory and waits until its event
    is read: every change made before `sync()` returned has then been counted
    (watchman's sync cookies).
  * A lost event (the kernel queue overflowed, a watch could not be added) moves
    `lost_gen` forward: whoever checked before it must stat everything again
    (server_state.RequestContext.hint checks that).
  * Paths the watch does not cover (outside the root, under an excluded directory,
    through a symbolic link) are reported by `watched()` as False: their readers
    stat them every time.
"""
from __future__ import annotations

import errno
import os
import threading

from watchdog.observers.inotify_c import InotifyConstants as IN
from watchdog.observers.inotify_c import InotifyFD

_DIR_MASK = (IN.IN_MODIFY | IN.IN_ATTRIB | IN.IN_CLOSE_WRITE | IN.IN_CREATE | IN.IN_DELETE | IN.IN_MOVED_FROM
             | IN.IN_MOVED_TO | IN.IN_DELETE_SELF | IN.IN_MOVE_SELF | IN.IN_DONT_FOLLOW | IN.IN_ONLYDIR)
_COOKIE_PREFIX = "cookie-"


class WatchUnavailable(Exception):
    """inotify cannot watch this tree (no inotify, or the watch limit is reached)."""


class FileWatcher:
    """A recursive inotify watch of `root`, minus `exclude` (paths relative to root)."""

    def __init__(self, root: str, exclude: list[str], cookie_dir: str):
        self.root = os.path.realpath(root)
        self.exclude = tuple(e.rstrip("/") for e in exclude if e)
        self.cookie_dir = cookie_dir
        self.gen = 0
        self.lost_gen = 0               # generation of the last lost event: nothing checked before it holds
        self.changed: dict[str, int] = {}   # relative path -> generation of its last event
        self._recent: list[tuple[int, str]] = []    # (generation, path) in order, for wait_change
        self._trimmed_gen = 0
        self.symlinks: set[str] = set()     # relative paths that are symbolic links (their targets are not watched)
        self.symlink_version = 0            # changes when `symlinks` does
        self.closed = False
        self._wd_dir: dict[int, str] = {}   # watch descriptor -> directory relative to root ("" is the root)
        self._cond = threading.Condition(threading.Lock())
        self._waiters = 0                   # threads in sync() or wait_change(): only then notify
        self._cookies_seen: set[str] = set()
        self._cookie_n = 0
        self._cookie_wd = -1
        self._listeners: list = []
        try:
            self._fd = InotifyFD()
        except OSError as e:
            raise WatchUnavailable(f"inotify: {e.strerror or e}") from None
        _cloexec(self._fd)
        self._fd.start()
        try:
            self._add_tree("")
            os.makedirs(cookie_dir, exist_ok=True)
            self._cookie_wd = self._fd.add_callback(os.fsencode(cookie_dir), _DIR_MASK, self, 1)
        except OSError as e:
            self.close()
            raise WatchUnavailable(f"cannot watch {self.root}: {e.strerror or e}") from None

    # ------------------------------------------------------------- queries

    def watched(self, rel: str) -> bool:
        """True when a change of `rel` (relative to root) is reported by this watch."""
        if rel.startswith("/") or rel.startswith(".."):
            return False
        for e in self.exclude:
            if rel == e or rel.startswith(e + "/"):
                return False
        if self.symlinks:
            parts = rel.split("/")
            for i in range(1, len(parts) + 1):
                if "/".join(parts[:i]) in self.symlinks:
                    return False
        return True

    def changed_after(self, gen: int) -> set[str]:
        """The paths with an event after `gen` (without the lock: for a process forked
        from the watcher's, which reads a frozen copy). The newest events first, from
        the log while it reaches back that far, else from the whole record."""
        recent = self._recent
        if self._trimmed_gen <= gen:
            out = set()
            for g, p in reversed(recent):
                if g <= gen:
                    return out
                out.add(p)
            return out
        return {p for p, g in self.changed.items() if g > gen}

    def sync(self, timeout: float = 2.0) -> int | None:
        """Wait until every change made before this call has been counted; the current
        generation, or None when the watch does not answer in time."""
        with self._cond:
            self._cookie_n += 1
            name = f"{_COOKIE_PREFIX}{os.getpid()}-{self._cookie_n}"
        path = os.path.join(self.cookie_dir, name)
        try:
            with open(path, "x"):
                pass
        except OSError:
            return None
        try:
            with self._cond:
                if not self._wait(lambda: name in self._cookies_seen or self.closed, timeout):
                    return None
                self._cookies_seen.discard(name)
                return None if self.closed else self.gen
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def wait_change(self, since: int, timeout: float | None, relevant=None) -> int | None:
        """Block until an event after `since` (for which `relevant(rel)` holds, when given)
        or a lost event; its generation, or None on timeout."""
        checked = since

        def ready():
            nonlocal checked
            recent = self._recent
            if self.closed or self.lost_gen > since or self._trimmed_gen > since:
                return True            # (events after `since` were trimmed: say so rather than miss one)
            for g, p in reversed(recent):
                if g <= checked:
                    break
                if relevant is None or relevant(p):
                    return True
            checked = self.gen
            return False
        with self._cond:
            if not self._wait(ready, timeout):
                return None
            return self.gen

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        try:
            self._fd.stop()
            self._fd.close()
        except Exception:      # already closed
            pass

    # ------------------------------------------------------------- watches

    def _excluded_dir(self, rel: str) -> bool:
        return any(rel == e or rel.startswith(e + "/") for e in self.exclude)

    def _add_tree(self, top: str) -> None:
        """Watch `top` and every directory below it; name what appears in them as changed
        (they may have been written before their directory was watched)."""
        stack = [top]
        while stack:
            rel = stack.pop()
            path = os.path.join(self.root, rel) if rel else self.root
            try:
                wd = self._fd.add_callback(os.fsencode(path), _DIR_MASK, self, 0)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENOTDIR):
                    continue
                raise
            with self._cond:
                self._wd_dir[wd] = rel
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            for entry in entries:
                child = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():
                    with self._cond:
                        self.symlinks.add(child)
                        self.symlink_version += 1
                elif entry.is_dir(follow_symlinks=False):
                    if not self._excluded_dir(child):
                        stack.append(child)
                if top:
                    self._mark(child)

    def _mark(self, rel: str, parent: str | None = None) -> None:
        """Count a change of `rel` (and of its directory's listing, `parent`)."""
        with self._cond:
            changed, recent = self.changed, self._recent
            for path in (rel, parent) if parent is not None else (rel,):
                self.gen += 1
                changed[path] = self.gen
                recent.append((self.gen, path))
            if len(recent) > 200_000:      # keep the newest half; an older `since` sees a loss
                self._trimmed_gen = recent[99_999][0]
                del recent[:100_000]
            if self._waiters:
                self._cond.notify_all()

    def _lose(self) -> None:
        with self._cond:
            self.gen += 1
            self.lost_gen = self.gen
            self._cond.notify_all()

    def _wait(self, predicate, timeout):
        """Condition.wait_for, counted so that events notify only while someone waits."""
        self._waiters += 1
        try:
            return self._cond.wait_for(predicate, timeout)
        finally:
            self._waiters -= 1

    # ------------------------------------------------------------- watchdog callbacks

    def on_event(self, event) -> None:
        if event.wd == self._cookie_wd:
            name = os.fsdecode(event.name)
            if event.mask & IN.IN_CREATE and name.startswith(_COOKIE_PREFIX):
                with self._cond:
                    self._cookies_seen.add(name)
                    self._cond.notify_all()
            return
        parent = self._wd_dir.get(event.wd)      # (a dict read: atomic)
        if parent is None:
            return
        if event.mask & (IN.IN_DELETE_SELF | IN.IN_MOVE_SELF):
            if parent == "" or event.mask & IN.IN_MOVE_SELF:
                self._lose()           # the root went away, or a directory moved: paths below are unknown
            return
        name = os.fsdecode(event.name)
        rel = f"{parent}/{name}" if parent else name
        listing = event.mask & (IN.IN_CREATE | IN.IN_DELETE | IN.IN_MOVED_FROM | IN.IN_MOVED_TO)
        self._mark(rel, (parent or ".") if listing else None)   # a listing (globs) changes with it
        if event.mask & (IN.IN_CREATE | IN.IN_MOVED_TO):
            if os.path.islink(os.path.join(self.root, rel)):
                with self._cond:
                    self.symlinks.add(rel)
                    self.symlink_version += 1
            elif event.mask & IN.IN_ISDIR and not self._excluded_dir(rel):
                try:
                    self._add_tree(rel)
                except OSError:
                    self._lose()
        elif event.mask & IN.IN_MOVED_FROM and event.mask & IN.IN_ISDIR:
            self._lose()               # everything below it moved: checked by a rescan

    def on_watch_deleted(self, wd) -> None:
        with self._cond:
            self._wd_dir.pop(wd, None)

    def on_queue_overflow(self) -> None:
        self._lose()

    def on_events_lost(self) -> None:
        try:
            self._add_tree("")          # directories made while events were lost get watches
        except OSError:
            pass
        self._lose()


def _cloexec(fd: InotifyFD) -> None:
    """The inotify descriptor is this process's own: not inherited by what it runs."""
    import fcntl
    for name in ("_inotify_fd", "_kill_r", "_kill_w"):
        n = getattr(fd, name, None)
        if isinstance(n, int):
            fcntl.fcntl(n, fcntl.F_SETFD, fcntl.fcntl(n, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
