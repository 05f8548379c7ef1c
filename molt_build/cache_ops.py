"""`moltb cache ...`: stats, prune, verify, clear (export and import: cache_transfer.py).

All of them are safe while builds run against the same cache: rows go before blobs
(a build that loses a blob between lookup and use treats it as a miss and runs the
action again), and blobs younger than GRACE_S are never pruned (a running build may
have written them and not yet committed the row naming them).
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass, field

from molt_build.action_cache import ActionCache, ActionResult, _retrying
from molt_build.cas import CAS, BlobMissing
from molt_build.errors import UsageError

GRACE_S = 600
_BLOB = re.compile(r"cas/([0-9a-f]{2})/([0-9a-f]{32})(\.x)?")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.I)
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", re.I)


def parse_size(text: str) -> int:
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise UsageError(f"bad size '{text}' (examples: 500M, 30G, 1T)")
    unit = m.group(2).lower()
    return int(float(m.group(1)) * (1024 ** ("kmgt".find(unit) + 1) if unit else 1))


def parse_age(text: str) -> float:
    m = _AGE.fullmatch(text.strip())
    if not m:
        raise UsageError(f"bad age '{text}' (examples: 90m, 12h, 30d, 2w)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2).lower()]
    return float(m.group(1)) * unit


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def blobs_of(result: ActionResult) -> list[tuple[str, bool]]:
    out = [(d, bool(x)) for _p, d, _s, x in result.outputs]
    out += [(d, False) for d in (result.stdout, result.stderr) if d]
    return out


def _walk_cas(cas: CAS):
    """(digest, executable, path, stat) for every blob file."""
    try:
        prefixes = os.listdir(cas.root)
    except FileNotFoundError:
        return
    for pre in prefixes:
        d = os.path.join(cas.root, pre)
        try:
            names = os.listdir(d)
        except NotADirectoryError:
            continue
        for n in names:
            p = os.path.join(d, n)
            digest, _, suffix = n.partition(".")
            try:
                yield digest, suffix == "x", p, os.lstat(p)
            except FileNotFoundError:
                continue


def _clean_tmp(cache_dir: str, older_than: float = 3600) -> int:
    """Temporary files left by killed processes (never a live writer's: age-gated)."""
    tmp = os.path.join(cache_dir, "tmp")
    n = 0
    now = time.time()
    for name in os.listdir(tmp) if os.path.isdir(tmp) else ():
        p = os.path.join(tmp, name)
        try:
            if now - os.stat(p).st_mtime > older_than:
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
                n += 1
        except OSError:
            pass
    return n


# -------------------------------------------------------------------- stats

def stats(cache_dir: str, recent: int = 20) -> dict:
    cache = ActionCache(cache_dir)
    try:
        db = cache.db
        entries = db.execute("SELECT count(*) FROM actions").fetchone()[0]
        rows = db.execute("SELECT total, executed, cached, failed, lock_waits, lock_wait_s FROM builds "
                          "ORDER BY ts DESC LIMIT ?", (recent,)).fetchall()
        all_waits = db.execute("SELECT coalesce(sum(lock_waits),0), coalesce(sum(lock_wait_s),0), count(*) "
                               "FROM builds").fetchone()
    finally:
        cache.close()
    blobs = 0
    size = 0
    for _d, _x, _p, st in _walk_cas(CAS(cache_dir)):
        blobs += 1
        size += st.st_size
    total = sum(r[0] for r in rows)
    cached = sum(r[2] for r in rows)
    return {"cache_dir": cache_dir, "entries": entries, "blobs": blobs, "bytes": size,
            "recent_builds": len(rows), "recent_actions": total, "recent_cached": cached,
            "recent_executed": sum(r[1] for r in rows),
            "recent_hit_rate": round(cached / total, 4) if total else None,
            "recent_lock_waits": sum(r[4] for r in rows),
            "recent_lock_wait_s": round(sum(r[5] for r in rows), 3),
            "builds": all_waits[2], "lock_waits": all_waits[0], "lock_wait_s": round(all_waits[1], 3)}


# -------------------------------------------------------------------- prune

@dataclass
class PruneReport:
    rows_removed: int = 0
    blobs_removed: int = 0
    bytes_removed: int = 0
    bytes_kept: int = 0
    tmp_removed: int = 0
    locks_removed: int = 0          # lock files no process held (left by killed processes)
    analyses_removed: int = 0


def prune(cache_dir: str, max_size: int | None, max_age: float | None, now: float | None = None) -> PruneReport:
    """Drop the least recently used entries until the referenced blobs fit `max_size`
    and nothing is older than `max_age`; then delete blobs no entry names."""
    now = now or time.time()
    cas = CAS(cache_dir)
    sizes = {(d, x): st.st_size for d, x, _p, st in _walk_cas(cas)}
    cache = ActionCache(cache_dir)
    report = PruneReport()
    try:
        rows = cache.db.execute("SELECT key, result, last_used FROM actions ORDER BY last_used DESC").fetchall()
        keep_blobs: set[tuple[str, bool]] = set()
        drop: list[str] = []
        used = 0
        for key, text, last_used in rows:
            try:
                blobs = blobs_of(ActionResult.decode(text))
            except ValueError:
                drop.append(key)            # a damaged row is never worth keeping
                continue
            if max_age is not None and now - last_used > max_age:
                drop.append(key)
                continue
            extra = sum(sizes.get(b, 0) for b in set(blobs) - keep_blobs)
            if max_size is not None and used + extra > max_size:
                drop.append(key)
                continue
            keep_blobs.update(blobs)
            used += extra

        def tx():
            cache.db.execute("BEGIN IMMEDIATE")
            try:
                cache.db.executemany("DELETE FROM actions WHERE key=?", [(k,) for k in drop])
                if max_age is not None:
                    cache.db.execute("DELETE FROM last_keys WHERE updated < ?", (now - max_age,))
                cache.db.execute("COMMIT")
            except BaseException:
                cache.db.execute("ROLLBACK")
                raise
        _retrying(tx)
        report.rows_removed = len(drop)
    finally:
        cache.close()
    grace_s = float(os.environ.get("MOLTB_PRUNE_GRACE_S", GRACE_S))
    for digest, exe, path, st in _walk_cas(cas):
        if (digest, exe) in keep_blobs or now - st.st_mtime < grace_s:
            report.bytes_kept += st.st_size
            continue
        try:
            os.unlink(path)
            report.blobs_removed += 1
            report.bytes_removed += st.st_size
        except OSError:
            pass
    report.tmp_removed = _clean_tmp(cache_dir)
    from molt_build.locks import KeyLocks
    report.locks_removed = KeyLocks(cache_dir).sweep()
    if max_age is not None:
        report.analyses_removed = _prune_analyses(cache_dir, now - max_age, now - grace_s)
    return report


def _prune_analyses(cache_dir: str, published_before: float, tmp_before: float) -> int:
    """Shared analyses (shared_analysis.py) published before the cut-off, and temporary
    files a killed publisher left. A pruned one is published again by the next build
    that analyses that request."""
    from molt_build.shared_analysis import DIR
    d = os.path.join(cache_dir, DIR)
    n = 0
    for name in os.listdir(d) if os.path.isdir(d) else ():
        p = os.path.join(d, name)
        try:
            mtime = os.stat(p).st_mtime
            if mtime < (tmp_before if name.endswith(".tmp") else published_before):
                os.unlink(p)
                n += 1
        except OSError:
            pass
    return n


# ------------------------------------------------------------------- verify

@dataclass
class VerifyReport:
    blobs: int = 0
    bytes: int = 0
    corrupt: list[str] = field(default_factory=list)
    rows_dropped: int = 0
    rows_malformed: int = 0
    database: str = "ok"          # or what was wrong with actions.db (it was moved aside)


def verify(cache_dir: str) -> VerifyReport:
    """Check the database (`PRAGMA quick_check`; a damaged one is moved aside), rehash
    every blob and remove those whose content does not match their name, then drop
    entries that do not decode or that name a missing blob (the next build re-runs
    those actions)."""
    cas = CAS(cache_dir)
    report = VerifyReport()
    cache = ActionCache(cache_dir, on_warning=lambda text: setattr(report, "database", text))
    try:
        check = cache._guarded(lambda: cache.db.execute("PRAGMA quick_check").fetchall(), [("ok",)])
        if [tuple(r) for r in check] != [("ok",)]:
            problem = "; ".join(str(r[0]) for r in check[:3])
            cache._recover(sqlite3.DatabaseError(f"database disk image is malformed (quick_check: {problem})"))
    finally:
        cache.close()
    present: set[tuple[str, bool]] = set()
    for digest, exe, path, st in _walk_cas(cas):
        report.blobs += 1
        report.bytes += st.st_size
        try:
            cas.checked(digest, exe)
            present.add((digest, exe))
        except BlobMissing as e:
            if e.corrupt:                   # (one removed meanwhile by a prune is not)
                report.corrupt.append(os.path.relpath(path, cache_dir))
    cache = ActionCache(cache_dir, on_warning=lambda text: setattr(report, "database", text))
    try:
        rows = cache._guarded(lambda: cache.db.execute("SELECT key, result FROM actions").fetchall(), [])
        bad = []
        for key, text in rows:
            try:
                blobs = blobs_of(ActionResult.decode(text))
            except ValueError:
                report.rows_malformed += 1
                bad.append(key)
                continue
            missing = [b for b in blobs if b not in present]
            # a blob written after the walk began is fine: check the disk once more
            if any(not cas.has(d, x) for d, x in missing):
                bad.append(key)
        if bad:
            _retrying(lambda: cache.db.executemany("DELETE FROM actions WHERE key=?", [(k,) for k in bad]))
        report.rows_dropped = len(bad)
    finally:
        cache.close()
    _clean_tmp(cache_dir)
    return report


# --------------------------------------------------------------- clear

def clear(cache_dir: str) -> None:
    cache = ActionCache(cache_dir)
    try:
        def tx():
            cache.db.execute("BEGIN IMMEDIATE")
            cache.db.execute("DELETE FROM actions")
            cache.db.execute("DELETE FROM last_keys")
            cache.db.execute("COMMIT")
        _retrying(tx)
    finally:
        cache.close()
    shutil.rmtree(os.path.join(cache_dir, "cas"), ignore_errors=True)
    _clean_tmp(cache_dir, older_than=GRACE_S)    # younger ones may be writes under way
