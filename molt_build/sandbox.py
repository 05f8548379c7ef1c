"""Exec roots: a directory per running action holding only its declared inputs.

The action's cwd is the exec root, laid out like the workspace (`pkg/a.c`,
`moltb-out/<config>/pkg/...`), so an undeclared relative path is simply not there.

Exec roots live on the cache's file system (`<cache>/sandbox`, or `$MOLTB_SANDBOX_DIR`):
an output moves into the CAS by a rename, whatever its size, and inputs are hard links
(a link is only a directory entry) where they share that file system, else symlinks.

An exec root is reused by the actions that run after it. Before it is handed to the
next one it is scrubbed (`scrub`): every file goes, and every directory the action
made; then `stage` leaves exactly the directories the next action's inputs and
outputs need. Consecutive actions of one shape (a package's compiles) make and remove
no directory at all, which matters: on ext4 a mkdir costs ~30 µs and an rmdir ~80 µs.
"""
from __future__ import annotations

import errno
import itertools
import os
import shutil
import threading

_seq = itertools.count()
_seq_lock = threading.Lock()


def sandbox_base(cache_dir: str) -> str:
    """Where exec roots go: $MOLTB_SANDBOX_DIR, else beside the CAS in the cache directory."""
    env = os.environ.get("MOLTB_SANDBOX_DIR")
    if env:
        return os.path.abspath(env)
    return os.path.join(cache_dir, "sandbox")


def needed_dirs(paths) -> set[str]:
    """The directories (relative, '' for the exec root itself) that `paths` need."""
    need = {""}
    for rel in paths:
        d = os.path.dirname(rel)
        while d not in need:
            need.add(d)
            d = os.path.dirname(d)
    return need


class Sandbox:
    """One exec root (`x/`) with its own `tmp/` and the action's stdout and stderr."""

    def __init__(self, base: str):
        with _seq_lock:
            n = next(_seq)
        self.root = os.path.join(base, f"{os.getpid()}-{n}")
        self.exec_root = os.path.join(self.root, "x")
        self.tmp = os.path.join(self.root, "tmp")
        self.stdout = os.path.join(self.root, "stdout")
        self.stderr = os.path.join(self.root, "stderr")
        os.mkdir(self.root)
        os.mkdir(self.exec_root)
        os.mkdir(self.tmp)
        self.dev = os.stat(self.root).st_dev
        self._dirs: set[str] = {""}          # directories under x/ (relative) that are there
        self.input_stats: list[tuple[str, str, int, int, int, str]] = []

    def stage(self, inputs, outputs) -> None:
        """Leave exactly the directories the inputs and outputs need (the exec root was
        scrubbed: nothing else is in it)."""
        need = needed_dirs(itertools.chain(inputs, outputs))
        x = self.exec_root
        for d in sorted(self._dirs - need, key=len, reverse=True):      # deepest first
            os.rmdir(os.path.join(x, d))
        for d in sorted(need - self._dirs, key=len):                    # parents first
            os.mkdir(os.path.join(x, d))
        self._dirs = need

    def _link(self, src: str, dst: str, src_dev: int) -> bool:
        """Hard link (True) or, across file systems, symlink (False)."""
        if src_dev == self.dev:
            try:
                os.link(src, dst)
                return True
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                    raise
        os.symlink(src, dst)
        return False

    def link_input(self, rel: str, src: str, src_dev: int, digest: str) -> bool:
        """Stage an input (its directory is staged); False when it is a symlink (its
        content can vanish with the original, e.g. a CAS blob removed by `cache clear`
        while the action runs)."""
        dst = os.path.join(self.exec_root, rel)
        hard = self._link(src, dst, src_dev)
        st = os.stat(dst)
        self.input_stats.append((rel, dst, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest))
        return hard

    def modified_inputs(self) -> list[str]:
        """Inputs whose content the action changed. Inputs are links to workspace files
        and CAS blobs (and root ignores read-only modes), so this is checked after every
        run. A changed size or modification time is a change; a moved change time (an
        edit whose size and mtime were put back; nothing can set ctime back, but another
        exec root linking the same file moves it too) is settled by the content digest."""
        from molt_build.digests import hash_file
        bad = []
        for rel, dst, size, mtime, ctime, digest in self.input_stats:
            try:
                st = os.stat(dst)
                if st.st_size != size or st.st_mtime_ns != mtime or \
                        (st.st_ctime_ns != ctime and hash_file(dst) != digest):
                    bad.append(rel)
            except OSError:
                continue  # removed from the exec root: the original is intact
        return bad

    def output_path(self, rel: str) -> str:
        return os.path.join(self.exec_root, rel)

    def scrub(self) -> None:
        """Remove what the last action left: its inputs' links, files it wrote, the
        directories it made, its test status files; keep the staged directories.
        Raises OSError when something cannot be removed (the sandbox is then dropped)."""
        self.input_stats = []
        with os.scandir(self.root) as it:
            for e in it:
                if e.name in ("x", "tmp"):
                    keep = e.is_dir(follow_symlinks=False)
                elif e.name in ("stdout", "stderr"):
                    # Truncated by the next action's start: only while it is our own file
                    # (not a link the action put there to a file that is not its own).
                    keep = e.is_file(follow_symlinks=False) and e.stat(follow_symlinks=False).st_nlink == 1
                else:
                    keep = False
                if not keep:
                    _remove(e)
        if not os.path.isdir(self.exec_root) or os.path.islink(self.exec_root):
            raise OSError(errno.ENOENT, "the exec root is gone", self.exec_root)
        with os.scandir(self.tmp) as it:
            for e in it:
                _remove(e)
        kept: set[str] = set()
        self._scrub(self.exec_root, "", kept)
        self._dirs = kept

    def _scrub(self, path: str, rel: str, kept: set[str]) -> None:
        kept.add(rel)
        with os.scandir(path) as it:
            entries = list(it)
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            if r in self._dirs and e.is_dir(follow_symlinks=False):
                self._scrub(e.path, r, kept)
            else:
                _remove(e)


def _remove(e: os.DirEntry) -> None:
    if e.is_dir(follow_symlinks=False):
        shutil.rmtree(e.path)
    else:
        os.unlink(e.path)


def device_of(path: str) -> int:
    try:
        return os.stat(path).st_dev
    except OSError:
        return -1


def legacy_base() -> str:
    """Where exec roots went before they moved beside the CAS (tmpfs)."""
    return f"/dev/shm/moltb-sandbox-{os.getuid()}"


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
