"""The namespace sandbox (bubblewrap) as an adversary meets it: inputs that cannot be
written through, a workspace, cache and sibling exec roots that are not there, a
private /tmp, no network, and no process outliving its action. Also the light
sandbox's own defences, and how the mode is chosen."""
from __future__ import annotations

import json
import os
import socket
import sys
import time

import pytest

from conftest import HEADER, SANDBOXES, kill_named, procs_named

needs_bwrap = SANDBOXES[0].marks[0]


def genrules(ws, body: str, files: dict | None = None):
    return ws.write({"BUILD.toml": HEADER + body, **(files or {})})


POISON = """\
[gen]
rule = "genrule"
outs = ["gen.txt"]
cmd = "echo hello > $@"

[use]
rule = "genrule"
srcs = [":gen", "src.txt"]
outs = ["use.txt"]
cmd = "g=moltb-out/native-dev/gen.txt; chmod u+w $(SRCS) && m=$$(stat -c %Y $$g) && printf evilo > $$g && touch -d @$$m $$g && cat $(SRCS) > $@"
"""


@needs_bwrap
def test_writing_through_an_input_fails_and_poisons_nothing(ws, make_ws):
    genrules(ws, POISON, {"src.txt": "source\n"})
    r = ws.run("build", "//:use", "--sandbox=namespace")
    assert r.returncode == 1, r.stderr
    assert "Read-only file system" in r.stderr
    assert ws.out("gen.txt").read_text() == "hello\n"
    assert (ws.root / "src.txt").read_text() == "source\n"
    # The cache holds the true bytes: a fresh checkout on it gets them.
    other = make_ws("fresh")
    genrules(other, POISON.split("[use]")[0])
    r = other.run("build", "//:gen")
    assert r.returncode == 0 and other.out("gen.txt").read_text() == "hello\n", r.stderr
    assert "0 executed" in r.stderr
    assert "0 corrupt" in other.run("cache", "verify").stdout + other.run("cache", "verify").stderr


def test_light_sandbox_catches_an_edit_with_size_and_mtime_put_back(ws, make_ws):
    """Root can write through a read-only input; the change time gives it away."""
    genrules(ws, POISON, {"src.txt": "source\n"})
    r = ws.run("build", "//:use", "--sandbox=light")
    assert r.returncode == 1, r.stderr
    assert "modified its input" in r.stderr and "gen.txt" in r.stderr
    other = make_ws("fresh")
    genrules(other, POISON.split("[use]")[0])
    r = other.run("build", "//:gen", "--sandbox=light")
    assert r.returncode == 0, r.stderr
    assert other.out("gen.txt").read_text() == "hello\n"


@needs_bwrap
def test_workspace_cache_tmp_and_sibling_exec_roots_are_out_of_reach(ws, tmp_path):
    sandboxes = tmp_path / "sandboxes"
    host_tmp = f"/tmp/moltb-poison-{os.getpid()}"
    body = f"""\
[slow]
rule = "genrule"
outs = ["slow.txt"]
cmd = "sleep 2; ls -a > $@"

[attack]
rule = "genrule"
srcs = ["src.txt"]
outs = ["attack.txt"]
cmd = '''
r=""
echo x > {ws.root}/src.txt 2>/dev/null && r="$r workspace-write"
cat {ws.root}/secret.txt 2>/dev/null && r="$r workspace-read"
touch {ws.cache}/cas/poison 2>/dev/null && r="$r cache-write"
ls {sandboxes} >/dev/null 2>&1 && r="$r sandbox-dir"
for d in ../../*/x ../../../*/x ../../*/*/x {sandboxes}/*/x; do touch "$d/poison" 2>/dev/null; done
echo x >> src.txt 2>/dev/null && r="$r input-write"
echo x > {host_tmp} || r="$r no-tmp"
echo "$r" > $@
'''
"""
    genrules(ws, body, {"src.txt": "source\n", "secret.txt": "secret\n"})
    r = ws.run("build", "//...", "-j2", "--sandbox=namespace", env={"MOLTB_SANDBOX_DIR": str(sandboxes)})
    assert r.returncode == 0, r.stderr
    assert ws.out("attack.txt").read_text().strip() == "", ws.out("attack.txt").read_text()
    assert "poison" not in ws.out("slow.txt").read_text()
    assert (ws.root / "src.txt").read_text() == "source\n"
    assert not (ws.cache / "cas/poison").exists()
    assert not os.path.exists(host_tmp)           # its /tmp was its own


