"""Human output: a Ninja-style status line on a terminal (`[done/total] Compiling
//pkg:t foo.c`, rewritten in place), plain lines otherwise."""
from __future__ import annotations

import os
import shutil
import sys
import time


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
        text = f"[{self.done}/{self.total}] {message}"
        if self.tty:
            self._status(message, True)
        else:
            self.stream.write(text + "\n")

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
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        self.stream.write(text if text.endswith("\n") else text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        self.stream.flush()
