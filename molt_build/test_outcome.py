"""How a failing test run is named: OOM, or FAILED with the reason.

A test's program may die of memory exhaustion in several ways: under `--rlimit-mb`
an allocation fails (Python's MemoryError, ENOMEM, C++'s bad_alloc, Rust's
"memory allocation of N bytes failed", an allocator that aborts), or the kernel's OOM
killer sends SIGKILL. A SIGKILL is only called OOM when the kernel's own count of OOM
kills moved during the run: a test that kills its wrapper, or is killed by someone
else, is FAILED with the signal named."""
from __future__ import annotations

import signal

# What programs print when an allocation fails (also read by the differential compare tool).
OOM_MARKERS = (b"MemoryError", b"Cannot allocate memory", b"out of memory", b"Out of memory",
               b"std::bad_alloc", b"failed to allocate", b"memory allocation of", b"unable to allocate")
# The statuses a test may report in $TEST_STATUS_FILE (one word): a passing run
# (exit 0) may say XFAIL or SKIPPED, a failing one XPASS, OOM or FAILED.
TEST_STATUSES = ("PASSED", "FAILED", "XFAIL", "XPASS", "OOM", "SKIPPED")


def oom_kills() -> int:
    """The kernel's count of processes its OOM killer has killed (-1 if unknown)."""
    try:
        with open("/proc/vmstat", "rb") as f:
            for line in f:
                if line.startswith(b"oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return -1


def signal_of(exit_code: int) -> int:
    """The signal that ended the run: a negative exit code (the process itself), or a
    shell's 128+N (a program below the wrapper); 0 for a plain exit."""
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code <= 128 + 64:
        return exit_code - 128
    return 0


def signal_name(sig: int) -> str:
    try:
        return f"{signal.Signals(sig).name} ({sig})"
    except ValueError:
        return f"signal {sig}"


def classify_failure(exit_code: int, stderr: bytes, rlimit_mb: int, oom_killed: bool) -> tuple[str, str]:
    """(status, reason) of a test run that failed: OOM or FAILED."""
    sig = signal_of(exit_code)
    if sig == signal.SIGKILL and oom_killed:
        return "OOM", "killed by the kernel's OOM killer"
    if rlimit_mb and any(m in stderr for m in OOM_MARKERS):
        return "OOM", f"ran out of memory under --rlimit-mb {rlimit_mb}"
    if sig:
        return "FAILED", f"killed by signal {signal_name(sig)}"
    return "FAILED", ""


def read_status(path: str) -> str:
    try:
        with open(path, "rb") as f:
            word = f.read(64).decode(errors="replace").strip().upper()
    except OSError:
        return ""
    return word if word in TEST_STATUSES else ""
