"""Several `moltb` processes sharing one cache, as real processes: each action runs at
most once between them, the others wait for its result, and a waiter whose holder dies
runs the action itself."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter

import pytest

from lock_dirs import drop_lock_dirs
from conftest import HEADER


N_PROCS = 4
N_LEAVES = 8          # g0..g7 read in.txt
N_MIDS = 6            # h0..h5 read two leaves each
N_TOPS = 2            # top0, top1 read three mids each
N_ACTIONS = N_LEAVES + N_MIDS + N_TOPS


def _layered_build() -> str:
    parts = [HEADER]
    for i in range(N_LEAVES):
        parts.append(f"""\
[g{i}]
rule = "genrule"
srcs = ["in.txt"]
outs = ["g{i}.txt"]
cmd = "sleep 0.3; echo g{i} $$(cat $<) > $@"

""")
    for i in range(N_MIDS):
        parts.append(f"""\
[h{i}]
rule = "genrule"
srcs = [":g{i}", ":g{i + 1}"]
outs = ["h{i}.txt"]
cmd = "sleep 0.3; cat $(SRCS) > $@; echo h{i} >> $@"

""")
    for i in range(N_TOPS):
        mids = ", ".join(f'":h{j}"' for j in range(3 * i, 3 * i + 3))
        parts.append(f"""\
[top{i}]
rule = "genrule"
srcs = [{mids}]
outs = ["top{i}.txt"]
cmd = "sleep 0.3; cat $(SRCS) > $@; echo top{i} >> $@"

