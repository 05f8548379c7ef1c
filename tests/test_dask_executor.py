"""Distributed execution on a real Dask cluster (a `dask scheduler` and two `dask worker`
processes started here on loopback, stopped by PID): a C workspace builds right with
every action run on a worker (named in the event log); a fresh checkout on the same
cache runs nothing; the repo's differential cases (C on three lanes, Python on the
Cython lane, Molt-format cases) get the verdicts they get locally; a worker
killed mid-build costs its actions a rerun elsewhere, not the build."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, TempWorkspace, free_port, wait_for

pytest.importorskip("distributed")
DASK = shutil.which("dask") or str(Path(sys.executable).with_name("dask"))


def c_workspace(root: Path, packages: int, files: int) -> None:
    """A layered C workspace: each package's sources call the previous package's; one
    library per package, one binary over them all (as bench/ measures at scale)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "BUILD.toml").write_text('[workspace]\nname = "layers"\n')
    for p in range(packages):
        d = root / f"pkg{p:03d}"
        d.mkdir()
        (d / "pkg.h").write_text("#pragma once\n" + "".join(f"int f{p}_{i}(void);\n" for i in range(files)))
        for i in range(files):
            dep = f'#include "../pkg{p - 1:03d}/pkg.h"\n' if p else ""
            call = f"f{p - 1}_{i}()" if p else "0"
            (d / f"s{i:03d}.c").write_text(f'#include "pkg.h"\n{dep}int f{p}_{i}(void) {{ return {call} + {i}; }}\n')
        deps = f'deps = ["//pkg{p - 1:03d}:pkg"]\n' if p else ""
        (d / "BUILD.toml").write_text(f'[pkg]\nrule = "c_library"\nsrcs = ["*.c"]\nhdrs = ["pkg.h"]\n{deps}')
    app = root / "app"
    app.mkdir()
    (app / "main.c").write_text(f'#include <stdio.h>\n#include "../pkg{packages - 1:03d}/pkg.h"\n'
                                f'int main(void) {{ printf("%d\\n", f{packages - 1}_1()); return 0; }}\n')
    (app / "BUILD.toml").write_text(f'[app]\nrule = "c_binary"\nsrcs = ["main.c"]\n'
                                    f'deps = ["//pkg{packages - 1:03d}:pkg"]\n')



class Cluster:
    def __init__(self, base: Path, workers: int = 2, worker_env=None):
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"dask://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.logs = []
        self._start(base / "scheduler.log", [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                              "--no-dashboard"])
        self.workers = [self._start(base / f"worker{i}.log",
                                    [DASK, "worker", f"tcp://127.0.0.1:{self.port}", "--nthreads", "1",
                                     "--no-dashboard", "--name", f"w{i}"], (worker_env or (lambda i: None))(i))
                        for i in range(workers)]
        from distributed import Client
        client = Client(f"tcp://127.0.0.1:{self.port}", timeout=60)
        try:
            client.wait_for_workers(workers, timeout=60)
        finally:
            client.close()

    def _start(self, log: Path, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        f = open(log, "w")
        self.logs.append(f)
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})})
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        for f in self.logs:
            f.close()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path / "dask")
    yield c
    c.stop()


def executed(ws) -> list[dict]:
    return [e for e in ws.events() if e["event"] == "action_finished" and e["status"] == "executed"]


def test_a_c_workspace_builds_on_the_workers_and_a_fresh_checkout_runs_nothing(tmp_path, cluster):
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache")
    c_workspace(ws.root, 4, 3)
    r = ws.run("build", "//...", "--executor", cluster.url, timeout=600)
    assert r.returncode == 0, r.stderr
    runs = executed(ws)
    assert len(runs) == ws.finished()["actions"]["total"] == 4 * (3 + 1) + 2
    workers = {e.get("worker") for e in runs}
    assert None not in workers and len(workers) == 2          # every action on a worker; both used
    out = subprocess.run([ws.out("app/app")], capture_output=True, text=True).stdout
    assert out == "4\n"                   # f3_1() = f2_1() + 1 = ... = 4
    local = TempWorkspace(tmp_path / "local", tmp_path / "cache-local")
    c_workspace(local.root, 4, 3)
    assert local.run("build", "//...").returncode == 0
    assert local.out("app/app").read_bytes() == ws.out("app/app").read_bytes()
    fresh = TempWorkspace(tmp_path / "elsewhere/fresh", tmp_path / "cache")
    c_workspace(fresh.root, 4, 3)
    r = fresh.run("build", "//...", "--executor", cluster.url)
    assert r.returncode == 0 and executed(fresh) == [], r.stderr


