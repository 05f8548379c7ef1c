"""The local runner and executor in-process, on real processes: results come back as
the processes end (pidfd, or polling where there is none), a timeout kills, cancel
kills what runs and what was not started yet, and an exec root reused by the next
action holds only that action's inputs and directories."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

import molt_build.process_groups as process_groups
from molt_build.cas import CAS
from molt_build.digests import hash_file
from molt_build.executor import LocalExecutor, Spawn
from molt_build.runner import LocalRunner

ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


@pytest.fixture(params=["pidfd", "polled"])
def runner(request, tmp_path, monkeypatch):
    if request.param == "polled":
        monkeypatch.setattr(process_groups, "_PIDFD", [False])
    (tmp_path / "ws").mkdir()
    ex = LocalExecutor(str(tmp_path / "sandbox"), CAS(str(tmp_path / "cache")), str(tmp_path / "ws"), "light")
    r = LocalRunner(ex, 2)
    yield r
    r.close()
    ex.close()


def spawn(cmd: str, outputs=(), sources=(), timeout=None) -> Spawn:
    return Spawn(("/bin/sh", "-c", cmd), dict(ENV), list(sources), [], list(outputs), timeout)


def submit(runner, name: str, sp: Spawn):
    node, ready = SimpleNamespace(name=name), SimpleNamespace(spawn=sp)
    runner.submit(node, ready)
    return node


def results(runner, n: int, limit: float = 30) -> dict:
    out, end = {}, time.monotonic() + limit
    while len(out) < n and time.monotonic() < end:
        got = runner.next_result(0.5)
        if got is not None:
            out[got[0].name] = got[2]
    assert len(out) == n, out
    return out


def test_results_come_back_in_the_order_processes_end(runner):
    submit(runner, "slow", spawn("sleep 0.6; echo slow > out.txt", ["out.txt"]))
    submit(runner, "fast", spawn("echo fast > out.txt", ["out.txt"]))
    first = None
    while first is None:
        first = runner.next_result(0.5)
    assert first[0].name == "fast" and first[2].ok
    rest = results(runner, 1)
    res = rest["slow"]
    assert res.ok and res.outputs[0][0] == "out.txt"
    assert runner.executor.cas.read_bytes(res.outputs[0][1]) == b"slow\n"


def test_a_timeout_kills_the_process_group(runner):
    submit(runner, "t", spawn("sleep 30 & sleep 30", timeout=0.5))
    t = time.monotonic()
    res = results(runner, 1)["t"]
    assert res.timed_out and not res.ok
    assert time.monotonic() - t < 10


def test_cancel_kills_what_runs_and_what_is_not_started(runner):
    for i in range(4):                  # two run, two wait for the starter
        submit(runner, f"s{i}", spawn("sleep 30"))
    time.sleep(0.3)
    runner.cancel_all()
    t = time.monotonic()
    got = runner.pending_results()
    assert time.monotonic() - t < 10
    assert sorted(n.name for n, _r, _res in got) == ["s0", "s1", "s2", "s3"]
    assert all(res.cancelled for _n, _r, res in got)


def test_a_failure_to_start_is_a_result(runner):
    sp = spawn("true")
    sp.argv = ("/nonexistent/tool",)
    submit(runner, "x", sp)
    res = results(runner, 1)["x"]
    assert res.exit_code == 127 and "cannot start" in res.error


def test_a_reused_exec_root_holds_only_the_next_actions_inputs(tmp_path, runner):
    """The first action's input directory, a file and a directory it made, its
    undeclared output and what it left in tmp are gone; the second sees only its own."""
    ws = tmp_path / "ws"
    (ws / "pkg1").mkdir()
    (ws / "pkg2").mkdir()
    (ws / "pkg1" / "a.txt").write_text("a\n")
    (ws / "pkg2" / "b.txt").write_text("b\n")
    src = lambda rel: (rel, str(ws / rel), hash_file(str(ws / rel)))   # noqa: E731
    submit(runner, "first", spawn("cat pkg1/a.txt > out/1.txt; echo x > pkg1/junk; mkdir -p made/deep; "
                                  "echo y > undeclared.txt; echo t > $TMPDIR/t; echo status > ../test.status; pwd >&2",
                                  ["out/1.txt"], [src("pkg1/a.txt")]))
    first = results(runner, 1)["first"]
    assert first.ok
    listing = "pwd; find . | sort; ls -A $TMPDIR; ls -A .. | sort"
    submit(runner, "second", spawn(f"cat pkg2/b.txt > out/2.txt; ({listing}) >&2", ["out/2.txt"],
                                   [src("pkg2/b.txt")]))
    res = results(runner, 1)["second"]
    assert res.ok, res.stderr
    where, *seen = res.stderr.decode().split()
    assert where == first.stderr.decode().strip()          # the same exec root, reused
    assert seen == [".", "./out", "./out/2.txt", "./pkg2", "./pkg2/b.txt", "stderr", "stdout", "tmp", "x"], seen


def test_a_link_planted_at_the_stdout_file_is_not_truncated(tmp_path, runner):
    """An action that swaps its sandbox's stdout file for a hard link to a file of its
    choosing: the next action in that exec root must not write into that file."""
    keep = tmp_path / "precious.txt"
    keep.write_text("keep me\n")
    submit(runner, "swap", spawn(f"rm -f ../stdout && ln {keep} ../stdout"))
    assert results(runner, 1)["swap"].ok
    submit(runner, "next", spawn("echo hello"))
    res = results(runner, 1)["next"]
    assert res.ok and res.stdout == b"hello\n"
    assert keep.read_text() == "keep me\n"
