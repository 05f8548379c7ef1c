"""`--profile-out FILE`: a Chrome trace (chrome://tracing, Perfetto) of one build:
the phases (loading, analysis, execution) and every executed action on its lane."""
from __future__ import annotations

import json
import os
import time


class Trace:
    def __init__(self):
        self.t0 = time.monotonic()
        self.events: list[dict] = []
        self._lanes: list[float] = []   # lane -> time it becomes free
        self._phase: tuple[str, float] | None = None

    def _us(self, t: float) -> int:
        return int((t - self.t0) * 1e6)

    def phase(self, name: str) -> None:
        now = time.monotonic()
        if self._phase is not None:
            pname, start = self._phase
            self.events.append({"name": pname, "cat": "phase", "ph": "X", "ts": self._us(start),
                                "dur": self._us(now) - self._us(start), "pid": 1, "tid": 0})
        self._phase = (name, now) if name else None

    def action(self, label: str, mnemonic: str, start: float, end: float, status: str) -> None:
        lane = next((i for i, free in enumerate(self._lanes) if free <= start), None)
        if lane is None:
            lane = len(self._lanes)
            self._lanes.append(end)
        else:
            self._lanes[lane] = end
        self.events.append({"name": f"{mnemonic} {label}", "cat": mnemonic, "ph": "X", "ts": self._us(start),
                            "dur": max(1, self._us(end) - self._us(start)), "pid": 1, "tid": lane + 1,
                            "args": {"status": status}})

    def counter(self, name: str, t: float, value: float) -> None:
        """A value over time (e.g. the RAM running actions are estimated to use)."""
        self.events.append({"name": name, "ph": "C", "ts": self._us(t), "pid": 1, "args": {"MiB": value}})

    def write(self, path: str) -> None:
        self.phase("")
        meta = [{"name": "thread_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": "moltb phases"}}]
        meta += [{"name": "thread_name", "ph": "M", "pid": 1, "tid": i + 1, "args": {"name": f"lane {i + 1}"}}
                 for i in range(len(self._lanes))]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"traceEvents": meta + self.events, "displayTimeUnit": "ms"}, f)
