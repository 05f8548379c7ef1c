"""The action cache: sqlite (WAL mode) mapping action key → result.

A result names its outputs' digests (blobs live in the CAS), exit code, and the
digests of stdout/stderr. Rows are written only after their blobs are in the CAS, so
a row never points at a blob that was not completely written. Writes are batched in
short `BEGIN IMMEDIATE` transactions with a busy timeout and retries, so several
`moltb` processes share one database without "database is locked" reaching anyone.
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import sqlite3
import time
from dataclasses import dataclass

from molt_build.errors import EnvironmentProblem

SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS last_keys (
    identity TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    components TEXT NOT NULL,
    duration REAL NOT NULL DEFAULT 0,
    updated REAL NOT NULL DEFAULT 0,
    peak_kb INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS builds (
    ts REAL NOT NULL,
    workspace TEXT NOT NULL,
    command TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    total INTEGER NOT NULL,
    executed INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    lock_waits INTEGER NOT NULL,
    lock_wait_s REAL NOT NULL,
    duration_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_last_used ON actions(last_used);
"""
SCHEMA_VERSION = 3
_DIGEST = re.compile(r"[0-9a-f]{32}")
_quote = json.encoder.encode_basestring_ascii       # a str as json.dumps writes it


def _number(x) -> str:
    """A number as json.dumps writes it."""
    return repr(x) if isinstance(x, int) or math.isfinite(x) else json.dumps(x)


@dataclass(slots=True)
class ActionResult:
    """outputs: (exec-root path, digest, size, executable) per declared output."""

    outputs: list[tuple[str, str, int, bool]]
    exit_code: int = 0
    stdout: str = ""      # CAS digest of stdout ('' when empty)
    stderr: str = ""
    duration: float = 0.0
    status: str = ""      # a test run's reported status when it is not plain PASSED (e.g. XFAIL)
    max_rss_kb: int = 0   # a test run's peak resident set, when measured
    peak_kb: int = 0      # the action's peak RSS as the kernel saw it (the scheduler's RAM estimate)

    def encode(self) -> str:
        """The row's JSON, written by hand (once per executed action): what
        json.dumps(row, separators=(",", ":")) writes."""
        q = _quote
        outs = ",".join(f"[{q(p)},{q(d)},{int(n)},{'true' if x else 'false'}]" for p, d, n, x in self.outputs)
        text = f"[[{outs}],{int(self.exit_code)},{q(self.stdout)},{q(self.stderr)},{_number(round(self.duration, 4))}"
        if self.status or self.max_rss_kb or self.peak_kb:
            text += f",{q(self.status)},{int(self.max_rss_kb)},{int(self.peak_kb)}"
        return text + "]"

    @classmethod
    def decode(cls, text: str) -> "ActionResult":
        """Raises ValueError for anything that is not a well-formed result row (a
        damaged or foreign database): the caller treats it as a miss."""
        try:
            row = json.loads(text)
            o, code, so, se, dur = row[:5]
            status, rss = row[5:7] if len(row) >= 7 else ("", 0)
            peak = row[7] if len(row) >= 8 else 0
            outputs = []
            for p, d, size, x in o:
                if not (isinstance(p, str) and isinstance(d, str) and _DIGEST.fullmatch(d)
                        and isinstance(size, int) and isinstance(x, bool)):
                    raise ValueError(f"bad output entry {[p, d, size, x]!r}")
                outputs.append((p, d, size, x))
            for d in (so, se):
                if not isinstance(d, str) or (d and not _DIGEST.fullmatch(d)):
                    raise ValueError(f"bad log digest {d!r}")
            if not (isinstance(code, int) and isinstance(dur, (int, float)) and isinstance(status, str)
                    and isinstance(rss, int) and isinstance(peak, int)):
                raise ValueError("bad field types")
        except (TypeError, KeyError, IndexError) as e:
            raise ValueError(f"malformed action result: {e}") from None
        return cls(outputs, code, so, se, dur, status, rss, peak)


