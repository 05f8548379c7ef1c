"""Human output: a Ninja-style status line on a terminal (`[done/total] Compiling
//pkg:t foo.c`, rewritten in place), plain lines otherwise. Plain lines are written
in batches (at most LINES_EVERY_S apart, and before any other message): one write per
action would wake a log reader per action."""
from __future__ import annotations

import os
import shutil
import sys
import time

LINES_EVERY_S = 0.1


class Progress:
    def __init__(self, total: int, quiet: bool = False, color: str = "auto", stream=None):
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.tty = self.stream.isatty() and os.environ.get("TERM") != "dumb"
        if color == "yes":
            self.color = True
        elif color == "no":
            self.color = False
        else:
            self.color = self.tty and "NO_COLOR" not in os.environ
        self._last = 0.0
        self._line_open = False
        self._lines: list[str] = []        # plain lines not written yet
        self.width = shutil.get_terminal_size((100, 20)).columns if self.tty else 0

    def red(self, s: str) -> str:
        return f"\x1b[31;1m{s}\x1b[0m" if self.color else s


    def advance(self, message: str | None, force: bool = False) -> None:
        """One action finished; `message` is shown for executed actions."""
        self.done += 1
        if self.quiet or message is None:
            if self.tty and not self.quiet:
                self._status("", force)
            return
        if self.tty:
            self._status(message, True)
            return
        self._lines.append(f"[{self.done}/{self.total}] {message}\n")
        now = time.monotonic()
        if now - self._last >= LINES_EVERY_S:
            self._last = now
            self.flush()

    def flush(self) -> None:
        """Write the plain lines held back (the scheduler calls this while it waits)."""
        if self._lines:
            text = "".join(self._lines)
            self._lines = []
            self.stream.write(text)
            self.stream.flush()

    def _status(self, message: str, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.05 and self.done != self.total:
            return
        self._last = now
        text = f"[{self.done}/{self.total}] {message}"
        if len(text) > self.width - 1:
            text = text[: self.width - 4] + "..."
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self._line_open = True

    def print(self, text: str) -> None:
        """A whole message (failure output, warnings): clears the status line first."""
        self.flush()
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        self.stream.write(text if text.endswith("\n") else text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        self.flush()
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        self.stream.flush()
