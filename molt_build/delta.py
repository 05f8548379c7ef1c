"""A build from the snapshot runs only what the changed files reach.

The snapshot (noop.py) says which files moved since the last successful build of the
same request. Actions that read or write none of them, and consume no output of an
action that runs, are up to date without a look: their last result and their
`action_finished` line are carried over. Only the rest go to the scheduler, which
checks them as always (their keys, the cache). This is what the scheduler would
conclude action by action (action_status.unchanged_since_last_run), without the
per-action work for the thousands that did not move.
"""
from __future__ import annotations

from molt_build.actiongraph import action_identity

MAX_SHARE = 0.5     # past this share of the actions, the plain schedule is as cheap


class Delta:
    def __init__(self, run: list[int], outside: list[int], generated: dict, results: dict, lines: list):
        self.run = run                # indexes (in the plan's actions) of the actions to schedule
        self.outside = outside        # indexes of the actions carried over
        self.generated = generated    # path -> (digest, executable): outputs of carried actions that run ones read
        self.results = results        # identity -> (key, outputs) of the carried actions
        self.lines = lines            # the snapshot's action_finished line of each action, by index

    def carried_lines(self) -> list[str]:
        return [self.lines[i] for i in self.outside]

    def merged_lines(self, finished: dict[int, str]) -> list:
        """The lines for the next snapshot: the carried ones, and the new ones of the
        actions that ran (the scheduler numbers them in `run` order)."""
        lines = list(self.lines)
        for node_id, line in finished.items():
            lines[self.run[node_id]] = line
        return lines


class GraphIndex:
    """What `narrow` needs to know of a graph: who reads and who writes each file, each
    action's identity, and the actions that run whatever changed (tests, actions with
    no last result). Made per build, or once by the server for the graphs it holds."""

    def __init__(self, actions: list, prior: dict, lines: list):
        self.actions, self.prior, self.lines = actions, prior, lines
        self.consumers: dict[str, list[int]] = {}
        self.producer: dict[str, int] = {}
        self.identities: list[str] = []
        self.always: set[int] = set()
        for i, a in enumerate(actions):
            ident = action_identity(a)
            self.identities.append(ident)
            if a.test or ident not in prior or lines[i] is None:
                self.always.add(i)
            for f in a.inputs:
                self.consumers.setdefault(f.locator, []).append(i)
            for o in a.outputs:
                self.producer[o.path] = i

    def fits(self, actions: list, prior: dict, lines: list) -> bool:
        return actions is self.actions and prior is self.prior and lines is self.lines


def narrow(actions: list, prior: dict | None, dirty: set[str] | None, lines: list | None,
           index: GraphIndex | None = None) -> Delta | None:
    """The actions the changed files reach, or None when all of them should be scheduled."""
    if prior is None or dirty is None or lines is None or len(lines) != len(actions) or not actions:
        return None
    if index is None or not index.fits(actions, prior, lines):
        index = GraphIndex(actions, prior, lines)
    consumers, producer, identities = index.consumers, index.producer, index.identities
    seeds = set(index.always)
    for path in dirty:
        seeds.update(consumers.get(path, ()))
        if path in producer:
            seeds.add(producer[path])
    reach, stack = set(seeds), list(seeds)
    while stack:
        for o in actions[stack.pop()].outputs:
            for j in consumers.get(o.path, ()):
                if j not in reach:
                    reach.add(j)
                    stack.append(j)
    if len(reach) > MAX_SHARE * len(actions):
        return None
    run = sorted(reach)
    outside = [i for i in range(len(actions)) if i not in reach]
    generated = {}
    for i in run:
        for f in actions[i].inputs:
            p = producer.get(f.locator) if not f.is_source else None
            if p is not None and p not in reach:
                for path, digest, _size, exe in prior[identities[p]][1]:
                    generated[path] = (digest, exe)
    results = {identities[i]: prior[identities[i]] for i in outside}
    return Delta(run, outside, generated, results, lines)


def build_view(actions: list, top_level: list) -> tuple[list, list]:
    """What `moltb build` schedules of a graph: not the test runs (those are `moltb
    test`'s), and the targets' outputs without the test runs' markers."""
    markers = {o.path for a in actions if a.test for o in a.outputs}
    if not markers:
        return actions, top_level
    return [a for a in actions if not a.test], \
        [(l, c, [p for p in paths if p not in markers], exe) for l, c, paths, exe in top_level]


def prepare(cached, lines: list) -> None:
    """For a graph the server holds: its build view and index, made before a command
    needs them (the command inherits them)."""
    actions, top = build_view(cached.actions, cached.top_level)
    cached.build_view = (cached.actions, actions, top)
    if len(lines) == len(actions):
        cached.build_index = GraphIndex(actions, cached.prior, lines)
