"""The workspace server: commands go to it, it learns of edits from the kernel, and
whatever happens to it (killed, its watch overflowing, moltb upgraded, a BUILD file
outside its watch) the answer stays right. Real processes, real signals."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HEADER, REPO, TempWorkspace, _alive, wait_for

N = 60     # sources in the test workspace


def _copies(n: int) -> dict[str, str]:
    files = {"BUILD.toml": HEADER}
    body = []
    for i in range(n):
        files[f"src/f{i:03d}.txt"] = f"file {i}\n"
        body.append(f'[c{i:03d}]\nrule = "genrule"\nsrcs = ["f{i:03d}.txt"]\nouts = ["o{i:03d}.txt"]\n'
                    f'cmd = "tr a-z A-Z < $< > $@"\n')
    files["src/BUILD.toml"] = "\n".join(body)
    return files


class ServerWorkspace(TempWorkspace):
    def env(self, **extra) -> dict:
        return super().env(MOLTB_SERVER="1", MOLTB_SERVER_IDLE_S="120", **extra)

    def info(self) -> dict:
        return json.loads((self.root / "moltb-out/.moltb/server/server.json").read_text())

    def started(self) -> dict:
        return next(e for e in self.events() if e["event"] == "build_started")


@pytest.fixture
def sws(tmp_path) -> ServerWorkspace:
    return ServerWorkspace(tmp_path / "ws", tmp_path / "cache")


def ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def test_commands_go_to_the_server_and_an_edit_is_seen_without_a_stat_walk(sws):
    sws.write(_copies(N))
    ok(sws.run("build", "//src:all"))
    first = sws.started()["server"]
    pid = sws.info()["pid"]
    assert first["pid"] == pid and first["watch"] is True
    ok(sws.run("build", "//src:all"))
    again = sws.started()
    assert again["server"] == {"pid": pid, "request": 2, "watch": True}
    assert sws.finished()["actions"]["executed"] == 0
    # An edit: the command stats what the watch reported, not the workspace.
    (sws.root / "src/f007.txt").write_text("edited\n")
    ok(sws.run("build", "//src:all"))
    started = sws.started()
    assert started["server"]["pid"] == pid
    assert started["files_checked"] < 10, started
    assert [e["label"] for e in sws.executed()] == ["//src:c007"]
    assert sws.out("src/o007.txt").read_text() == "EDITED\n"
    # The same request in its own process stats every source and output.
    ok(sws.run("build", "//src:all", "--no-server"))
    assert "server" not in sws.started() and sws.started()["files_checked"] >= 2 * N


def test_no_server_and_moltb_server_0_run_in_the_process(sws):
    sws.write(_copies(3))
    ok(sws.run("build", "//src:all", "--no-server"))
    assert "server" not in sws.started()
    ok(sws.run("build", "//src:all", env={"MOLTB_SERVER": "0"}))
    assert "server" not in sws.started()
    assert not (sws.root / "moltb-out/.moltb/server/server.json").exists()


def test_a_killed_server_is_replaced_and_the_answer_is_right(sws):
    sws.write(_copies(5))
    ok(sws.run("build", "//src:all"))
    pid = sws.info()["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not _alive(pid), within=10)
    (sws.root / "src/f002.txt").write_text("changed while no server ran\n")
    ok(sws.run("build", "//src:all"))
    assert sws.started()["server"]["pid"] not in (pid, None)
    assert [e["label"] for e in sws.executed()] == ["//src:c002"]
    assert sws.out("src/o002.txt").read_text() == "CHANGED WHILE NO SERVER RAN\n"


def test_a_command_outlives_a_server_killed_under_it(sws):
    sws.write({"BUILD.toml": HEADER, "p/BUILD.toml":
               '[slow]\nrule = "genrule"\nouts = ["s.txt"]\ncmd = "sleep 2; echo done > $@"\n'})
    ok(sws.run("build", "//p:slow", "--no-server"))        # the state directory exists; no server yet
    (sws.root / "p/BUILD.toml").write_text(
        '[slow]\nrule = "genrule"\nouts = ["s.txt"]\ncmd = "sleep 2; echo again > $@"\n')
    proc = sws.popen("build", "//p:slow")
    assert wait_for(lambda: (sws.root / "moltb-out/.moltb/server/server.json").exists(), within=30, proc=proc)
    assert wait_for(lambda: "Executing" in _peek(sws), within=30, proc=proc)
    os.kill(sws.info()["pid"], signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert sws.out("p/s.txt").read_text() == "again\n"


def _peek(sws) -> str:
    try:
        return (sws.root / "logs/moltb/latest.jsonl").read_text().replace('"action_started"', "Executing")
    except OSError:
        return ""


def test_ctrl_c_reaches_the_command_and_exits_8(sws):
    sws.write({"BUILD.toml": HEADER, "p/BUILD.toml":
               '[slow]\nrule = "genrule"\nouts = ["s.txt"]\ncmd = "sleep 60; touch $@"\n'})
    proc = sws.popen("build", "//p:slow")
    assert wait_for(lambda: "Executing" in _peek(sws), within=60, proc=proc)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 8, err
    assert time.monotonic() - t < 20
    assert "interrupted" in err
    assert sws.finished()["exit_code"] == 8
    assert sws.started()["server"]["pid"] == sws.info()["pid"]


def test_a_killed_client_interrupts_its_command(sws):
    sws.write({"BUILD.toml": HEADER, "p/BUILD.toml":
               '[slow]\nrule = "genrule"\nouts = ["s.txt"]\ncmd = "sleep 60; touch $@"\n'})
    proc = sws.popen("build", "//p:slow")
    assert wait_for(lambda: "Executing" in _peek(sws), within=60, proc=proc)
    proc.kill()
    proc.communicate()
    assert wait_for(lambda: '"build_finished"' in _peek(sws), within=30)
    assert sws.finished()["exit_code"] == 8


def test_exit_codes_and_messages_are_those_of_a_command_run_here(sws):
    sws.write({"BUILD.toml": HEADER, "p/BUILD.toml":
               '[bad]\nrule = "genrule"\nouts = ["b.txt"]\ncmd = "echo broken >&2; exit 3"\n'})
    for args in (("build", "//p:bad"), ("build", "//p:missing"), ("build", "//nope:x"), ("test", "//p:bad")):
        here = sws.run(*args, env={"MOLTB_SERVER": "0"})
        there = sws.run(*args)
        assert here.returncode == there.returncode != 0, (args, here.stderr, there.stderr)
        assert [l for l in here.stderr.splitlines() if l.startswith("ERROR")] == \
            [l for l in there.stderr.splitlines() if l.startswith("ERROR")], args
    assert sws.started()["server"]["pid"] == sws.info()["pid"]


def test_several_clients_are_served_at_once(sws):
    sws.write(_copies(2) | {"q/BUILD.toml":
                            "".join(f'[s{i}]\nrule = "genrule"\nouts = ["s{i}.txt"]\ncmd = "sleep 2; echo {i} > $@"\n'
                                    for i in range(3))})
    ok(sws.run("build", "//src:all"))
    t = time.monotonic()
    procs = [sws.popen("build", f"//q:s{i}") for i in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert time.monotonic() - t < 5.5     # three 2-second actions at once, not one after the other
    for i in range(3):
        assert sws.out(f"q/s{i}.txt").read_text() == f"{i}\n"
    logs = [json.loads(l) for f in (sws.root / "logs/moltb").glob("2*.jsonl") for l in f.read_text().splitlines()]
    served = {e["server"]["request"] for e in logs if e["event"] == "build_started" and "server" in e}
    assert len(served) == 4


def test_watch_overflow_falls_back_to_a_rescan(sws):
    sws.write(_copies(4) | {"noise/a": "", "noise/b": ""})
    ok(sws.run("build", "//src:all"))
    pid = sws.info()["pid"]
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    os.kill(pid, signal.SIGSTOP)          # its reader cannot drain the kernel queue
    try:
        a, b = sws.root / "noise/a", sws.root / "noise/b"
        for i in range(limit // 2 + 100):
            os.utime(a, ns=(i, i))
            os.utime(b, ns=(i, i))
        (sws.root / "src/f001.txt").write_text("lost in the overflow\n")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert wait_for(lambda: "overflow" in (sws.root / "moltb-out/.moltb/server/server.log").read_text(), within=30)
    ok(sws.run("build", "//src:all"))
    assert sws.started()["server"]["pid"] == pid
    assert sws.started()["files_checked"] >= 8         # every source and output stat'ed again
    assert [e["label"] for e in sws.executed()] == ["//src:c001"]
    assert sws.out("src/o001.txt").read_text() == "LOST IN THE OVERFLOW\n"


def test_a_build_file_outside_the_watch_is_still_checked(sws, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "BUILD.toml").write_text('[g]\nrule = "genrule"\nouts = ["g.txt"]\ncmd = "echo one > $@"\n')
    sws.write({"BUILD.toml": HEADER})
    (sws.root / "linked").symlink_to(outside)
    ok(sws.run("build", "//linked:g"))
    ok(sws.run("build", "//linked:g"))
    assert sws.finished()["actions"]["executed"] == 0
    (outside / "BUILD.toml").write_text('[g]\nrule = "genrule"\nouts = ["g.txt"]\ncmd = "echo two > $@"\n')
    ok(sws.run("build", "//linked:g"))
    assert sws.started()["server"]["pid"] == sws.info()["pid"]
    assert sws.out("linked/g.txt").read_text() == "two\n"


def test_another_moltb_gets_its_own_server(sws, tmp_path):
    """An upgrade (here: a copy of moltb whose module changes) is not served by the old server."""
    pkg = tmp_path / "install"
    for name in ("molt_build", "rules", "toolchains"):
        shutil.copytree(REPO / name, pkg / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(pkg)}
    sws.write(_copies(2))
    ok(sws.run("build", "//src:all", env=env))
    old = sws.info()["pid"]
    module = pkg / "molt_build/labels.py"
    module.write_text(module.read_text() + "\n# upgraded\n")
    (sws.root / "src/f001.txt").write_text("after the upgrade\n")
    ok(sws.run("build", "//src:all", env=env))
    new = sws.started()["server"]["pid"]
    assert new != old and new == sws.info()["pid"]
    assert wait_for(lambda: not _alive(old), within=15)
    assert sws.out("src/o001.txt").read_text() == "AFTER THE UPGRADE\n"


def test_shutdown_and_idle_timeout_stop_the_server(sws):
    sws.write(_copies(1))
    ok(sws.run("build", "//src:all"))
    pid = sws.info()["pid"]
    r = ok(sws.run("shutdown"))
    assert f"server {pid} stopped" in r.stderr
    assert not _alive(pid)
    assert "no server was running" in ok(sws.run("shutdown")).stderr
    ok(sws.run("build", "//src:all", env={"MOLTB_SERVER_IDLE_S": "1"}))
    pid = sws.info()["pid"]
    assert wait_for(lambda: not _alive(pid), within=15)


def test_watch_rebuilds_once_per_change_and_ctrl_c_exits_0(sws):
    sws.write(_copies(3))
    proc = subprocess.Popen([sys.executable, "-m", "molt_build", "build", "//src:all", "--watch"], cwd=sws.root,
                            env=sws.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def rounds() -> int:
        return sum(1 for l in _read_some(proc, lines) if l.startswith("[watch] round"))
    assert wait_for(lambda: rounds() == 1, within=60, proc=proc), lines
    (sws.root / "src/f001.txt").write_text("watched\n")
    assert wait_for(lambda: rounds() == 2, within=30, proc=proc), lines
    time.sleep(1.5)
    assert rounds() == 2, lines                       # exactly one rebuild for one change
    assert sws.out("src/o001.txt").read_text() == "WATCHED\n"
    assert [e["label"] for e in sws.executed()] == ["//src:c001"]
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "round 2: ok" in "".join(lines)


def test_watch_without_a_server_and_ctrl_c_during_a_round_exits_8(sws):
    sws.write({"BUILD.toml": HEADER, "p/BUILD.toml":
               '[w]\nrule = "genrule"\nsrcs = ["in.txt"]\nouts = ["w.txt"]\ncmd = "sleep $$(cat $<); touch $@"\n',
               "p/in.txt": "0\n"})
    proc = subprocess.Popen([sys.executable, "-m", "molt_build", "build", "//p:w", "--watch", "--no-server"],
                            cwd=sws.root, env=sws.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    assert wait_for(lambda: any("[watch] round 1: ok" in l for l in _read_some(proc, lines)), within=60, proc=proc)
    (sws.root / "p/in.txt").write_text("60\n")
    assert wait_for(lambda: "Executing" in _peek(sws) and '"build_finished"' not in _peek(sws), within=30)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 8
    assert "server" not in sws.started()


def _read_some(proc, lines: list[str]) -> list[str]:
    """Lines of the process's stderr so far (without blocking)."""
    os.set_blocking(proc.stderr.fileno(), False)
    try:
        chunk = proc.stderr.read()
    except (TypeError, OSError):
        chunk = None
    if chunk:
        lines.extend(chunk.splitlines(keepends=True))
    return lines


