"""What the scheduler reports of each action and test run to the event log:
`action_started` and `action_finished` for a success (hand-encoded: each is written
once per action, and the latter for the no-op snapshot's replay) and `test_result`."""
from __future__ import annotations

import json

from molt_build.actiongraph import Node
from molt_build.run_state import TestOutcome


class RunReports:
    def __init__(self, events):
        self.events = events
        self.finished_lines: dict[int, str] = {}     # node id -> its line, as a cached replay
        self._mnemonics: dict[str, str] = {}

    def _mnemonic(self, mnemonic: str) -> str:
        mn = self._mnemonics.get(mnemonic)
        if mn is None:
            mn = self._mnemonics[mnemonic] = json.dumps(mnemonic)
        return mn

    def started_tail(self, node: Node, key: str, ram_mb: int, ram_in_use_mb: int, extra: dict) -> str:
        """The fields of its `action_started` line (for `EventLog.emit_raw`)."""
        more = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in extra.items())
        return (f'"label":"{node.action.owner}","mnemonic":{self._mnemonic(node.action.mnemonic)},"key":"{key}",'
                f'"ram_mb":{ram_mb},"ram_in_use_mb":{ram_in_use_mb}{more}}}')

    def success(self, node: Node, key: str, status: str, duration: float, worker: str = "") -> None:
        # Labels and keys need no JSON escaping (their syntax excludes quotes and
        # backslashes); the mnemonic is encoded once per distinct value.
        a = node.action
        mn = self._mnemonic(a.mnemonic)
        head = f'"label":"{a.owner}","mnemonic":{mn},"key":"{key}","status":'
        where = f',"worker":{json.dumps(worker)}' if worker else ""
        self.events.emit_raw("action_finished", f'{head}"{status}","duration":{duration}{where}}}')
        self.finished_lines[node.id] = head + '"cached","duration":0.0}'

    def test(self, node: Node, outcome: TestOutcome) -> TestOutcome:
        self.events.emit("test_result", label=outcome.label, run=node.action.outputs[0].path,
                         status=outcome.status, cached=outcome.cached, duration=round(outcome.duration, 4),
                         attempts=outcome.attempts, max_rss_kb=outcome.max_rss_kb)
        return outcome
