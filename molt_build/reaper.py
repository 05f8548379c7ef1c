"""Kills what a dead moltb left running:

    python -S -E reaper.py      (stdin: a pipe from moltb)

moltb starts its actions in their own process groups (so Ctrl-C can kill each group
whole), which also means they outlive a moltb killed with SIGKILL. This small process,
started beside the first action, reads `+PGID` and `-PGID` lines as actions start and
finish. When the pipe closes without a final `.` line, moltb died: every process group
still listed is killed. Standard library only: it runs without site-packages."""
import os
import signal
import sys


def main() -> None:
    live: set[int] = set()
    clean = False
    for line in sys.stdin:
        op, rest = line[:1], line[1:].strip()
        if op == "+":
            live.add(int(rest))
        elif op == "-":
            live.discard(int(rest))
        elif op == ".":
            clean = True
            break
    if clean:
        return
    for pgid in live:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is moltb's to handle
    main()
