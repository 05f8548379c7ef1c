"""The plan of a build (Ninja's `Plan`): which actions are ready, in critical-path
order; which wait for which; what a failure leaves unrunnable. It knows nothing of
caches, processes or tests.

A producer can be asked to run again when an input it made is lost from the cache
(`rerun`): the actions that need that input wait for the new run only (`wait_for_rerun`),
not for the producer's other dependents."""
from __future__ import annotations

import heapq

from molt_build.actiongraph import ActionGraph, Node


class Plan:
    def __init__(self, graph: ActionGraph):
        self.graph = graph
        self._heap: list[tuple[float, int]] = []
        self.failed: set[int] = set()                 # failed, or unrunnable because of a failure
        self._rerun: dict[int, str] = {}              # producer id -> running | done
        self._rewait: dict[int, list[Node]] = {}      # producer id -> actions waiting for its new run
        for n in graph.nodes:
            if n.pending == 0:
                self.push(n)

    def has_ready(self) -> bool:
        return bool(self._heap)

    def push(self, node: Node) -> None:
        heapq.heappush(self._heap, (-node.prio, node.id))

    def pop(self) -> Node:
        """The ready action on the longest remaining path."""
        return self.graph.nodes[heapq.heappop(self._heap)[1]]

    def complete(self, node: Node) -> None:
        """`node` succeeded: what waited only for it becomes ready."""
        waiting = self._rewait.pop(node.id, None)      # a rerun: only those waiting for it
        if waiting is not None:
            self._rerun[node.id] = "done"
        for d in node.dependents if waiting is None else waiting:
            d.pending -= 1
            if d.pending == 0 and d.id not in self.failed:
                self.push(d)

    def fail(self, node: Node) -> int:
        """`node` failed: its dependents can never run. Returns how many were newly
        left unrunnable (transitively)."""
        skipped = 0
        stack = list(node.dependents)
        while stack:
            d = stack.pop()
            if d.id in self.failed:
                continue
            self.failed.add(d.id)
            skipped += 1
            stack.extend(d.dependents)
        self.failed.add(node.id)
        return skipped

    def rerun_state(self, producer: Node) -> str:
        """'' (not asked to run again), 'running' or 'done'."""
        return self._rerun.get(producer.id, "")

    def wait_for_rerun(self, node: Node, producer: Node) -> None:
        node.pending += 1
        self._rewait.setdefault(producer.id, []).append(node)

    def cancel_waits(self, node: Node, producer: Node) -> None:
        """`node` stops waiting for `producer` (whose rerun cannot help it)."""
        self._rewait.pop(producer.id, None)
        node.pending -= 1

    def rerun(self, producer: Node) -> None:
        self._rerun[producer.id] = "running"
        self.push(producer)