def test_the_client_imports_nothing_heavy(sws):
    """The client's start is what every command pays: no pydantic, typer, rich or networkx."""
    sws.write(_copies(2))
    ok(sws.run("build", "//src:all"))
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "molt_build", "build", "//src:all"],
                       cwd=sws.root, env=sws.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    imported = {l.split("|")[-1].strip().split(".")[0] for l in r.stderr.splitlines() if l.startswith("import time:")}
    assert "molt_build" in imported and sws.started()["server"]["request"] == 2
    assert not imported & {"pydantic", "typer", "rich", "networkx", "sqlite3", "sqlite_utils"}, imported


def test_the_command_has_the_clients_umask_and_limits(sws):
    sws.write({"BUILD.toml": HEADER, "p/BUILD.toml":
               '[w]\nrule = "genrule"\nouts = ["w.txt"]\ncmd = "ulimit -n > $@; umask >> $@"\n'
               '[x]\nrule = "genrule"\nouts = ["x.txt"]\ncmd = "touch $@"\n'})
    ok(sws.run("build", "//p:x"))        # the server runs
    r = subprocess.run(["sh", "-c", f"ulimit -n 321; umask 027; exec {sys.executable} -m molt_build build //p:w"],
                       cwd=sws.root, env=sws.env(MOLTB_NO_FASTPATH="1"), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sws.started()["server"]["pid"] == sws.info()["pid"]
    lines = sws.out("p/w.txt").read_text().split()
    assert lines[0] == "321" and lines[1].endswith("27"), lines
