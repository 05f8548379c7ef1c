"""`moltb cache export` and `moltb cache import`: a cache as one tarball (a consistent
sqlite snapshot of the action cache and the blobs it names), to seed a CI machine or
another checkout. An import checks every blob against its digest before it lands."""
from __future__ import annotations

import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib

from molt_build.action_cache import ActionCache, ActionResult, _retrying
from molt_build.cache_ops import _BLOB, _walk_cas, blobs_of
from molt_build.cas import CAS
from molt_build.digests import hash_file
from molt_build.errors import UsageError

def export(cache_dir: str, dest: str) -> dict:
    """A tarball of the action cache (a consistent sqlite snapshot) and the blobs."""
    cas = CAS(cache_dir)
    cache = ActionCache(cache_dir)
    tmpdir = tempfile.mkdtemp(dir=cas.tmp, prefix="export.")
    n = 0
    try:
        snap = os.path.join(tmpdir, "actions.db")
        out = sqlite3.connect(snap)
        cache.db.backup(out)
        out.execute("DELETE FROM builds")
        out.commit()
        out.close()
        mode = "w:gz" if dest.endswith((".gz", ".tgz")) else "w"
        partial = f"{dest}.partial.{os.getpid()}"   # a killed export leaves no tarball at `dest`
        try:
            with tarfile.open(partial, mode) as tar:
                tar.add(snap, arcname="actions.db")
                for digest, exe, path, _st in _walk_cas(cas):
                    tar.add(path, arcname=f"cas/{digest[:2]}/{digest}{'.x' if exe else ''}")
                    n += 1
            os.replace(partial, dest)
        except OSError as e:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise UsageError(f"cannot write {dest}: {e.strerror or e}") from None
    finally:
        cache.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
    return {"blobs": n, "file": dest, "bytes": os.path.getsize(dest)}


class ImportRefused(UsageError):
    """A cache tarball that is not safe or not consistent: nothing was imported."""


def import_(cache_dir: str, src: str) -> dict:
    """Merge a tarball made by `export`. Every member is checked before anything is
    written: only `actions.db` and `cas/<xx>/<digest>[.x]` regular files, no absolute
    paths, no `..`, no links or devices, and every blob must hash to its name."""
    try:
        tar = tarfile.open(src, "r:*")
    except (OSError, tarfile.TarError, EOFError, zlib.error) as e:
        raise ImportRefused(f"cannot read {src}: {e}") from None
    cas = CAS(cache_dir)
    staging = tempfile.mkdtemp(dir=cas.tmp, prefix="import.")
    try:
        return _import_checked(tar, src, cas, cache_dir, staging)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise ImportRefused(f"cannot read {src}: it is truncated or not a tarball ({e})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _import_checked(tar, src: str, cas: CAS, cache_dir: str, staging: str) -> dict:
    """The checks and the merge of `import_` (see there)."""
    with tar:
        members = tar.getmembers()
        for m in members:
            name = m.name
            if name.startswith("/") or os.path.isabs(name):
                raise ImportRefused(f"{src}: member '{name}' has an absolute path")
            if ".." in name.split("/"):
                raise ImportRefused(f"{src}: member '{name}' escapes with '..'")
            if m.issym() or m.islnk():
                raise ImportRefused(f"{src}: member '{name}' is a link (to '{m.linkname}')")
            if m.isdir():
                continue
            if not m.isfile():
                raise ImportRefused(f"{src}: member '{name}' is not a regular file")
            if name != "actions.db" and not _BLOB.fullmatch(name):
                raise ImportRefused(f"{src}: unexpected member '{name}'")
            bm = _BLOB.fullmatch(name)
            if bm and bm.group(1) != bm.group(2)[:2]:
                raise ImportRefused(f"{src}: member '{name}' is filed under the wrong prefix")
        staged: list[tuple[str, bool, str]] = []
        db_path = None
        for i, m in enumerate(members):
            if not m.isfile():
                continue
            target = os.path.join(staging, f"m{i}")
            with tar.extractfile(m) as f, open(target, "wb") as out:
                shutil.copyfileobj(f, out)
            if m.name == "actions.db":
                db_path = target
                continue
            bm = _BLOB.fullmatch(m.name)
            if hash_file(target) != bm.group(2):
                raise ImportRefused(f"{src}: blob '{m.name}' does not match its digest")
            staged.append((bm.group(2), bool(bm.group(3)), target))
    rows = []
    if db_path is not None:
        try:
            con = sqlite3.connect(db_path)
            rows = con.execute("SELECT key, result, created, last_used FROM actions").fetchall()
            con.close()
        except sqlite3.Error as e:
            raise ImportRefused(f"{src}: actions.db is not a moltb action cache: {e}") from None
        for key, text, *_ in rows:
            try:
                result = ActionResult.decode(text)
            except (ValueError, TypeError) as e:
                raise ImportRefused(f"{src}: malformed entry {key}: {e}") from None
            for path, *_rest in result.outputs:
                if not isinstance(path, str) or os.path.isabs(path) or ".." in path.split("/") \
                        or not path.startswith("moltb-out/"):
                    raise ImportRefused(f"{src}: entry {key} names an output outside moltb-out/: {path!r}")
    # Everything checked: now merge, blobs first, then the rows that name them.
    for digest, exe, path in staged:
        cas.put_file(path, digest, exe, move=True)
    usable = [r for r in rows if all(cas.has(d, x) for d, x in blobs_of(ActionResult.decode(r[1])))]
    cache = ActionCache(cache_dir)
    try:
        now = time.time()

        def tx():
            cache.db.execute("BEGIN IMMEDIATE")
            cache.db.executemany("INSERT OR IGNORE INTO actions(key, result, created, last_used) "
                                 "VALUES (?,?,?,?)", [(k, t, c, now) for k, t, c, _u in usable])
            cache.db.execute("COMMIT")
        _retrying(tx)
    finally:
        cache.close()
    return {"blobs": len(staged), "entries": len(usable), "skipped_entries": len(rows) - len(usable)}

