"""How a failing test is named: memory exhaustion under --rlimit-mb is OOM whatever
form it takes (MemoryError, ENOMEM); a test killed by a signal that is not the OOM
killer's (one that kills its own wrapper, say) is FAILED with the signal named, in
either sandbox."""
from __future__ import annotations

import pytest

from conftest import SANDBOXES
from test_test_cmd import logs_dir, one_test, run_events, summary_json

RLIMIT = ["--rlimit-mb", "300"]


def only_status(ws) -> str:
    (t,) = summary_json(ws)["tests"]
    return t["status"]


def log(ws) -> str:
    return (logs_dir(ws) / "t/test.log").read_text()


@pytest.mark.parametrize("sandbox", SANDBOXES)
@pytest.mark.parametrize("program", [
    "python3 -c 'x = bytearray(1 << 30)'",                              # MemoryError
    "python3 -c 'import mmap; mmap.mmap(-1, 1 << 31)'",                 # OSError ENOMEM
])
def test_memory_exhaustion_under_the_rlimit_is_oom(ws, sandbox, program):
    one_test(ws, program + "\n")
    r = ws.run("test", "//:t", *RLIMIT, f"--sandbox={sandbox}")
    assert r.returncode == 3, r.stderr
    assert only_status(ws) == "OOM", log(ws)
    assert len(run_events(ws)) == 1            # retried once, alone, then reported
    assert [e for e in ws.events() if e["event"] == "test_retry_alone"]
    assert "ran out of memory under --rlimit-mb 300" in log(ws)
    # The same program with room to run passes: the cap is one of the test's conditions.
    one_test(ws, "python3 -c 'x = bytearray(1 << 20)'\n")
    assert ws.run("test", "//:t", *RLIMIT, f"--sandbox={sandbox}").returncode == 0


@pytest.mark.parametrize("sandbox", SANDBOXES)
@pytest.mark.parametrize("script, signal_name", [
    ("kill -9 $PPID\nsleep 5\n", "SIGKILL (9)"),        # kills the wrapper that runs it
    ("kill -9 $$\n", "SIGKILL (9)"),
    ("kill -SEGV $$\n", "SIGSEGV (11)"),
])
def test_a_test_killed_by_a_signal_is_failed_naming_it(ws, sandbox, script, signal_name):
    one_test(ws, script)
    r = ws.run("test", "//:t", *RLIMIT, f"--sandbox={sandbox}")
    assert r.returncode == 3, r.stderr
    assert only_status(ws) == "FAILED", log(ws)
    assert f"killed by signal {signal_name}" in log(ws)
    assert not [e for e in ws.events() if e["event"] == "test_retry_alone"]    # not taken for OOM
