"""The command line: exit codes, the build event log, the summary line, clean, version."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from datetime import datetime, timezone

import pytest
from conftest import HEADER, two_sleeps


TWO = {"BUILD.toml": HEADER + """\
[a]
rule = "genrule"
srcs = ["in.txt"]
outs = ["a.txt"]
cmd = "tr a-z A-Z < $< > $@"

[b]
rule = "genrule"
srcs = [":a"]
outs = ["b.txt"]
cmd = "cat $< $< > $@"
""", "in.txt": "hi\n"}

SUMMARY = re.compile(r"^INFO: (\d+) actions: (\d+) executed, (\d+) cached, (\d+) failed$", re.M)


def summary(stderr: str) -> tuple[int, int, int, int]:
    m = SUMMARY.findall(stderr)
    assert len(m) == 1, stderr
    return tuple(int(x) for x in m[0])


def logs(ws) -> list[str]:
    d = ws.root / "logs" / "moltb"
    return sorted(n for n in os.listdir(d) if n != "latest.jsonl" and n.endswith(".jsonl"))


def read_log(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


# ---------------------------------------------------------------- exit codes

def test_success_is_exit_0_and_failure_exit_1(ws):
    ws.write(TWO)
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    ws.write({"BUILD.toml": HEADER + """\
        [broken]
        rule = "genrule"
        outs = ["x"]
        cmd = "exit 1"
        """})
    r = ws.run("build", "//...")
    assert r.returncode == 1, r.stderr


@pytest.mark.parametrize("args, words", [
    (["build", "//:nope"], ["nope"]),
    (["build", "//nopkg:x"], ["nopkg"]),
    (["build", "::bad"], ["::bad"]),
    (["build", "//missing/..."], ["missing"]),
    (["build", "//:a", "--no-such-flag"], ["--no-such-flag"]),
    (["build", "//:a", "-j", "0"], ["-j"]),
    (["build", "//:a", "--profile", "weird"], ["weird"]),
    (["build", "//:a", "--toolchain", "nosuch"], ["nosuch"]),
])
def test_usage_and_analysis_errors_exit_2(ws, args, words):
    ws.write(TWO)
    r = ws.run(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    assert not ws.out("a.txt").exists()


def test_unknown_default_toolchain_exits_2_with_a_message(ws):
    ws.write({"BUILD.toml": """\
        [workspace]
        name = "t"
        default_toolchain = "imaginary"

        [a]
        rule = "genrule"
        outs = ["a.txt"]
        cmd = "touch $@"
        """})
    r = ws.run("build", "//:a")
    assert r.returncode == 2, r.stderr
    assert "imaginary" in r.stderr and "toolchain" in r.stderr
    assert "Traceback" not in r.stderr


def test_unusable_toolchain_setting_exits_2_with_a_message(ws):
    ws.write({"BUILD.toml": """\
        [workspace]
        name = "t"

        [workspace.toolchains.native]
        compiler = "no-such-compiler"

        [lib]
        rule = "c_library"
        srcs = ["lib.c"]
        """, "lib.c": "int f(void) { return 1; }\n"})
    r = ws.run("build", "//:lib")
    assert r.returncode == 2, r.stderr
    assert "native" in r.stderr and "no-such-compiler" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_build_file_exits_2(ws):
    ws.write({"BUILD.toml": HEADER + """\
        [a]
        rule = "genrule"
        outs = ["a.txt"]
        cmd = "touch $@"
        colour = "blue"
        """})
    r = ws.run("build", "//:a")
    assert r.returncode == 2, r.stderr
    assert "colour" in r.stderr and "Traceback" not in r.stderr


def test_no_workspace_exits_2(tmp_path, ws):
    outside = tmp_path / "not-a-workspace"
    outside.mkdir()
    r = ws.run("build", "//...", cwd=outside)
    assert r.returncode == 2, r.stderr
    assert "workspace" in r.stderr.lower() and "Traceback" not in r.stderr


def test_version(ws):
    r = ws.run("version")
    assert r.returncode == 0, r.stderr
    from molt_build import __version__
    assert __version__ in r.stdout + r.stderr


# ----------------------------------------------------------------- event log

def _check_log(ev: list[dict]) -> dict:
    assert ev, "empty event log"
    for e in ev:
        assert isinstance(e.get("event"), str) and e["event"]
        ts = datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
        assert ts.utcoffset() == timezone.utc.utcoffset(None)
    assert ev[0]["event"] == "build_started"
    assert ev[-1]["event"] == "build_finished"
    assert [e["event"] for e in ev].count("build_finished") == 1
    fin = ev[-1]
    assert isinstance(fin["exit_code"], int)
    assert set(fin["actions"]) >= {"total", "executed", "cached", "failed"}
    assert set(fin["tests"]) >= {"passed", "failed", "cached", "flaky", "xfail", "skipped"}
    for e in ev:
        if e["event"] == "action_finished":
            assert {"label", "mnemonic", "key", "status", "duration"} <= set(e)
            assert e["status"] in ("executed", "cached", "remote_cached", "failed")
            assert isinstance(e["duration"], (int, float))
    done = [e for e in ev if e["event"] == "action_finished"]
    a = fin["actions"]
    assert a["executed"] == sum(e["status"] == "executed" for e in done)
    assert a["cached"] == sum(e["status"] in ("cached", "remote_cached") for e in done)
    assert a["failed"] == sum(e["status"] == "failed" for e in done)
    return fin


def test_event_log_per_invocation_and_latest_link(ws):
    ws.write(TWO)
    r1 = ws.run("build", "//...")
    assert r1.returncode == 0, r1.stderr
    first = logs(ws)
    assert len(first) == 1
    assert re.fullmatch(r"\d{8}T\d{6}.*-\d+\.jsonl", first[0]), first
    first_text = (ws.root / "logs/moltb" / first[0]).read_text()
    fin = _check_log(read_log(ws.root / "logs/moltb" / first[0]))
    assert fin["exit_code"] == 0
    assert fin["actions"] == {"total": 2, "executed": 2, "cached": 0, "failed": 0}
    assert summary(r1.stderr) == (2, 2, 0, 0)
    done = {e["label"]: e for e in read_log(ws.root / "logs/moltb" / first[0]) if e["event"] == "action_finished"}
    assert done["//:a"]["mnemonic"] == "Genrule" and re.fullmatch(r"[0-9a-f]{16,}", done["//:a"]["key"])
    configured = [e for e in read_log(ws.root / "logs/moltb" / first[0]) if e["event"] == "target_configured"]
    assert {e["label"] for e in configured} == {"//:a", "//:b"}

    time.sleep(0.01)
    ws.write({"in.txt": "changed\n"})
    r2 = ws.run("build", "//...")
    assert r2.returncode == 0, r2.stderr
    time.sleep(0.01)
    r3 = ws.run("build", "//:nope")
    assert r3.returncode == 2
    names = logs(ws)
    assert len(names) == 3 and names[0] == first[0]
    assert (ws.root / "logs/moltb" / first[0]).read_text() == first_text   # never overwritten
    latest = ws.root / "logs/moltb/latest.jsonl"
    assert os.path.realpath(latest) == os.path.realpath(ws.root / "logs/moltb" / names[-1])
    ev3 = ws.events()
    fin3 = _check_log(ev3)
    assert fin3["exit_code"] == 2
    fin2 = _check_log(read_log(ws.root / "logs/moltb" / names[1]))
    assert fin2["actions"]["executed"] == 2 and summary(r2.stderr) == (2, 2, 0, 0)


def test_verbose_prints_the_event_log_path(ws):
    ws.write(TWO)
    r = ws.run("build", "//...", "-v")
    assert r.returncode == 0, r.stderr
    newest = logs(ws)[-1]
    assert newest in r.stderr


def test_failed_build_event_log_and_summary(ws):
    ws.write({"BUILD.toml": HEADER + """\
        [ok]
        rule = "genrule"
        outs = ["ok.txt"]
        cmd = "echo ok > $@"

        [bad]
        rule = "genrule"
        outs = ["bad.txt"]
        cmd = "exit 4"
        """})
    r = ws.run("build", "//...", "-k")
    assert r.returncode == 1
    fin = _check_log(ws.events())
    assert fin["exit_code"] == 1
    assert fin["actions"]["failed"] == 1 and fin["actions"]["executed"] == 1
    total, executed, cached, failed = summary(r.stderr)
    assert (executed, cached, failed) == (1, 0, 1) and total == fin["actions"]["total"]
    bad = [e for e in ws.events() if e["event"] == "action_finished" and e["label"] == "//:bad"]
    assert bad and bad[0]["status"] == "failed"


def test_noop_build_executes_nothing_and_logs_completely(ws):
    ws.write(TWO)
    assert ws.run("build", "//...").returncode == 0
    for i in range(3):
        if i == 1:
            time.sleep(0.2)   # let the sources age past any "racily clean" window
        r = ws.run("build", "//...")
        assert r.returncode == 0, r.stderr
        fin = _check_log(ws.events())
        assert fin["exit_code"] == 0
        assert fin["actions"] == {"total": 2, "executed": 0, "cached": 2, "failed": 0}
        assert summary(r.stderr) == (2, 0, 2, 0)
        done = [e for e in ws.events() if e["event"] == "action_finished"]
        assert sorted(e["label"] for e in done) == ["//:a", "//:b"]
        assert ws.out("b.txt").read_text() == "HI\nHI\n"
    assert len(logs(ws)) == 4


def test_noop_after_output_deleted_restores_it(ws):
    ws.write(TWO)
    assert ws.run("build", "//...").returncode == 0
    time.sleep(0.2)
    assert ws.run("build", "//...").returncode == 0
    os.unlink(ws.out("b.txt"))
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert ws.out("b.txt").read_text() == "HI\nHI\n"
    assert ws.finished()["actions"]["executed"] == 0


def test_clean_then_rebuild_is_all_cache_hits(ws):
    ws.write(TWO)
    assert ws.run("build", "//...").returncode == 0
    r = ws.run("clean")
    assert r.returncode == 0, r.stderr
    assert not (ws.root / "moltb-out").exists()
    assert os.path.isdir(ws.cache)
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert ws.finished()["actions"] == {"total": 2, "executed": 0, "cached": 2, "failed": 0}
    assert summary(r.stderr) == (2, 0, 2, 0)
    assert ws.out("b.txt").read_text() == "HI\nHI\n"


def test_clean_expunge_removes_the_cache(ws):
    ws.write(TWO)
    assert ws.run("build", "//...").returncode == 0
    assert os.path.isdir(ws.cache)
    r = ws.run("clean", "--expunge")
    assert r.returncode == 0, r.stderr
    assert not (ws.root / "moltb-out").exists()
    assert not os.path.exists(os.path.join(ws.cache, "actions.db"))
    assert not os.path.isdir(os.path.join(ws.cache, "cas")) or not any(os.scandir(os.path.join(ws.cache, "cas")))
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert ws.finished()["actions"] == {"total": 2, "executed": 2, "cached": 0, "failed": 0}
    assert ws.out("b.txt").read_text() == "HI\nHI\n"


def test_clean_outside_a_workspace_exits_2(tmp_path, ws):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    r = ws.run("clean", cwd=outside)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_quiet_prints_only_the_summary(ws):
    ws.write(TWO)
    r = ws.run("build", "//...", "-q")
    assert r.returncode == 0, r.stderr
    assert summary(r.stderr) == (2, 2, 0, 0)
    assert "Executing genrule" not in r.stderr


def test_quiet_still_prints_errors(ws):
    ws.write({"BUILD.toml": HEADER + """\
        [bad]
        rule = "genrule"
        outs = ["bad.txt"]
        cmd = "echo 'visible error text' >&2; exit 1"
        """})
    r = ws.run("build", "//...", "-q")
    assert r.returncode == 1
    assert "visible error text" in r.stderr


def test_cache_dir_flag_selects_the_cache(ws, tmp_path):
    ws.write(TWO)
    other = tmp_path / "other-cache"
    r = ws.run("build", "//...", "--cache-dir", str(other))
    assert r.returncode == 0, r.stderr
    assert (other / "actions.db").is_file()
    assert not os.path.exists(os.path.join(ws.cache, "actions.db"))
    shutil.rmtree(ws.root / "moltb-out")
    r = ws.run("build", "//...", "--cache-dir", str(other))
    assert r.returncode == 0 and ws.finished()["actions"]["cached"] == 2, r.stderr


def test_moltb_jobs_env(ws):
    ws.write(two_sleeps(0.3))
    r = ws.run("build", "//...", env={"MOLTB_JOBS": "1"})
    assert r.returncode == 0, r.stderr
    ev = [e["event"] for e in ws.events() if e["event"] in ("action_started", "action_finished")]
    assert ev == ["action_started", "action_finished"] * 2
    shutil.rmtree(ws.root / "moltb-out")
    r = ws.run("build", "//...", env={"MOLTB_JOBS": "lots"})
    assert r.returncode == 2 and "MOLTB_JOBS" in r.stderr