@needs_bwrap
def test_no_network_unless_the_target_requires_it(ws):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    connect = f"python3 -c 'import socket; socket.create_connection((\\\"127.0.0.1\\\", {port}), timeout=5)'"
    try:
        genrules(ws, f"""\
[offline]
rule = "genrule"
outs = ["offline.txt"]
cmd = "{connect} && echo connected > $@ || echo refused > $@"

[online]
rule = "genrule"
outs = ["online.txt"]
tags = ["requires-network"]
cmd = "{connect} && echo connected > $@ || echo refused > $@"
""")
        r = ws.run("build", "//...", "--sandbox=namespace")
        assert r.returncode == 0, r.stderr
        assert ws.out("offline.txt").read_text() == "refused\n"
        assert ws.out("online.txt").read_text() == "connected\n"
    finally:
        server.close()


BACKGROUND = 'cmd = "sleep {t}1 & setsid sleep {t}2 & nohup sleep {t}3 >/dev/null 2>&1 & echo ok > $@"\n'


@needs_bwrap
def test_processes_an_action_starts_die_with_it(ws):
    t = f"31{os.getpid() % 1000}.{time.time_ns() % 1000}"
    genrules(ws, '[bg]\nrule = "genrule"\nouts = ["bg.txt"]\n' + BACKGROUND.format(t=t))
    try:
        r = ws.run("build", "//:bg", "--sandbox=namespace")
        assert r.returncode == 0, r.stderr
        time.sleep(0.3)
        assert procs_named(f"sleep {t}") == []
    finally:
        kill_named(f"sleep {t}")


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_test_that_leaves_processes_fails_naming_how_many(ws, mode):
    t = f"32{os.getpid() % 1000}.{time.time_ns() % 1000}"
    ws.write({"BUILD.toml": HEADER + '[t]\nrule = "sh_test"\nsrc = "t.sh"\n',
              "t.sh": f"sleep {t}1 &\nnohup sleep {t}2 >/dev/null 2>&1 &\nexit 0\n"})
    try:
        r = ws.run("test", "//:t", f"--sandbox={mode}", "--test-output=errors")
        assert r.returncode == 3, r.stderr
        assert "left 2 processes running" in r.stderr
        time.sleep(0.3)
        assert procs_named(f"sleep {t}") == []
        summary = json.loads((ws.root / "moltb-out/testlogs/summary.json").read_text())
        assert summary["tests"][0]["status"] == "FAILED"
    finally:
        kill_named(f"sleep {t}")


@needs_bwrap
def test_a_killed_moltb_leaves_no_process_behind_not_even_setsid(ws):
    t = f"33{os.getpid() % 1000}.{time.time_ns() % 1000}"
    genrules(ws, f'[bg]\nrule = "genrule"\nouts = ["bg.txt"]\ncmd = "setsid sleep {t}1 & sleep {t}2; echo > $@"\n')
    p = ws.popen("build", "//:bg", "--sandbox=namespace")
    try:
        deadline = time.monotonic() + 60
        while len(procs_named(f"sleep {t}")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(procs_named(f"sleep {t}")) == 2
        p.kill()
        p.wait()
        deadline = time.monotonic() + 10
        while procs_named(f"sleep {t}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs_named(f"sleep {t}") == []
    finally:
        kill_named(f"sleep {t}")
        p.stdout.close()
        p.stderr.close()


def test_asking_for_namespace_without_bubblewrap_is_exit_36_and_auto_falls_back(ws, tmp_path):
    """A PATH without bwrap: `namespace` is a local environment problem, `auto` runs
    in the light sandbox and says so in the event log."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(sys.executable, bindir / "python3")
    genrules(ws, '[g]\nrule = "genrule"\nouts = ["g.txt"]\ncmd = "echo hi > $@"\n')
    env = {"PATH": str(bindir)}
    r = ws.run("build", "//:g", "--sandbox=namespace", env=env)
    assert r.returncode == 36, r.stderr
    assert "bwrap" in r.stderr and "apt-get install bubblewrap" in r.stderr and "Traceback" not in r.stderr
    r = ws.run("build", "//:g", env=env)
    assert r.returncode == 0, r.stderr
    chosen = [e for e in ws.events() if e["event"] == "sandbox"]
    assert chosen and chosen[0]["mode"] == "light" and "bwrap" in chosen[0]["reason"]
    r = ws.run("build", "//:g", "--sandbox=bogus", env=env)
    assert r.returncode == 2 and "bogus" in r.stderr


@needs_bwrap
def test_the_event_log_names_the_sandbox_that_ran(ws):
    genrules(ws, '[g]\nrule = "genrule"\nouts = ["g.txt"]\ncmd = "echo hi > $@"\n')
    assert ws.run("build", "//:g").returncode == 0
    assert [e["mode"] for e in ws.events() if e["event"] == "sandbox"] == ["namespace"]
    r = ws.run("info")
    assert r.returncode == 0 and "sandbox: namespace" in r.stdout, r.stdout + r.stderr