""")
    return "".join(parts)


def _expected() -> dict[str, str]:
    """What every output must hold, computed independently of moltb."""
    out = {}
    for i in range(N_LEAVES):
        out[f"g{i}.txt"] = f"g{i} shared input\n"
    for i in range(N_MIDS):
        out[f"h{i}.txt"] = out[f"g{i}.txt"] + out[f"g{i + 1}.txt"] + f"h{i}\n"
    for i in range(N_TOPS):
        out[f"top{i}.txt"] = "".join(out[f"h{j}.txt"] for j in range(3 * i, 3 * i + 3)) + f"top{i}\n"
    return out


LAYERED = {"BUILD.toml": _layered_build(), "in.txt": "shared input\n"}


def _read_log(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _finished(events: list[dict]) -> dict:
    assert events and events[-1]["event"] == "build_finished", events[-1:]
    return events[-1]


# --------------------------------------------------------- N processes at once

@pytest.fixture(scope="module")
def concurrent_run(tmp_path_factory):
    """Four copies of one workspace, one cache, four `moltb build //...` started together."""
    from conftest import TempWorkspace
    base = tmp_path_factory.mktemp("shared")
    copies = [TempWorkspace(base / f"copy{i}", base / "cache").write(LAYERED) for i in range(N_PROCS)]
    procs = [w.popen("build", "//...", "-j", "4") for w in copies]
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    logs = [_read_log(w.root / "logs/moltb/latest.jsonl") for w in copies]
    yield copies, results, logs
    drop_lock_dirs(base)


def test_concurrent_processes_all_succeed(concurrent_run):
    _copies, results, logs = concurrent_run
    for code, _out, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    for events in logs:
        fin = _finished(events)
        assert fin["exit_code"] == 0
        assert fin["actions"]["total"] == N_ACTIONS
        assert fin["actions"]["failed"] == 0
        assert fin["actions"]["executed"] + fin["actions"]["cached"] == N_ACTIONS


def test_concurrent_processes_run_each_action_exactly_once(concurrent_run):
    _copies, _results, logs = concurrent_run
    executed_total = sum(_finished(events)["actions"]["executed"] for events in logs)
    finished = [e for events in logs for e in events if e["event"] == "action_finished"]
    keys = {e["key"] for e in finished}
    assert len(keys) == N_ACTIONS
    # Every process saw every action finish (executed or cached) exactly once.
    for events in logs:
        mine = [e["key"] for e in events if e["event"] == "action_finished"]
        assert sorted(mine) == sorted(keys)
    ran = Counter(e["key"] for e in finished if e["status"] == "executed")
    assert executed_total == len(keys), f"duplicates: {[k for k, n in ran.items() if n > 1]}"
    assert set(ran) == keys and set(ran.values()) == {1}
    # The work really was shared, not done by the first process before the others began.
    assert sum(1 for events in logs if _finished(events)["actions"]["executed"] > 0) >= 2


def test_concurrent_processes_produce_identical_correct_outputs(concurrent_run):
    copies, _results, _logs = concurrent_run
    expected = _expected()
    for w in copies:
        for name, text in expected.items():
            assert w.out(name).read_text() == text, (w.root, name)


def test_concurrent_processes_log_lock_waits(concurrent_run):
    _copies, _results, logs = concurrent_run
    waits = [e for events in logs for e in events if e["event"] == "lock_wait"]
    assert waits, "no process ever waited for another one's action"
    keys = {e["key"] for events in logs for e in events if e["event"] == "action_finished"}
    for w in waits:
        assert w["key"] in keys
        assert w["outcome"] in ("cached", "run here")
        assert w["waited_s"] >= 0
    # Nobody failed or died: every wait ended with the holder's result.
    assert {w["outcome"] for w in waits} == {"cached"}
    # The waiter took the holder's result: its own action_finished for that key is a hit.
    for events in logs:
        for e in events:
            if e["event"] == "lock_wait":
                mine = [x["status"] for x in events if x["event"] == "action_finished" and x["key"] == e["key"]]
                assert mine == ["cached"], (e, mine)


def test_cache_stats_reports_the_concurrent_lock_waits(concurrent_run):
    copies, _results, logs = concurrent_run
    waits = sum(1 for events in logs for e in events if e["event"] == "lock_wait")
    r = copies[0].run("cache", "stats", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["entries"] >= N_ACTIONS
    assert s["blobs"] > 0 and s["bytes"] > 0
    assert s["builds"] >= N_PROCS
    assert s["lock_waits"] == waits > 0
    assert s["lock_wait_s"] > 0
    assert s["recent_executed"] == N_ACTIONS
    assert s["recent_actions"] == N_PROCS * N_ACTIONS
    # The human form says the same.
    r = copies[1].run("cache", "stats")
    assert r.returncode == 0, r.stderr
    assert f"entries: {s['entries']}" in r.stdout
    assert f"{waits} in all" in r.stdout


# ------------------------------------------------------------- holder dies

def _wait_for_event(log_dir, event: str, proc: subprocess.Popen, within: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            events = _read_log(log_dir / "latest.jsonl")
        except (FileNotFoundError, json.JSONDecodeError):
            events = []
        if any(e["event"] == event for e in events):
            return events
        if proc.poll() is not None:
            raise AssertionError(f"moltb exited early ({proc.returncode}): {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"no {event} event within {within}s")


def _kill_pids(path) -> None:
    """Action process groups left running by a SIGKILLed build (they have their own session)."""
    try:
        pids = [int(x) for x in path.read_text().split()]
    except FileNotFoundError:
        return
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def test_waiter_runs_the_action_when_the_holder_is_killed(make_ws, tmp_path):
    runs = tmp_path / "runs.log"
    spec = {"BUILD.toml": HEADER + f"""\
        [slow]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = ["slow.txt"]
        tags = ["no-sandbox"]   # the run log is a side channel to the assertions
        cmd = "echo $$$$ >> {runs}; sleep 5; tr a-z A-Z < $< > $@"
        """, "in.txt": "payload\n"}
    a = make_ws("a").write(spec)
    b = make_ws("b").write(spec)
    pa = a.popen("build", "//:slow", start_new_session=True)
    pb = None
    try:
        events_a = _wait_for_event(a.root / "logs/moltb", "action_started", pa)
        key = next(e["key"] for e in events_a if e["event"] == "action_started")
        pb = b.popen("build", "//:slow", start_new_session=True)
        # B logs nothing until its scheduler loop is running: by then it has computed the
        # key, found the lock held and parked the action among those it waits for.
        deadline = time.monotonic() + 30
        while not (b.root / "logs/moltb/latest.jsonl").exists() or \
                not (b.root / "logs/moltb/latest.jsonl").read_text().strip():
            assert pb.poll() is None, pb.communicate()
            assert time.monotonic() < deadline, "B never started building"
            time.sleep(0.05)
        time.sleep(0.5)
        assert pa.poll() is None and pb.poll() is None
        killed_at = time.monotonic()
        os.killpg(pa.pid, signal.SIGKILL)
        pa.wait(timeout=10)
        _, err_b = pb.communicate(timeout=60)
        elapsed = time.monotonic() - killed_at
    finally:
        for p in (pa, pb):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        _kill_pids(runs)
    assert pa.returncode == -signal.SIGKILL
    assert pb.returncode == 0, err_b
    assert "Traceback" not in err_b
    # A's action started once, then B ran it itself (A died holding the lock: the OS freed it).
    assert len(runs.read_text().split()) == 2
    assert elapsed < 30
    ev = b.events()
    waits = [e for e in ev if e["event"] == "lock_wait"]
    assert len(waits) == 1, waits
    assert waits[0]["key"] == key and waits[0]["label"] == "//:slow"
    assert waits[0]["outcome"] == "run here"
    assert waits[0]["waited_s"] > 0.3
    assert [(e["label"], e["key"]) for e in b.executed()] == [("//:slow", key)]
    order = [e["event"] for e in ev if e["event"] in ("lock_wait", "action_started", "action_finished")]
    assert order == ["lock_wait", "action_started", "action_finished"]
    assert b.finished()["actions"] == {"total": 1, "executed": 1, "cached": 0, "failed": 0}
    assert b.out("slow.txt").read_text() == "PAYLOAD\n"
    # A's killed run left nothing behind in the cache: a third copy is a pure hit on B's result.
    c = make_ws("c").write(spec)
    r = c.run("build", "//:slow")
    assert r.returncode == 0, r.stderr
    assert c.finished()["actions"]["executed"] == 0
    assert c.out("slow.txt").read_text() == "PAYLOAD\n"
    assert len(runs.read_text().split()) == 2
