"""Action runners: what runs an action's spawn and hands back its result (Ninja's
`CommandRunner`). The scheduler decides what runs and when; a runner only runs it.

`LocalRunner` runs spawns as local processes (in the sandbox), as Ninja does but for
one thing: the scheduler's thread waits for any of them to exit on their pidfds and
collects each result itself, while one starter thread stages exec roots and starts
the processes (a start blocks its thread until the child has exec'd, for about as long
as a small action runs; Python lets other threads run meanwhile). Other runners
(tests' in-process fake, remote executors) implement the same protocol."""
from __future__ import annotations

import os
import queue
import select
import threading
import time
from collections import deque
from typing import Protocol

from molt_build.actiongraph import Node
from molt_build.executor import LocalExecutor, Running, SpawnResult
from molt_build.process_groups import POLL_S, exited, wait_exit
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


class LocalRunner:
    def __init__(self, executor: LocalExecutor, jobs: int):
        self.executor = executor
        self.capacity = max(1, jobs)
        self._done: deque = deque()          # (node, ready, result or exception), in the order they ended
        self._lock = threading.Lock()        # guards what the starter thread shares with the scheduler's
        self._running: dict[int, tuple[Node, Ready, Running]] = {}     # by pid
        self._by_fd: dict[int, int] = {}     # pidfd -> pid
        self._polled: set[int] = set()       # pids of processes without a pidfd
        self._started: deque = deque()       # what the starter could not start: (node, ready, result)
        self._inflight = 0                   # submitted, result not handed out yet
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._starter: threading.Thread | None = None

    def submit(self, node: Node, ready: Ready) -> None:
        if not self.executor.mode:
            self.executor.settle_mode()      # here: what it reports is written by this thread
        if self._starter is None:
            self._starter = threading.Thread(target=self._start_loop, name="moltb-start", daemon=True)
            self._starter.start()
        self._inflight += 1
        self._queue.put((node, ready))

    def _start_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()                    # everything submitted before it has started
                continue
            node, ready = item
            try:
                r = self.executor.start(ready.spawn)
            except Exception as e:           # e.g. a full disk: the scheduler decides (as for a result)
                r = e
            with self._lock:
                if isinstance(r, Running):
                    self._running[r.pid] = (node, ready, r)
                    if r.pidfd >= 0:
                        self._by_fd[r.pidfd] = r.pid
                        self._epoll.register(r.pidfd, select.EPOLLIN)
                    else:
                        self._polled.add(r.pid)
                        self._wake()
                else:
                    self._started.append((node, ready, r))
                    self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b".")
        except BlockingIOError:
            pass                              # a wake-up is pending already

    def next_result(self, timeout: float):
        if not self._done:
            self._wait(timeout)
        if self._done:
            self._inflight -= 1
            return self._done.popleft()
        return None

    def _wait(self, timeout: float | None) -> None:
        """Finish what exits within `timeout` seconds (None: until one result); kill
        what outlives its deadline on the way."""
        end = None if timeout is None else time.monotonic() + timeout
        while self._inflight > len(self._done):
            now = time.monotonic()
            deadline = end
            with self._lock:
                running = list(self._running.values())
                polled = bool(self._polled)
            for _node, _ready, r in running:
                if r.deadline is not None and not r.timed_out:
                    if r.deadline <= now:
                        self.executor.expire(r)
                    elif deadline is None or r.deadline < deadline:
                        deadline = r.deadline
            wait = -1 if deadline is None else max(0.0, deadline - now)
            if polled:
                wait = POLL_S if wait < 0 else min(wait, POLL_S)
            events = self._epoll.poll(wait)
            ended = []
            with self._lock:
                for fd, _ev in events:
                    if fd == self._wake_r:
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                    else:
                        ended.append(self._by_fd[fd])
                ended += [pid for pid in self._polled if exited(self._running[pid][2])]
                self._done.extend(self._started)
                self._started.clear()
            for pid in ended:
                self._finish(pid)
            if self._done or (end is not None and time.monotonic() >= end):
                return

    def _finish(self, pid: int) -> None:
        with self._lock:
            entry = self._running.pop(pid, None)
            if entry is None:
                return
            node, ready, r = entry
            if r.pidfd in self._by_fd:
                del self._by_fd[r.pidfd]
                self._epoll.unregister(r.pidfd)
            self._polled.discard(pid)
        try:
            res = self.executor.finish(r)
        except Exception as e:
            res = e
        self._done.append((node, ready, res))

    def _drain(self) -> list:
        """Every submitted spawn's result, once it ended (after cancel_all: killed)."""
        if self._starter is not None:
            idle = threading.Event()
            self._queue.put(idle)
            idle.wait()
        with self._lock:
            self._done.extend(self._started)
            self._started.clear()
            running = list(self._running.values())
        for _node, _ready, r in running:
            wait_exit(r, self.executor.expire)
            self._finish(r.pid)
        out = list(self._done)
        self._done.clear()
        self._inflight = 0
        return out

    def pending_results(self):
        """After cancel_all: what ended, and what was killed (as cancelled results)."""
        return self._drain()

    def cancel_all(self) -> None:
        self.executor.cancel_all()

    def close(self) -> None:
        """Wait for what still runs (its results are dropped), then stop the starter."""
        if self._epoll.closed:
            return
        self._drain()
        if self._starter is not None:
            self._queue.put(None)
            self._starter.join()
            self._starter = None
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