def _retrying(fn, attempts: int = 50):
    delay = 0.005
    for i in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as e:
            msg = str(e)
            if "locked" not in msg and "busy" not in msg or i == attempts - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)


def is_corruption(e: sqlite3.Error) -> bool:
    """A damaged database file (as opposed to a busy, full or unwritable one)."""
    msg = str(e).lower()
    return isinstance(e, sqlite3.DatabaseError) and any(
        m in msg for m in ("malformed", "not a database", "file is encrypted", "database corrupt"))


class ActionCache:
    """The action cache of one cache directory. A database that turns out to be
    damaged (at open or at any later query) is moved aside as
    `actions.db.corrupt-<UTC>` with one warning, and the build goes on with an empty
    cache; a row that does not decode is dropped and counts as a miss."""

    def __init__(self, cache_dir: str, on_warning=None):
        self.path = os.path.join(cache_dir, "actions.db")
        self.on_warning = on_warning
        self.warnings: list[str] = []
        self.dropped_rows = 0
        try:
            os.makedirs(cache_dir, exist_ok=True)
            self._connect()
        except sqlite3.Error as e:
            if not is_corruption(e):
                raise _unusable(self.path, e) from None
            self._recover(e)
        except OSError as e:
            raise _unusable(self.path, e) from None
        self._pending: list[tuple[str, str, float]] = []
        self._touched: list[str] = []
        self._last_keys: dict[str, tuple[str, str, float]] = {}

    def _connect(self) -> None:
        try:
            st = os.stat(self.path)
            self._ident = (st.st_dev, st.st_ino)      # the file a damage found at open is in
        except FileNotFoundError:
            self._ident = None
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=60000")
        _retrying(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
        self.db.execute("PRAGMA synchronous=NORMAL")
        _retrying(lambda: self.db.executescript(SCHEMA))
        self._migrate()
        st = os.stat(self.path)
        self._ident = (st.st_dev, st.st_ino)

    def _recover(self, err: sqlite3.Error) -> None:
        """Move the damaged database aside (once, whichever process sees it first) and
        start an empty one."""
        from molt_build.cache_recovery import quarantine
        try:
            self.db.close()
        except (AttributeError, sqlite3.Error):
            pass
        moved = quarantine(self.path, getattr(self, "_ident", None))
        try:
            self._connect()
        except sqlite3.Error as e:
            raise _unusable(self.path, e) from None
        text = (f"the action cache {self.path} was damaged ({err}); "
                + (f"moved aside to {os.path.basename(moved)}; " if moved else "")
                + "going on with an empty cache")
        self.warnings.append(text)
        if self.on_warning is not None:
            self.on_warning(text)

    def _guarded(self, fn, default=None):
        """Run a query; on a damaged database recover and return `default`."""
        try:
            return _retrying(fn)
        except sqlite3.Error as e:
            if not is_corruption(e):
                raise _unusable(self.path, e) from None
            self._recover(e)
            return default

    def _migrate(self) -> None:
        """Bring an older cache database up to SCHEMA_VERSION (columns added since)."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(last_keys)")}
        if "updated" not in cols:
            _retrying(lambda: self.db.execute("ALTER TABLE last_keys ADD COLUMN updated REAL NOT NULL DEFAULT 0"))
        if "peak_kb" not in cols:
            _retrying(lambda: self.db.execute("ALTER TABLE last_keys ADD COLUMN peak_kb INTEGER NOT NULL DEFAULT 0"))
        _retrying(lambda: self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}"))

    def record_build(self, workspace: str, command: str, exit_code: int, stats, duration: float) -> None:
        """One row per build, for `moltb cache stats` (hit rate, lock waits)."""
        row = (time.time(), workspace, command, exit_code, stats.total, stats.executed, stats.cached,
               stats.failed, stats.lock_waits, round(stats.lock_wait_s, 4), round(duration, 3))
        self._guarded(lambda: self.db.execute("INSERT INTO builds VALUES (?,?,?,?,?,?,?,?,?,?,?)", row))

    def lookup(self, key: str) -> ActionResult | None:
        row = self._guarded(lambda: self.db.execute("SELECT result FROM actions WHERE key=?", (key,)).fetchone())
        if row is None:
            return None
        try:
            result = ActionResult.decode(row[0])
        except ValueError:
            self.dropped_rows += 1          # a damaged row: a miss, and gone for everyone
            self.delete(key)
            return None
        self._touched.append(key)
        return result

    def put(self, key: str, result: ActionResult) -> None:
        self._pending.append((key, result.encode(), time.time()))

    def remember(self, identity: str, key: str, components: str, duration: float, peak_kb: int = 0) -> None:
        """The last key (and duration, peak RSS) of an action identity: for explain, for
        critical-path priorities and for the scheduler's RAM estimates."""
        self._last_keys[identity] = (key, components, duration, peak_kb)

    def last_peaks(self, identities=None) -> dict[str, int]:
        """Identity -> peak RSS (KiB) measured at its last execution (of `identities`
        only, when given: a build of a few actions does not read every row)."""
        if identities is None:
            rows = self._guarded(lambda: self.db.execute(
                "SELECT identity, peak_kb FROM last_keys WHERE peak_kb > 0").fetchall(), [])
        else:
            wanted = list(identities)
            rows = []
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                rows += self._guarded(lambda: self.db.execute(
                    f"SELECT identity, peak_kb FROM last_keys WHERE peak_kb > 0 AND identity IN "
                    f"({','.join('?' * len(chunk))})", chunk).fetchall(), [])
        return {i: k for i, k in rows if isinstance(i, str) and isinstance(k, int)}

    def last_key(self, identity: str) -> tuple[str, str, float] | None:
        row = self._guarded(lambda: self.db.execute(
            "SELECT key, components, duration FROM last_keys WHERE identity=?", (identity,)).fetchone())
        return tuple(row) if row else None

    def last_durations(self) -> dict[str, float]:
        rows = self._guarded(lambda: self.db.execute("SELECT identity, duration FROM last_keys").fetchall(), [])
        return {i: d for i, d in rows if isinstance(i, str) and isinstance(d, (int, float))}

    def delete(self, key: str) -> None:
        self._guarded(lambda: self.db.execute("DELETE FROM actions WHERE key=?", (key,)))

    def drop_naming(self, digest: str) -> int:
        """Delete every result that names a blob (it was lost or found corrupt): the
        actions that made it, and any built from it, run again."""
        if not _DIGEST.fullmatch(digest):
            return 0
        self._pending = [p for p in self._pending if digest not in p[1]]
        cur = self._guarded(lambda: self.db.execute("DELETE FROM actions WHERE instr(result, ?) > 0", (digest,)))
        return cur.rowcount if cur is not None else 0

    def flush(self) -> None:
        """Write pending rows in one short transaction."""
        if not (self._pending or self._touched or self._last_keys):
            return
        pending, touched, last = self._pending, self._touched, self._last_keys
        now = time.time()

        def tx():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany("INSERT OR REPLACE INTO actions(key, result, created, last_used) "
                                    "VALUES (?,?,?,?)", [(k, r, t, t) for k, r, t in pending])
                if touched:
                    self.db.executemany("UPDATE actions SET last_used=? WHERE key=?", [(now, k) for k in touched])
                if last:
                    self.db.executemany("INSERT OR REPLACE INTO last_keys(identity, key, components, duration, "
                                        "peak_kb, updated) VALUES (?,?,?,?,?,?)",
                                        [(i, *v, now) for i, v in last.items()])
                self.db.execute("COMMIT")
            except BaseException:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise

        for attempt in range(2):
            try:
                _retrying(tx)
                break
            except sqlite3.Error as e:
                if not is_corruption(e) or attempt:
                    raise _unusable(self.path, e) from None
                self._recover(e)               # write this build's results to the fresh database
        self._pending, self._touched, self._last_keys = [], [], {}

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()


def _unusable(path: str, e: Exception) -> EnvironmentProblem:
    return EnvironmentProblem(f"cannot use the action cache at {path}: {e}",
                              hint="check that the cache directory is writable and the disk is not full "
                                   "(or set MOLTB_CACHE_DIR)")