def test_differential_cases_get_the_same_verdicts_on_dask_as_here(tmp_path, cluster):
    def verdicts(ws) -> dict[str, str]:
        with open(ws.root / "moltb-out/testlogs/results.jsonl") as f:
            return {r["path"]: r["status"] for r in map(json.loads, f)}
    runs = {}
    for name, extra in (("here", ()), ("dask", ("--executor", cluster.url))):
        ws = TempWorkspace(tmp_path / name, tmp_path / f"cache-{name}")
        shutil.copy(REPO / "BUILD.toml", ws.root / "BUILD.toml")
        shutil.copytree(REPO / "differential", ws.root / "differential")
        r = ws.run("test", "//differential/...", "//differential/molt_format:must_fail", *extra, timeout=1200)
        assert r.returncode == 3, r.stderr[-3000:]
        runs[name] = verdicts(ws)
        if name == "dask":
            assert all(e.get("worker") for e in executed(ws))
    assert runs["dask"] == runs["here"] and len(runs["here"]) >= 90
    assert {"PASSED", "FAILED", "XFAIL", "XPASS", "SKIPPED"} <= set(runs["here"].values())


def test_a_worker_killed_mid_build_costs_a_rerun_not_the_build(tmp_path, cluster):
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache").write({"BUILD.toml": '[workspace]\nname = "t"\n' + "".join(
        f'[s{i}]\nrule = "genrule"\nouts = ["s{i}.txt"]\ncmd = "sleep 1; echo {i} > $@"\n\n' for i in range(6))})
    proc = ws.popen("build", "//...", "--executor", cluster.url)
    assert wait_for(lambda: (ws.root / "logs/moltb/latest.jsonl").exists() and
                    '"action_started"' in (ws.root / "logs/moltb/latest.jsonl").read_text(), within=60, proc=proc)
    os.killpg(cluster.workers[0].pid, signal.SIGKILL)          # whatever it was running is lost
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert all((ws.root / f"moltb-out/native-dev/s{i}.txt").read_text() == f"{i}\n" for i in range(6))


def test_a_bad_or_unreachable_executor_is_a_clear_error(tmp_path):
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache").write(
        {"BUILD.toml": '[workspace]\nname = "t"\n[x]\nrule = "genrule"\nouts = ["x.txt"]\ncmd = "echo x > $@"\n'})
    r = ws.run("build", "//...", "--executor", "tcp://somewhere:1")
    assert r.returncode == 2 and "dask://host:port" in r.stderr and "Traceback" not in r.stderr
    r = ws.run("build", "//...", "--executor", f"dask://127.0.0.1:{free_port()}", timeout=120)
    assert r.returncode == 36 and "cannot reach the Dask scheduler" in r.stderr and "Traceback" not in r.stderr


def test_with_a_remote_cache_data_moves_through_its_cas_not_a_shared_directory(tmp_path):
    from test_remote_cache import BGD, BuildGrid
    if not os.path.exists(BGD):
        pytest.skip("BuildGrid (bgd) is not installed")
    bgd = BuildGrid(tmp_path / "bgd")
    caches = [tmp_path / f"worker-cache{i}" for i in range(2)]
    c = Cluster(tmp_path / "dask", worker_env=lambda i: {"MOLTB_WORKER_CACHE": str(caches[i])})
    try:
        ws = TempWorkspace(tmp_path / "a", tmp_path / "client-cache")
        c_workspace(ws.root, 3, 2)
        r = ws.run("build", "//...", "--executor", c.url, "--remote", bgd.url, timeout=600)
        assert r.returncode == 0, r.stderr
        runs = executed(ws)
        assert runs and all(e.get("worker") for e in runs)
        assert subprocess.run([ws.out("app/app")], capture_output=True, text=True).stdout == "3\n"
        # Each worker fetched inputs into its own cache; the client's cache got the outputs.
        fetched = [sum(1 for p in (cache / "cas").rglob("*") if p.is_file()) for cache in caches]
        assert all(n > 0 for n in fetched), fetched
        # The results are in the remote cache: another checkout with an empty cache runs nothing.
        other = TempWorkspace(tmp_path / "b", tmp_path / "other-cache")
        c_workspace(other.root, 3, 2)
        r = other.run("build", "//...", "--remote", bgd.url)
        assert r.returncode == 0 and executed(other) == [], r.stderr
    finally:
        c.stop()
        bgd.stop()
