"""The build event log: `logs/moltb/<UTC timestamp>-<pid>.jsonl`, one JSON object per
line with `event` and `ts`, never overwritten; `latest.jsonl` links to the newest."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

from molt_build.layout import LOG_DIR


_last_ts: tuple[int, str] = (-1, "")


def utc_now() -> str:
    """UTC ISO 8601 with milliseconds; formatted once per millisecond (hot path)."""
    global _last_ts
    ms = time.time_ns() // 1_000_000
    if ms != _last_ts[0]:
        text = datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")
        _last_ts = (ms, text.replace("+00:00", "Z"))
    return _last_ts[1]


class EventLog:
    def __init__(self, root: str):
        self.dir = os.path.join(root, LOG_DIR)
        os.makedirs(self.dir, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        self.path = os.path.join(self.dir, f"{stamp}-{os.getpid()}.jsonl")
        self._f = open(self.path, "x", encoding="utf-8", buffering=1 << 16)
        self._closed = False
        latest = os.path.join(self.dir, "latest.jsonl")
        tmp = f"{latest}.{os.getpid()}.tmp"
        try:
            os.symlink(os.path.basename(self.path), tmp)
            os.replace(tmp, latest)
        except OSError:
            pass

    def emit(self, event: str, **fields) -> None:
        if self._closed:
            return
        self._f.write(json.dumps({"event": event, "ts": utc_now(), **fields}, separators=(",", ":")) + "\n")

    def emit_raw(self, event: str, tail: str) -> None:
        """An event whose fields are already JSON: `tail` is '"k":v,...}' ."""
        if not self._closed:
            self._f.write('{"event":"' + event + '","ts":"' + utc_now() + '",' + tail + "\n")

    def write_raw_events(self, event: str, tails: list[str]) -> None:
        """Many events of one kind, their fields already JSON ('"k":v,...}'), one time."""
        head = '{"event":"' + event + '","ts":"' + utc_now() + '",'
        self._f.write("".join([head + tail + "\n" for tail in tails]))

    def write_raw(self, lines: list[str]) -> None:
        self._f.write("".join(lines))

    def flush(self) -> None:
        if not self._closed:
            self._f.flush()

    def close(self) -> None:
        if not self._closed:
            self._f.close()
            self._closed = True
