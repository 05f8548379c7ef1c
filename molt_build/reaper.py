"""Kills what a dead moltb left running:

    python -S -E reaper.py      (stdin: a pipe from moltb)

moltb starts its actions in their own process groups (so Ctrl-C can kill each group
whole), which also means they outlive a moltb killed with SIGKILL. This small process,
started beside the first action, reads `+PGID` and `-PGID` lines as actions start and
finish. When the pipe closes without a final `.` line, moltb died: every process group
still listed is killed. Standard library only: it runs without site-packages.

It reads what has gathered in the pipe, then sleeps a little before reading again:
moltb's lines (two per action) then find no reader waiting to be woken, so they cost
moltb a write each and this process a few wake-ups a second, not two per action."""
import os
import signal
import time

GATHER_S = 0.05          # a dead moltb's groups are killed within about this long


def main() -> None:
    live: set[int] = set()
    pending = b""
    while True:
        data = os.read(0, 1 << 16)
        if not data:
            break                               # moltb died: no final "."
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            op, rest = line[:1], line[1:].strip()
            if op == b"+":
                live.add(int(rest))
            elif op == b"-":
                live.discard(int(rest))
            elif op == b".":
                return
        time.sleep(GATHER_S)
    for pgid in live:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is moltb's to handle
    main()
