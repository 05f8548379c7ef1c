"""Analysed action graphs shared through the cache directory, keyed by content.

The local snapshot (noop.py) trusts file identities (inode, size, mtime), which a fresh
checkout never matches. So each fresh analysis is also published under the cache
directory with what it was derived from, by content: the digest of every BUILD file
(and plugin file inside the workspace), a digest of every directory listing that
loading looked at (package discovery, globs), the sources BUILD files name (they must
exist, as loading requires), and the identity of the files outside
the workspace it depended on (moltb's own modules, plugins, tools). A later build of
the same request, in any checkout that uses the cache, checks those and takes the graph
instead of loading BUILD files and running rules: it skips importing the attribute
models and the rule plugins altogether. Entries are written atomically; one that does
not match is simply not used."""
from __future__ import annotations

import errno
import marshal
import os
import stat

import xxhash

from molt_build.build_file import read_build_file
from molt_build.errors import BuildFileError
from molt_build.layout import BUILD_FILE, OUT_DIR

VERSION = 2
DIR = "analysis"


def file_digest(path: str) -> str:
    """The digest of a regular file; anything else (a FIFO put in a BUILD file's place,
    a device) is an OSError, never a read that blocks or does not end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return xxhash.xxh3_128_hexdigest(f.read())
    finally:
        os.close(fd)


def listing_digest(path: str, skip: frozenset[str]) -> str:
    """What loading can see of a directory: its entries' names and which are
    directories, without what loading never looks at (hidden entries, `__pycache__`,
    and the `skip` paths: the output tree, logs, the cache and ignored directories)."""
    with os.scandir(path) as it:
        names = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in it
                       if e.name[0] != "." and e.name != "__pycache__" and e.path not in skip)
    return xxhash.xxh3_128_hexdigest("\0".join(names).encode())


def _ident(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def workspace_of(cwd: str) -> tuple[str, str, frozenset[str]] | None:
    """(root, cache directory, paths loading skips) without loading the workspace
    model, or None when the root BUILD.toml cannot be read plainly (the full path then
    reports it)."""
    d = os.path.abspath(cwd)
    while True:
        bf = os.path.join(d, BUILD_FILE)
        if os.path.isfile(bf):
            try:
                data = read_build_file(bf, bf)
            except BuildFileError:
                return None
            ws = data.get("workspace")
            if isinstance(ws, dict):
                rel, ignore = ws.get("cache_dir"), ws.get("ignore", [])
                if rel is not None and not isinstance(rel, str) or not isinstance(ignore, list) \
                        or not all(isinstance(x, str) for x in ignore):
                    return None
                env = os.environ.get("MOLTB_CACHE_DIR")
                cache = os.path.abspath(env) if env else \
                    os.path.normpath(os.path.join(d, rel)) if rel else os.path.join(d, "cache")
                skip = {cache, os.path.join(d, OUT_DIR), os.path.join(d, "logs")}
                skip |= {os.path.normpath(os.path.join(d, x)) for x in ignore}
                return d, cache, frozenset(skip)
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _entry_path(root: str, cache_dir: str, sig: str) -> str:
    return os.path.join(cache_dir, DIR, f"{sig}-{file_digest(os.path.join(root, BUILD_FILE))[:16]}.marshal")


def publish(root: str, cache_dir: str, sig: str, build_files: list[str], dirs: list[str], abs_files: list[str],
            sources: list[str], graph: dict, env: dict | None = None) -> None:
    """Record a fresh analysis (its graph without this checkout's per-action state)."""
    found = workspace_of(root)
    if found is None or found[:2] != (root, cache_dir):
        return
    skip = found[2]
    inside = root.rstrip(os.sep) + os.sep
    files, outside = [], []
    try:
        for rel in dict.fromkeys(build_files):
            files.append((rel, file_digest(os.path.join(root, rel))))
        for p in dict.fromkeys(abs_files):
            if p.startswith(inside):       # a plugin in the workspace: by content, like a BUILD file
                rel = os.path.relpath(p, root)
                files.append((rel, file_digest(p)))
            else:
                outside.append((p, _ident(p)))
        listings = [(rel, listing_digest(os.path.normpath(os.path.join(root, rel)), skip))
                    for rel in dict.fromkeys(dirs)]
        path = _entry_path(root, cache_dir, sig)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        entry = {"v": VERSION, "files": files, "dirs": listings, "abs": outside, "sources": sources,
                 "graph": graph, "env": env or {}}
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(marshal.dumps(entry))
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass   # sharing is an optimisation: a build never fails for it


def lookup(root: str, cache_dir: str, skip: frozenset[str], sig: str) -> dict | None:
    """The published entry for this request whose every dependency matches this
    checkout, or None."""
    try:
        with open(_entry_path(root, cache_dir, sig), "rb") as f:
            entry = marshal.loads(f.read())
        if not isinstance(entry, dict) or entry.get("v") != VERSION:
            return None
        for p, ident in entry["abs"]:
            if _ident(p) != tuple(ident):
                return None
        for name, value in entry["env"].items():   # what lanes took from the environment
            if os.environ.get(name) != value:
                return None
        mtimes = {}
        for rel, digest in entry["dirs"]:
            path = os.path.normpath(os.path.join(root, rel))
            mtimes[rel] = os.stat(path).st_mtime_ns     # before the listing: a later change shows
            if listing_digest(path, skip) != digest:
                return None
        entry["dir_mtimes"] = mtimes
        for rel, digest in entry["files"]:
            if file_digest(os.path.join(root, rel)) != digest:
                return None
        isfile, join = os.path.isfile, os.path.join
        for rel in entry["sources"]:        # loading would refuse a missing source (exit 2)
            if not isfile(join(root, rel)):
                return None
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None
    return entry
