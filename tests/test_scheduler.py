"""Scheduling: parallelism, failure handling (-k), interruption and timeouts, with real
processes and real signals."""
from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import datetime

import pytest

from conftest import HEADER, SANDBOXES, kill_named, procs_named, two_sleeps, unique_sleep, wait_for



def _ts(e: dict) -> float:
    return datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()


def test_independent_actions_run_in_parallel(ws):
    ws.write(two_sleeps(1))
    r = ws.run("build", "//...", "-j", "2")
    assert r.returncode == 0, r.stderr
    ev = ws.events()
    started = {e["label"]: _ts(e) for e in ev if e["event"] == "action_started"}
    finished = {e["label"]: _ts(e) for e in ev if e["event"] == "action_finished"}
    assert set(started) == set(finished) == {"//:s1", "//:s2"}
    # Both were running at once, and the pair took about one sleep, not two.
    assert max(started.values()) < min(finished.values())
    assert max(finished.values()) - min(started.values()) < 1.8


def test_jobs_1_runs_one_at_a_time(ws):
    ws.write(two_sleeps(0.3))
    r = ws.run("build", "//...", "-j", "1")
    assert r.returncode == 0, r.stderr
    ev = [e for e in ws.events() if e["event"] in ("action_started", "action_finished")]
    assert [e["event"] for e in ev] == ["action_started", "action_finished"] * 2


FAIL_AND_SLOW = HEADER + """\
[bad]
rule = "genrule"
outs = ["bad.txt"]
cmd = "echo 'bad is broken' >&2; exit 3"

[slow]
rule = "genrule"
outs = ["slow.txt"]
cmd = "sleep 0.5; echo slow > $@"

[later]
rule = "genrule"
srcs = [":slow"]
outs = ["later.txt"]
cmd = "cp $< $@"

[after_bad]
rule = "genrule"
srcs = [":bad"]
outs = ["after_bad.txt"]
cmd = "cp $< $@"
"""


def test_keep_going_builds_what_does_not_depend_on_the_failure(ws):
    ws.write({"BUILD.toml": FAIL_AND_SLOW})
    r = ws.run("build", "//...", "-j", "2", "-k")
    assert r.returncode == 1, r.stderr
    assert "bad is broken" in r.stderr
    assert ws.out("later.txt").read_text() == "slow\n"
    assert not ws.out("after_bad.txt").exists()
    fin = ws.finished()
    assert fin["exit_code"] == 1
    assert fin["actions"]["failed"] == 1 and fin["actions"]["executed"] == 2
    started = [e["label"] for e in ws.events() if e["event"] == "action_started"]
    assert "//:after_bad" not in started


