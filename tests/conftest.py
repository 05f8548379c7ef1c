"""Shared fixtures: a temporary workspace written from a dict, and `moltb` run as a
real process in it (the way users and CI run it)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Every moltb the tests start runs in its own process, unless the pass asks for the
# workspace server (MOLTB_TEST_SERVER=1); tests/test_server.py turns it on for itself.
os.environ["MOLTB_SERVER"] = os.environ.get("MOLTB_TEST_SERVER", "0")

# The root BUILD.toml line most test workspaces start with.
HEADER = """\
[workspace]
name = "t"

"""

def two_sleeps(seconds: float) -> dict[str, str]:
    """Two independent genrules that each sleep: for parallelism and -j checks."""
    return {"BUILD.toml": HEADER + "".join(
        f'[s{i}]\nrule = "genrule"\nouts = ["s{i}.txt"]\ncmd = "sleep {seconds}; echo {i} > $@"\n\n'
        for i in (1, 2))}


# A source-driven genrule and a dependent that also reads a source of its own.
UPPER = {"BUILD.toml": HEADER + """\
[upper]
rule = "genrule"
srcs = ["in.txt"]
outs = ["upper.txt"]
cmd = "tr a-z A-Z < $< > $@"

[use]
rule = "genrule"
srcs = [":upper", "own.txt"]
outs = ["use.txt"]
cmd = "cat $(SRCS) > $@"
""", "in.txt": "hello\n", "own.txt": "own 1\n"}


def procs_named(prefix: str) -> list[int]:
    """PIDs of live processes whose command line starts with `prefix` (e.g. a sleep
    with a duration no other process uses): found from outside any sandbox."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if cmd.startswith(prefix) and state not in (b"Z", b"X"):
            out.append(int(name))
    return out


def unique_sleep(seconds: int) -> str:
    """`sleep N.xxxxxx`: a command line no other process on the machine has."""
    return f"sleep {seconds}.{os.getpid() % 1000:03d}{time.time_ns() % 1000:03d}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, within: float = 30.0, proc=None) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"moltb exited early ({proc.returncode}): {proc.communicate()}")
        time.sleep(0.05)
    return predicate()


def kill_named(prefix: str) -> None:
    for pid in procs_named(prefix):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _namespace_sandbox() -> tuple[bool, str]:
    from molt_build.namespace_sandbox import probe
    return probe()


# The sandboxes a test runs in: namespace needs bubblewrap that can create namespaces
# here (.ci/run installs it); the reason is shown when it is skipped.
SANDBOXES = [pytest.param("namespace", marks=pytest.mark.skipif(
    not _namespace_sandbox()[0], reason=f"namespace sandbox unavailable: {_namespace_sandbox()[1]}")), "light"]


class TempWorkspace:
    """A workspace in a temp dir with its own cache; `run` invokes the real CLI."""

    def __init__(self, root: Path, cache: Path):
        self.root = root
        self.cache = cache
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "BUILD.toml").exists():
            (root / "BUILD.toml").write_text('[workspace]\nname = "t"\n')

    def write(self, files: dict[str, str]) -> "TempWorkspace":
        for rel, text in files.items():
            p = self.root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
        return self

    def env(self, **extra) -> dict:
        # The workspace server is on for the tests only in the pass that asks for it
        # (MOLTB_TEST_SERVER=1; tests/test_server.py turns it on for itself): most tests
        # look at one moltb process (its patches, its signals, its kill -9).
        env = dict(os.environ, MOLTB_CACHE_DIR=str(self.cache),
                   MOLTB_SERVER=os.environ.get("MOLTB_TEST_SERVER", "0"))
        env.pop("MOLTB_JOBS", None)
        env.update(extra)
        return env

    def popen(self, *args, cwd: Path | None = None, **kw) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "molt_build", *args], cwd=cwd or self.root,
                                env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

    def run(self, *args, cwd: Path | None = None, timeout: float = 600, env: dict | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "molt_build", *args], cwd=cwd or self.root,
                              env={**self.env(), **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, input=input)

    def events(self) -> list[dict]:
        with open(self.root / "logs/moltb/latest.jsonl") as f:
            return [json.loads(line) for line in f]

    def finished(self) -> dict:
        ev = self.events()
        assert ev[-1]["event"] == "build_finished", ev[-1]
        return ev[-1]

    def executed(self) -> list[dict]:
        return [e for e in self.events() if e["event"] == "action_finished" and e["status"] == "executed"]

    def out(self, rel: str, config: str = "native-dev") -> Path:
        return self.root / "moltb-out" / config / rel


@pytest.fixture(autouse=True)
def _drop_lock_dirs(tmp_path):
    """Every test's caches live under tmp_path: remove their lock directories (tmpfs),
    and stop the workspace servers its commands started."""
    yield
    stop_servers(tmp_path)
    from lock_dirs import drop_lock_dirs
    drop_lock_dirs(tmp_path)


def stop_servers(under: Path) -> list[int]:
    """Stop (by PID, SIGTERM then SIGKILL) every moltb server of a workspace under `under`."""
    pids = []
    for info in under.glob("**/moltb-out/.moltb/server/server.json"):
        try:
            pid = json.loads(info.read_text())["pid"]
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError, KeyError):
            continue
        pids.append(pid)
    for pid in pids:
        if not wait_for(lambda: not _alive(pid), within=10):
            os.kill(pid, signal.SIGKILL)
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:                       # a zombie (its parent has not reaped it) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def ws(tmp_path) -> TempWorkspace:
    return TempWorkspace(tmp_path / "ws", tmp_path / "cache")


@pytest.fixture
def make_ws(tmp_path):
    """Factory for several workspaces sharing one cache (name -> TempWorkspace)."""
    def make(name: str, cache: str = "cache") -> TempWorkspace:
        return TempWorkspace(tmp_path / name, tmp_path / cache)
    return make
