"""The REAPI remote cache against a real BuildGrid server (started here on loopback
with a disk CAS and an LRU action cache, stopped by PID): two checkouts with separate
local caches share results through it, outputs byte-identical; large blobs go through
ByteStream; read-only clients upload nothing; a server that dies mid-build or was
never there costs a warning, never the build."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HEADER, TempWorkspace, free_port, port_open, wait_for

pytest.importorskip("buildgrid.common.protos")
BGD = shutil.which("bgd") or str(Path(sys.executable).with_name("bgd"))
pytestmark = pytest.mark.skipif(not os.path.exists(BGD), reason="BuildGrid (bgd) is not installed: pip install -e '.[dev]'")

CONFIG = """\
server: [!channel {{address: "127.0.0.1:{port}", insecure-mode: true}}]
authorization: {{method: none}}
monitoring: {{enabled: false}}
storages: [!disk-storage &cas {{path: {cas}}}]
caches: [!lru-action-cache &ac {{storage: *cas, max-cached-refs: 100000}}]
instances:
  - name: ""
    services: [!cas {{storage: *cas}}, !bytestream {{storage: *cas}}, !action-cache {{cache: *ac}}]
"""

C_APP = {"BUILD.toml": HEADER + """\
[lib]
rule = "c_library"
srcs = ["lib.c"]

[app]
rule = "c_binary"
srcs = ["main.c"]
deps = [":lib"]

