"""The action cache: sqlite (WAL mode) mapping action key → result.

A result names its outputs' digests (blobs live in the CAS), exit code, and the
digests of stdout/stderr. Rows are written only after their blobs are in the CAS, so
a row never points at a blob that was not completely written. Writes are batched in
short `BEGIN IMMEDIATE` transactions with a busy timeout and retries, so several
`moltb` processes share one database without "database is locked" reaching anyone.
"""
from __future__ import annotations

import json
import os
import random
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
    updated REAL NOT NULL DEFAULT 0
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
SCHEMA_VERSION = 2


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

    def encode(self) -> str:
        row = [self.outputs, self.exit_code, self.stdout, self.stderr, round(self.duration, 4)]
        if self.status or self.max_rss_kb:
            row += [self.status, self.max_rss_kb]
        return json.dumps(row, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> "ActionResult":
        row = json.loads(text)
        o, code, so, se, dur = row[:5]
        status, rss = row[5:7] if len(row) >= 7 else ("", 0)
        return cls([tuple(x) for x in o], code, so, se, dur, status, rss)


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


class ActionCache:
    def __init__(self, cache_dir: str):
        self.path = os.path.join(cache_dir, "actions.db")
        try:
            os.makedirs(cache_dir, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=60000")
            _retrying(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
            self.db.execute("PRAGMA synchronous=NORMAL")
            _retrying(lambda: self.db.executescript(SCHEMA))
            self._migrate()
        except (sqlite3.Error, OSError) as e:
            raise EnvironmentProblem(f"cannot open the action cache at {self.path}: {e}",
                                     hint="check that the cache directory is writable (or set MOLTB_CACHE_DIR)") from None
        self._pending: list[tuple[str, str, float]] = []
        self._touched: list[str] = []
        self._last_keys: dict[str, tuple[str, str, float]] = {}

    def _migrate(self) -> None:
        """Bring an older cache database up to SCHEMA_VERSION (columns added since)."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(last_keys)")}
        if "updated" not in cols:
            _retrying(lambda: self.db.execute("ALTER TABLE last_keys ADD COLUMN updated REAL NOT NULL DEFAULT 0"))
        _retrying(lambda: self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}"))

    def record_build(self, workspace: str, command: str, exit_code: int, stats, duration: float) -> None:
        """One row per build, for `moltb cache stats` (hit rate, lock waits)."""
        row = (time.time(), workspace, command, exit_code, stats.total, stats.executed, stats.cached,
               stats.failed, stats.lock_waits, round(stats.lock_wait_s, 4), round(duration, 3))
        _retrying(lambda: self.db.execute("INSERT INTO builds VALUES (?,?,?,?,?,?,?,?,?,?,?)", row))

    def lookup(self, key: str) -> ActionResult | None:
        row = _retrying(lambda: self.db.execute("SELECT result FROM actions WHERE key=?", (key,)).fetchone())
        if row is None:
            return None
        self._touched.append(key)
        return ActionResult.decode(row[0])

    def put(self, key: str, result: ActionResult) -> None:
        self._pending.append((key, result.encode(), time.time()))

    def remember(self, identity: str, key: str, components: str, duration: float) -> None:
        self._last_keys[identity] = (key, components, duration)

    def last_key(self, identity: str) -> tuple[str, str, float] | None:
        row = _retrying(lambda: self.db.execute(
            "SELECT key, components, duration FROM last_keys WHERE identity=?", (identity,)).fetchone())
        return tuple(row) if row else None

    def last_durations(self) -> dict[str, float]:
        return dict(_retrying(lambda: self.db.execute("SELECT identity, duration FROM last_keys").fetchall()))

    def delete(self, key: str) -> None:
        _retrying(lambda: self.db.execute("DELETE FROM actions WHERE key=?", (key,)))

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
                                        "updated) VALUES (?,?,?,?,?)", [(i, *v, now) for i, v in last.items()])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

        try:
            _retrying(tx)
        except sqlite3.Error as e:
            raise EnvironmentProblem(f"cannot write the action cache at {self.path}: {e}") from None
        self._pending, self._touched, self._last_keys = [], [], {}

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()
