"""The action graph: actions linked by the files they produce and consume, with a
critical-path priority for the scheduler."""
from __future__ import annotations

from molt_build.model import Action
from molt_build.errors import AnalysisError


def action_identity(action: Action) -> str:
    """What names an action from one build to the next (its results in the snapshot)."""
    return f"{action.owner}|{action.mnemonic}|{action.outputs[0].path}"


class Node:
    __slots__ = ("id", "action", "deps", "dependents", "pending", "prio", "identity")

    def __init__(self, id: int, action: Action):
        self.id = id
        self.action = action
        self.deps: list[Node] = []
        self.dependents: list[Node] = []
        self.pending = 0
        self.prio = 0.0
        self.identity = action_identity(action)


class ActionGraph:
    def __init__(self, actions: list[Action], weights: dict[str, float] | None = None, prebuilt=()):
        """`prebuilt`: generated files whose producers are not in this graph (up to
        date, carried over from the last build: see delta.py)."""
        self.nodes: list[Node] = []
        self.producer: dict[str, Node] = {}
        for a in actions:
            n = Node(len(self.nodes), a)
            self.nodes.append(n)
            for o in a.outputs:
                other = self.producer.get(o.path)
                if other is not None:
                    raise AnalysisError(f"output '{o.path}' is declared by two actions: "
                                        f"{other.action.owner} ({other.action.mnemonic}) and "
                                        f"{a.owner} ({a.mnemonic})", target=str(a.owner))
                self.producer[o.path] = n
        for n in self.nodes:
            seen = set()
            for f in n.action.inputs:
                if f.is_source:
                    continue
                p = self.producer.get(f.path)
                if p is None and f.path in prebuilt:
                    continue
                if p is None:
                    raise AnalysisError(f"input '{f.path}' of {n.action.mnemonic} is produced by no action",
                                        target=str(n.action.owner))
                if p.id not in seen:
                    seen.add(p.id)
                    n.deps.append(p)
                    p.dependents.append(n)
            n.pending = len(n.deps)
        self._priorities(weights or {})

    def _priorities(self, weights: dict[str, float]) -> None:
        """Longest remaining path (by last known durations, else 1 per action)."""
        indeg = [len(n.dependents) for n in self.nodes]
        stack = [n for n in self.nodes if not n.dependents]
        seen = 0
        while stack:
            n = stack.pop()
            seen += 1
            w = weights.get(n.identity, 0.05)
            n.prio = w + max((d.prio for d in n.dependents), default=0.0)
            for d in n.deps:
                indeg[d.id] -= 1
                if indeg[d.id] == 0:
                    stack.append(d)
        if seen != len(self.nodes):
            raise AnalysisError("the action graph has a cycle (an action consumes its own output)")
