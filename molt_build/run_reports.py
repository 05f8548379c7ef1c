"""What the scheduler reports of each finished action and test run to the event log:
`action_finished` for a success (hand-encoded: it is written once per action, and
for the no-op snapshot's replay) and `test_result`."""
from __future__ import annotations

import json

from molt_build.actiongraph import Node
from molt_build.run_state import TestOutcome


class RunReports:
    def __init__(self, events):
        self.events = events
        self.finished_lines: dict[int, str] = {}     # node id -> its line, as a cached replay
        self._mnemonics: dict[str, str] = {}

    def success(self, node: Node, key: str, status: str, duration: float, worker: str = "") -> None:
        # Labels and keys need no JSON escaping (their syntax excludes quotes and
        # backslashes); the mnemonic is encoded once per distinct value.
        a = node.action
        mn = self._mnemonics.get(a.mnemonic)
        if mn is None:
            mn = self._mnemonics[a.mnemonic] = json.dumps(a.mnemonic)
        head = f'"label":"{a.owner}","mnemonic":{mn},"key":"{key}","status":'
        where = f',"worker":{json.dumps(worker)}' if worker else ""
        self.events.emit_raw("action_finished", f'{head}"{status}","duration":{duration}{where}}}')
        self.finished_lines[node.id] = head + '"cached","duration":0.0}'

    def test(self, node: Node, outcome: TestOutcome) -> TestOutcome:
        self.events.emit("test_result", label=outcome.label, run=node.action.outputs[0].path,
                         status=outcome.status, cached=outcome.cached, duration=round(outcome.duration, 4),
                         attempts=outcome.attempts, max_rss_kb=outcome.max_rss_kb)
        return outcome