def test_without_keep_going_no_new_work_starts_after_a_failure(ws):
    ws.write({"BUILD.toml": FAIL_AND_SLOW})
    r = ws.run("build", "//...", "-j", "2")
    assert r.returncode == 1, r.stderr
    assert "bad is broken" in r.stderr
    started = [e["label"] for e in ws.events() if e["event"] == "action_started"]
    assert "//:later" not in started and "//:after_bad" not in started
    assert not ws.out("later.txt").exists()
    assert ws.finished()["exit_code"] == 1


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_ctrl_c_kills_running_actions_and_exits_8(ws, sandbox):
    sleep = unique_sleep(60)
    ws.write({"BUILD.toml": HEADER + f"""\
        [hang]
        rule = "genrule"
        outs = ["hang.txt"]
        cmd = "{sleep} & wait; echo done > $@"
        """})
    p = ws.popen("build", "//:hang", f"--sandbox={sandbox}")
    try:
        assert wait_for(lambda: procs_named(sleep), proc=p), "the action never started"
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        gone = wait_for(lambda: not procs_named(sleep), within=5)
        kill_named(sleep)
    assert p.returncode == 8, err
    assert elapsed < 5
    assert "Traceback" not in err
    assert gone, "the action's processes were not killed"
    fin = ws.finished()
    assert fin["exit_code"] == 8
    assert not ws.out("hang.txt").exists()
    # Nothing half-done was cached: a build of a quick version of the target runs it.
    ws.write({"BUILD.toml": HEADER + """\
        [hang]
        rule = "genrule"
        outs = ["hang.txt"]
        cmd = "echo done > $@"
        """})
    r = ws.run("build", "//:hang")
    assert r.returncode == 0, r.stderr
    assert [e["label"] for e in ws.executed()] == ["//:hang"]


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_sigterm_also_kills_actions(ws, sandbox):
    sleep = unique_sleep(60)
    ws.write({"BUILD.toml": HEADER + f"""\
        [hang]
        rule = "genrule"
        outs = ["hang.txt"]
        cmd = "{sleep} & wait; echo done > $@"
        """})
    p = ws.popen("build", "//:hang", f"--sandbox={sandbox}")
    try:
        assert wait_for(lambda: procs_named(sleep), proc=p), "the action never started"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        gone = wait_for(lambda: not procs_named(sleep), within=5)
        kill_named(sleep)
    assert p.returncode == 8, err
    assert gone


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_action_timeout_kills_the_action(ws, sandbox):
    sleep = unique_sleep(30)
    ws.write({"BUILD.toml": HEADER + f"""\
        [slow]
        rule = "genrule"
        outs = ["slow.txt"]
        cmd = "{sleep} & wait; echo done > $@"
        """})
    t0 = time.monotonic()
    try:
        r = ws.run("build", "//:slow", "--action-timeout", "1", f"--sandbox={sandbox}", timeout=60)
        elapsed = time.monotonic() - t0
        gone = wait_for(lambda: not procs_named(sleep), within=5)
    finally:
        kill_named(sleep)
    assert r.returncode == 1, r.stderr
    assert elapsed < 15
    assert re.search(r"time[ds]? ?out", r.stderr, re.I), r.stderr
    assert "//:slow" in r.stderr
    assert gone



def test_failure_output_has_a_copy_pasteable_command(ws):
    ws.write({"BUILD.toml": HEADER + """\
        [boom]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = ["boom.txt"]
        cmd = "echo \\"it's broken: $$(cat $<)\\" >&2; exit 7"
        """, "in.txt": "input-text\n"})
    r = ws.run("build", "//:boom")
    assert r.returncode == 1, r.stderr
    assert "it's broken: input-text" in r.stderr
    # A line that is a shell command reproducing the failure (run from anywhere).
    cmd_lines = [l.strip() for l in r.stderr.splitlines() if "/bin/sh" in l and "exit 7" in l]
    assert cmd_lines, r.stderr
    repro = subprocess.run(["/bin/sh", "-c", cmd_lines[0]], cwd="/", capture_output=True, text=True,
                           timeout=30)
    assert repro.returncode == 7, (cmd_lines[0], repro.stderr)
    assert "it's broken: input-text" in repro.stderr


SLOW_ANALYSIS_PLUGIN = '''\
import time

import pytest
from molt_build.api import Attrs, Field, Rule


class SlowAttrs(Attrs):
    marker: str = Field(description="file written when analysis starts")


def slow(ctx):
    with open(ctx.attrs.marker, "w") as f:
        f.write("analysing\\n")
    time.sleep(30)
    return []


RULES = [Rule("slow_analysis", SlowAttrs, slow, uses_toolchain=False)]
'''


def test_ctrl_c_during_analysis_is_logged_as_interrupted(ws, tmp_path):
    marker = tmp_path / "analysis.started"
    (ws.root / "plugins").mkdir(parents=True)
    (ws.root / "plugins" / "slow_rule.py").write_text(SLOW_ANALYSIS_PLUGIN)
    ws.write({"BUILD.toml": f"""\
        [workspace]
        name = "t"
        plugin_dirs = ["plugins"]

        [s]
        rule = "slow_analysis"
        marker = "{marker}"
        """})
    p = ws.popen("build", "//:s")
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 8, err
    assert ws.finished()["exit_code"] == 8
