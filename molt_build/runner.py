"""Action runners: what runs an action's spawn and hands back its result (Ninja's
`CommandRunner`). The scheduler decides what runs and when; a runner only runs it.

`LocalRunner` runs spawns as local processes (in the sandbox) on a thread pool; other
runners (tests' in-process fake, remote executors) implement the same protocol."""
from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from molt_build.actiongraph import Node
from molt_build.executor import LocalExecutor, SpawnResult
from molt_build.run_state import Ready


class ActionRunner(Protocol):
    capacity: int                     # actions it can run at once

    def submit(self, node: Node, ready: Ready) -> None:
        """Start running `ready.spawn`; its result comes back from `next_result`."""

    def next_result(self, timeout: float) -> tuple[Node, Ready, SpawnResult | BaseException] | None:
        """A finished action (its result, or the exception that stopped it), or None
        after `timeout` seconds without one."""

    def pending_results(self) -> list[tuple[Node, Ready, SpawnResult | BaseException]]:
        """The results already finished, without waiting (after a cancel)."""

    def cancel_all(self) -> None:
        """Kill what runs (Ctrl-C)."""

    def close(self) -> None:
        """Wait for what was submitted, then release the runner's threads."""


class QueuedResults:
    """Results that arrive from other threads as (node, ready, future) on a queue;
    `_outcome` turns one into (node, ready, result or exception)."""

    def __init__(self):
        self._done: queue.SimpleQueue = queue.SimpleQueue()

    def _outcome(self, item):  # pragma: no cover - abstract
        raise NotImplementedError

    def next_result(self, timeout: float):
        try:
            return self._outcome(self._done.get(timeout=timeout))
        except queue.Empty:
            return None

    def pending_results(self):
        out = []
        while True:
            try:
                out.append(self._outcome(self._done.get_nowait()))
            except queue.Empty:
                return out


class LocalRunner(QueuedResults):
    def __init__(self, executor: LocalExecutor, jobs: int):
        super().__init__()
        self.executor = executor
        self.capacity = max(1, jobs)
        self._pool = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="moltb-exec")

    def submit(self, node: Node, ready: Ready) -> None:
        fut = self._pool.submit(self.executor.execute, ready.spawn)
        fut.add_done_callback(lambda f, node=node, ready=ready: self._done.put((node, ready, f)))

    def _outcome(self, item):
        node, ready, fut = item
        exc = fut.exception()
        return node, ready, (exc if exc is not None else fut.result())

    def cancel_all(self) -> None:
        self.executor.cancel_all()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
