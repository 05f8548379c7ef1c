"""Cross-process dedupe of actions: a process takes an action key's lock to run it;
an action whose key another process holds waits (polled, without blocking other work)
and, once the lock is free, looks in the cache again: the other process has usually
just stored the result. A result's lock is released only after its row is committed,
so a waiter never finds the lock free and the row missing."""
from __future__ import annotations

import time

from molt_build.actiongraph import Node
from molt_build.run_state import BuildStats, Ready


class KeyClaims:
    def __init__(self, locks, cache, events, stats: BuildStats):
        self.locks = locks                  # KeyLocks, or None: no cross-process dedupe
        self.cache, self.events, self.stats = cache, events, stats
        self.waiting: list[tuple[Node, Ready]] = []     # keys another process holds
        self._to_release: list[str] = []                # keys whose result awaits commit

    def claim(self, node: Node, ready: Ready, take_hit) -> Ready | None:
        """`ready` when this process may run it; None when it waits for another process
        or was just cached by one. `take_hit(node, key, hit or None, components)` sees
        what the cache holds once the lock is held, and finishes the node from a hit."""
        if self.locks is None:
            return ready
        if not self.locks.try_acquire(ready.key):
            ready.waiting_since = time.monotonic()
            self.waiting.append((node, ready))
            return None
        if take_hit(node, ready.key, self.cache.lookup(ready.key), ready.components):
            self.locks.release(ready.key)
            return None
        return ready

    def poll(self, take_hit) -> list[tuple[Node, Ready]]:
        """The waiting actions whose lock is now free and that are not cached: run them."""
        still, runnable = [], []
        for node, ready in self.waiting:
            if not self.locks.try_acquire(ready.key):
                still.append((node, ready))
                continue
            waited = time.monotonic() - ready.waiting_since
            self.stats.lock_waits += 1
            self.stats.lock_wait_s += waited
            if take_hit(node, ready.key, self.cache.lookup(ready.key), ready.components):
                self.locks.release(ready.key)
                outcome = "cached"
            else:
                runnable.append((node, ready))
                outcome = "run here"
            self.events.emit("lock_wait", label=str(node.action.owner), mnemonic=node.action.mnemonic,
                             key=ready.key, waited_s=round(waited, 4), outcome=outcome)
        self.waiting = still
        return runnable

    def release(self, key: str) -> None:
        """Nothing to wait for (a failure is never cached): release now."""
        if self.locks is not None:
            self.locks.release(key)

    def release_after_commit(self, key: str) -> None:
        if self.locks is not None:
            self._to_release.append(key)

    @property
    def awaiting_commit(self) -> bool:
        return bool(self._to_release)

    def committed(self) -> None:
        """The cache's pending rows are committed: release their keys."""
        for key in self._to_release:
            self.locks.release(key)
        self._to_release = []

    def release_all(self) -> None:
        if self.locks is not None:
            self.locks.release_all()
