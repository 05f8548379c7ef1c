"""Hostile BUILD.toml files (tests/hostile_corpus.py): for every one, `moltb validate`
exits 1 and `moltb build //...` exits 2, each with one ERROR line naming the file and
no traceback, within 30 seconds. Valid workspaces just as odd (the controls) validate
and build.

The corpus runs each command in its own forked process (tests/forkserver.py: moltb
imported once, one fork per command, each with its timeout and a memory cap), so
some 300 workspaces run twice each in seconds rather than minutes; a sample also runs
as ordinary `python -m molt_build` processes, to keep the fork server honest."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from forkserver import ForkServer
from hostile_corpus import CONTROLS, CORPUS, Case, write_case

TIMEOUT = 30


def problems_with(case: Case, command: str, r, expected_rc: int) -> list[str]:
    out = []
    if getattr(r, "timed_out", False):
        return [f"{case.name}: {command} did not finish within {TIMEOUT}s"]
    if r.returncode != expected_rc:
        out.append(f"{case.name}: {command} exited {r.returncode}, not {expected_rc}")
    if "Traceback" in r.stdout + r.stderr:
        out.append(f"{case.name}: {command} printed a traceback:\n{r.stderr[-2000:]}")
    errors = [l for l in r.stderr.splitlines() if l.startswith("ERROR:")]
    # `build` stops at the first error; `validate` lists every one (a misspelt field is
    # both "unknown field" and "required field is missing"), each naming the file.
    if len(errors) != 1 and (command != "validate" or not errors):
        out.append(f"{case.name}: {command} printed {len(errors)} ERROR lines:\n{r.stderr[-2000:]}")
    for line in errors:
        if not any(line.startswith(f"ERROR: {f}: ") or f"/{f}: " in line for f in (case.culprit, *case.also)):
            out.append(f"{case.name}: {command}'s error does not name {case.culprit}: {line[:300]}")
    return out


def _run_cases(server: ForkServer, cases: list[Case], base, env: dict) -> list[str]:
    found = []
    for case in cases:
        root = base / case.name
        write_case(root, case.files)
        found += problems_with(case, "validate", server.run(["validate"], root, env, TIMEOUT), 1)
        found += problems_with(case, "build //...", server.run(["build", "//..."], root, env, TIMEOUT), 2)
    return found


def test_every_hostile_build_file_gets_one_clear_error_and_the_documented_exit_code(tmp_path, ws):
    assert len(CORPUS) >= 200
    env = ws.env()
    started = time.monotonic()
    halves = [CORPUS[0::2], CORPUS[1::2]]        # two servers: this machine has two cores
    servers = [ForkServer(env), ForkServer(env)]
    try:
        with ThreadPoolExecutor(2) as pool:
            found = sum(pool.map(_run_cases, servers, halves, [tmp_path] * 2, [env] * 2), [])
    finally:
        for s in servers:
            s.close()
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)
    assert time.monotonic() - started < 240


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_odd_but_valid_workspaces_validate_and_build(tmp_path, ws, name):
    write_case(tmp_path / name, CONTROLS[name])
    with ForkServer(ws.env()) as server:
        r = server.run(["validate"], tmp_path / name, ws.env(), TIMEOUT)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        r = server.run(["build", "//..."], tmp_path / name, ws.env(), 120)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


# The ones that once hung, crashed or ate memory, plus one of each family.
REAL_PROCESS_SAMPLE = ["file-fifo", "file-symlink-to-dev-zero", "file-directory", "file-sparse-9-mib",
                       "bytes-latin-1", "bytes-utf8-bom", "nesting-arrays-100000", "nesting-inline-tables-1000",
                       "number-timeout-nan", "number-shard-count-max-int64", "outs-into-a-subpackage",
                       "toolchains-unknown", "workspace-default-toolchain-unknown", "graph-cycle-of-two"]


@pytest.mark.parametrize("name", REAL_PROCESS_SAMPLE)
def test_a_sample_of_the_corpus_as_ordinary_processes(tmp_path, ws, name):
    (case,) = [c for c in CORPUS if c.name == name]
    root = tmp_path / name
    write_case(root, case.files)
    found = problems_with(case, "validate", ws.run("validate", cwd=root, timeout=TIMEOUT), 1)
    found += problems_with(case, "build //...", ws.run("build", "//...", cwd=root, timeout=TIMEOUT), 2)
    assert not found, "\n".join(found)


def test_the_fork_server_kills_a_hang_and_answers_as_a_process_would(tmp_path, ws):
    root = tmp_path / "h"
    write_case(root, {"p/BUILD.toml": '[slow]\nrule = "genrule"\nouts = ["s"]\ncmd = "sleep 5; touch $@"\n'})
    with ForkServer(ws.env()) as server:
        r = server.run(["version"], root, ws.env(), TIMEOUT)
        assert r.returncode == 0 and r.stdout.startswith("moltb ") and not r.timed_out, (r.stdout, r.stderr)
        r = server.run(["no-such-command"], root, ws.env(), TIMEOUT)
        assert r.returncode == 2 and "no-such-command" in r.stderr
        r = server.run(["build", "//..."], root, ws.env(), 1)
        assert r.timed_out and r.seconds < 4
        r = server.run(["validate"], root, ws.env(), TIMEOUT)     # the server goes on after a kill
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("rc, stderr, problem", [
    (1, "ERROR: p/BUILD.toml: bad\n", None),
    (0, "ERROR: p/BUILD.toml: bad\n", "exited 0, not 1"),
    (1, "Traceback (most recent call last):\nERROR: p/BUILD.toml: bad\n", "printed a traceback"),
    (1, "nothing\n", "printed 0 ERROR lines"),
    (1, "ERROR: q/BUILD.toml: bad\n", "does not name p/BUILD.toml"),
    (1, "ERROR: /abs/ws/p/BUILD.toml: bad\n", None),
])
def test_what_the_corpus_test_counts_as_a_problem(rc, stderr, problem):
    import subprocess
    found = problems_with(Case("c", {}), "validate", subprocess.CompletedProcess([], rc, "", stderr), 1)
    assert (problem is None and not found) or (problem and problem in found[0]), found
    two = "ERROR: p/BUILD.toml: a\nERROR: p/BUILD.toml: b\n"
    assert not problems_with(Case("c", {}), "validate", subprocess.CompletedProcess([], 1, "", two), 1)
    assert "2 ERROR lines" in problems_with(Case("c", {}), "build //...",
                                            subprocess.CompletedProcess([], 2, "", two), 2)[0]