[big]
rule = "genrule"
outs = ["big.bin"]
cmd = "head -c 6000000 /dev/urandom > $@"
""", "lib.c": "int f(void) { return 42; }\n",
         "main.c": '#include <stdio.h>\nint f(void);\nint main(void) { printf("%d\\n", f()); return 0; }\n'}



class BuildGrid:
    def __init__(self, base: Path):
        self.port = free_port()
        self.url = f"grpc://127.0.0.1:{self.port}"
        (base / "cas").mkdir(parents=True, exist_ok=True)
        cfg = base / "bgd.yml"
        cfg.write_text(CONFIG.format(port=self.port, cas=base / "cas"))
        self.log = open(base / "bgd.log", "w")
        self.proc = subprocess.Popen([BGD, "server", "start", str(cfg)], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        if not wait_for(lambda: port_open(self.port), within=60, proc=self.proc):
            self.stop()
            raise AssertionError("BuildGrid did not start listening within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture
def bgd(tmp_path):
    server = BuildGrid(tmp_path / "bgd")
    yield server
    server.stop()


def statuses(ws) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in ws.events():
        if e["event"] == "action_finished":
            out[e["status"]] = out.get(e["status"], 0) + 1
    return out


def test_two_checkouts_with_separate_caches_share_results_through_the_server(tmp_path, bgd):
    a = TempWorkspace(tmp_path / "a", tmp_path / "cache-a").write(C_APP)
    r = a.run("build", "//...", "--remote", bgd.url)
    assert r.returncode == 0, r.stderr
    assert statuses(a) == {"executed": 5} and "5 results uploaded" in r.stderr
    b = TempWorkspace(tmp_path / "elsewhere/b", tmp_path / "cache-b").write(C_APP)
    r = b.run("build", "//...", env={"MOLTB_REMOTE": bgd.url})
    assert r.returncode == 0, r.stderr
    assert statuses(b) == {"remote_cached": 5} and b.finished()["actions"]["remote_cached"] == 5
    for out in ("app", "big.bin", "liblib.a"):
        assert a.out(out).read_bytes() == b.out(out).read_bytes(), out
    assert subprocess.run([b.out("app")], capture_output=True, text=True).stdout == "42\n"
    # The remote named by the workspace file serves a third checkout.
    files = {**C_APP, "BUILD.toml": C_APP["BUILD.toml"].replace('name = "t"', f'name = "t"\nremote = "{bgd.url}"')}
    c = TempWorkspace(tmp_path / "c", tmp_path / "cache-c").write(files)
    r = c.run("build", "//...")
    assert r.returncode == 0 and statuses(c) == {"remote_cached": 5}, r.stderr
    # The local cache has them now: without the remote, nothing runs.
    shutil.rmtree(b.root / "moltb-out")
    r = b.run("build", "//...")
    assert r.returncode == 0 and statuses(b) == {"cached": 5}, r.stderr
    # An edit misses remotely, runs, and only its own result goes up.
    b.write({"lib.c": "int f(void) { return 7; }\n"})
    r = b.run("build", "//...", "--remote", bgd.url)
    assert r.returncode == 0 and "3 results uploaded" in r.stderr, r.stderr


def test_a_read_only_client_uploads_nothing_and_failures_are_never_uploaded(tmp_path, bgd):
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache-a").write(C_APP)
    r = ws.run("build", "//...", "--remote", bgd.url, "--remote-upload=no")
    assert r.returncode == 0 and "0 results uploaded" in r.stderr, r.stderr
    other = TempWorkspace(tmp_path / "b", tmp_path / "cache-b").write(C_APP)
    r = other.run("build", "//...", "--remote", bgd.url)
    assert statuses(other) == {"executed": 5}, r.stderr
    bad = TempWorkspace(tmp_path / "c", tmp_path / "cache-c").write(
        {"BUILD.toml": HEADER + '[x]\nrule = "genrule"\nouts = ["x.txt"]\ncmd = "echo x > $@; exit 3"\n'})
    r = bad.run("build", "//...", "--remote", bgd.url)
    assert r.returncode == 1 and "0 results uploaded" in r.stderr, r.stderr


def test_a_remote_that_is_not_there_is_a_warning_not_a_failure(tmp_path):
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache").write(C_APP)
    r = ws.run("build", "//...", "--remote", f"grpc://127.0.0.1:{free_port()}", "--remote-timeout", "0.5")
    assert r.returncode == 0, r.stderr
    assert "WARNING: remote cache" in r.stderr and "going on with the local cache only" in r.stderr
    assert statuses(ws) == {"executed": 5} and r.stderr.count("WARNING: remote cache") == 1
    r = ws.run("build", "//...", "--remote", "http://nowhere")
    assert r.returncode == 2 and "grpc://host:port" in r.stderr and "Traceback" not in r.stderr


def test_killing_the_server_mid_build_finishes_locally(tmp_path, bgd):
    slow = {"BUILD.toml": HEADER + "".join(
        f'[s{i}]\nrule = "genrule"\nouts = ["s{i}.txt"]\ncmd = "sleep 0.4; echo {i} > $@"\n\n' for i in range(8))}
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache").write(slow)
    proc = ws.popen("build", "//...", "-j", "2", "--remote", bgd.url, "--remote-timeout", "1")
    assert wait_for(lambda: any((ws.root / "moltb-out/native-dev").glob("s*.txt")), within=60, proc=proc)
    bgd.stop()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "WARNING: remote cache" in err
    assert all((ws.root / f"moltb-out/native-dev/s{i}.txt").read_text() == f"{i}\n" for i in range(8))
    events = [json.loads(line) for line in (ws.root / "logs/moltb/latest.jsonl").read_text().splitlines()]
    assert any(e["event"] == "remote_warning" for e in events)


def test_workspace_remote_and_executor_come_from_the_workspace_table_alone(tmp_path):
    """An incremental build reads `[workspace] remote/executor` without parsing the whole
    root BUILD.toml (thousands of targets), and still reads them right when the table's
    own lines do not parse alone."""
    from molt_build.remote_setup import workspace_table
    targets = "".join(f'\n[t{i}]\nrule = "genrule"\nouts = ["o{i}"]\ncmd = "touch $@"\n' for i in range(50))
    (tmp_path / "BUILD.toml").write_text('[workspace]\nname = "w"\nremote = "grpc://127.0.0.1:1"\n'
                                         'executor = "dask://127.0.0.1:2"\n' + targets)
    assert workspace_table(str(tmp_path)) == {"name": "w", "remote": "grpc://127.0.0.1:1",
                                              "executor": "dask://127.0.0.1:2"}
    (tmp_path / "BUILD.toml").write_text('[workspace]\nname = """two\n[lines]"""\nexecutor = "dask://h:3"\n'
                                         '\n[workspace.toolchains.native]\ncompiler = "zig"\n' + targets)
    table = workspace_table(str(tmp_path))
    assert table["executor"] == "dask://h:3" and table["name"] == "two\n[lines]"
