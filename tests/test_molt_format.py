"""The repo's cases written in Molt's format (differential/molt_format) get the verdicts
VERDICTS.toml gives them, through the CLI with real interpreters; and the Python-version
matrix: interpreters found in pyenv, ranges that select them, lanes tied to one version,
and a version not installed reported as unavailable."""
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO

PKG = "differential/molt_format"
VERDICTS = tomllib.loads((REPO / PKG / "VERDICTS.toml").read_text())["verdicts"]


def _installed(version: str) -> bool:
    from molt_build.toolchains.cpython import _path_candidates, _pyenv_candidates
    return f"{sys.version_info[0]}.{sys.version_info[1]}" == version or \
        any(Path(p).is_file() for p in (*_pyenv_candidates(version), *_path_candidates(version)))


MATRIX = all(_installed(v) for v in ("3.11", "3.12", "3.13"))
needs_matrix = pytest.mark.skipif(not MATRIX, reason="CPython 3.11, 3.12 and 3.13 are not all installed")


def copy_package(ws) -> None:
    shutil.copy(REPO / "BUILD.toml", ws.root / "BUILD.toml")        # it registers the package's lanes
    shutil.copytree(REPO / PKG, ws.root / PKG)


def results(ws) -> dict[str, dict]:
    with open(ws.root / "moltb-out/testlogs/results.jsonl") as f:
        return {r["path"]: r for r in map(json.loads, f)}


def log_of(ws, label: str) -> str:
    package, name = label.removeprefix("//").split(":")
    return (ws.root / "moltb-out/testlogs" / package / name / "test.log").read_text()


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """One run of every case of the package (the must-fail ones named explicitly)."""
    from conftest import TempWorkspace
    base = tmp_path_factory.mktemp("molt_format")
    ws = TempWorkspace(base / "ws", base / "cache")
    copy_package(ws)
    r = ws.run("test", f"//{PKG}/...", f"//{PKG}:must_fail", "--report-format", "molt", "--keep-pass-logs",
               timeout=900)
    return ws, r


def test_every_case_gets_its_verdict(ran):
    ws, r = ran
    assert r.returncode == 3, r.stderr[-3000:]          # the must-fail cases fail the run
    got = {p.removeprefix(PKG + "/"): t["status"] for p, t in results(ws).items()}
    want = dict(VERDICTS)
    if not MATRIX:
        want = {k: v for k, v in want.items() if not k.startswith("versions/")}
        got = {k: v for k, v in got.items() if not k.startswith("versions/")}
    assert got == want
    assert len(VERDICTS) >= 25
    # Molt's report: failures.txt is the failing cases' paths, an XPASS among them.
    failures = (ws.root / "moltb-out/testlogs/failures.txt").read_text().split()
    assert sorted(failures) == sorted(f"{PKG}/{k}" for k, v in VERDICTS.items() if v in ("FAILED", "XPASS"))


def test_every_key_and_mode_is_covered():
    """Each MOLT_META key, stdout and stderr mode and MOLT_ENV appears in a case."""
    text = "\n".join((REPO / PKG / case).read_text() for case in VERDICTS)
    for needle in ("expect_fail=molt ", "expect_fail=molt-wasm", "expect_fail_reason=", "wasm=no", "wasm=only",
                   "platforms=linux", "platforms=windows", "min_py=", "max_py=", "stdlib_profile=micro",
                   "stdout=relaxed", "stdout=pyperformance", "stderr=exception\n", "stderr=exception_signature",
                   "stderr=traceback", "stderr=exact", "stderr=match", "MOLT_ENV: MOLT_CAPABILITIES",
                   "MOLT_ENV: PYTHONPATH", "skip=", "xfail="):
        assert needle in text, needle


def test_tests_txt_runs_exactly_the_listed_cases(ran):
    ws, _ = ran
    listed = [line for line in (REPO / PKG / "cases/TESTS.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    ran_cases = sorted(p for p in results(ws) if p.startswith(f"{PKG}/cases/"))
    assert ran_cases == sorted(f"{PKG}/cases/{c}" for c in listed)
    assert f"{PKG}/cases/lib/helper_values.py" not in results(ws)       # a module, not a case


def test_molt_env_reaches_the_reference_and_the_candidates(ran):
    ws, _ = ran
    ref = ws.out(f"{PKG}/_diff/env_capabilities/reference.stdout").read_text()
    assert ref == "capabilities: ['fs', 'env']\n"
    assert "molt-native: exit 0, 28 bytes" in log_of(ws, f"//{PKG}:env_capabilities")
    assert ws.out(f"{PKG}/_diff/env_last_wins/reference.stdout").read_text() == "bonjour\n"


def test_the_cases_stdlib_profile_reaches_the_compiler(ran):
    ws, _ = ran
    program = ws.out(f"{PKG}/_diff/stdlib_profile_micro/molt-native/stdlib_profile_micro").read_text()
    assert program.splitlines()[0].startswith("#!/usr/bin/env -S MC_COMPILED=1 MC_STDLIB_PROFILE=micro ")
    program = ws.out(f"{PKG}/_diff/exact_pass/molt-native/exact_pass").read_text()
    assert "MC_STDLIB_PROFILE=full " in program.splitlines()[0]          # the lane's default


def test_expected_failure_names_lanes_and_reasons(ran):
    ws, _ = ran
    log = log_of(ws, f"//{PKG}:expect_fail_one_lane")
    assert "expected failure: wasm-prints-differently" in log and "XFAIL" in log
    log = log_of(ws, f"//{PKG}:lanes_disagree")
    assert log.count("lanes disagree with each other: molt-native vs molt-wasm") == 1
    log = log_of(ws, f"//{PKG}:platforms_elsewhere")
    assert "skipped: platforms=windows excludes linux" in log


@needs_matrix
def test_min_py_case_runs_against_its_versions_only(ran):
    ws, _ = ran
    log = log_of(ws, f"//{PKG}:min_py_312")
    assert "cpython3.12: exit 0" in log and "cpython3.13: exit 0" in log
    assert "cpython3.11:" not in log and "not compared with CPython 3.11: outside min_py=3.12" in log
    assert "molt-py311: not run: it follows CPython 3.11, outside min_py=3.12" in log
    # The 3.11 reference did not run the program (its `type` statement is 3.12 syntax).
    assert ws.out(f"{PKG}/_diff/min_py_312/reference").read_text().startswith("not run: outside min_py=3.12")
    assert ws.out(f"{PKG}/_diff/min_py_312/reference-3.13.stdout").read_text() == "tuple[int, int]\n"


@needs_matrix
def test_version_dependent_output_matches_each_versions_reference(ran):
    ws, _ = ran
    for v in ("3.11", "3.12", "3.13"):
        name = "reference" if v == f"{sys.version_info[0]}.{sys.version_info[1]}" else f"reference-{v}"
        assert ws.out(f"{PKG}/_diff/version_dependent/{name}.stdout").read_text() == f"python {v}\n"
    log = log_of(ws, f"//{PKG}:version_dependent")
    assert "PASSED" in log and "differs" not in log
    log = log_of(ws, f"//{PKG}:same_on_every_version")
    assert all(f"cpython{v}: exit 0" in log for v in ("3.11", "3.12", "3.13"))


@needs_matrix
def test_the_interpreter_identity_is_its_content_not_its_path(ws):
    """A copy of an interpreter's installation elsewhere has the same fingerprint, so
    the reference runs are shared; moltb info names the interpreters found."""
    from molt_build.toolchains.cpython import _pyenv_candidates
    exe = Path(_pyenv_candidates("3.12")[0])
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\n', "d/BUILD.toml": ""})
    r = ws.run("toolchains")
    assert r.returncode == 0, r.stderr
    assert "python3.12" in r.stdout
    copy = ws.root.parent / "elsewhere"
    shutil.copytree(exe.parent.parent, copy, symlinks=True)
    out = subprocess.run([str(copy / "bin/python3.12"), "-c", "import sys; print(sys.prefix)"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"this installation does not run from another directory: {out.stderr[-300:]}")
    from molt_build.api import ToolchainContext
    from molt_build.toolchains.cpython import CPythonToolchain
    tc = CPythonToolchain("3.12")
    ctx = lambda path: ToolchainContext(settings={"path": path} if path else {}, profile="dev",  # noqa: E731
                                        cache_dir=str(ws.cache), workspace_root=str(ws.root))
    a, b = tc.resolve(ctx(None)), tc.resolve(ctx(str(copy / "bin/python3.12")))
    assert a.fingerprint == b.fingerprint and a.tool_files != b.tool_files


UNAVAILABLE = """\
[workspace]
name = "t"
register_toolchains = ["//d:lane313"]

[workspace.toolchains."python3.13"]
path = "no/such/python3.13"

[workspace.toolchains.python]
reference_pythons = ["{host}", "3.13"]
"""


def test_an_interpreter_not_installed_is_unavailable_per_case(ws):
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    ws.write({"BUILD.toml": UNAVAILABLE.format(host=host),
              "d/BUILD.toml": """
[mc]
rule = "py_tool"
srcs = ["mc.py"]
main = "mc.py"

[cases]
rule = "diff_suite"
srcs = ["plain.py", "only_313.py"]
toolchains = ["native"]

[tied]
rule = "diff_test"
src = "tied.py"
toolchains = ["lane313"]

[lane313]
rule = "toolchain"
lane = "lane313"
compiler = ":mc"
build = ["{compiler}", "{src}", "{out}"]
python = "3.13"
opt_in = true
""",
              "d/mc.py": "import sys, shutil\nshutil.copy(sys.argv[1], sys.argv[2])\n",
              "d/plain.py": "print('same everywhere')\n",
              "d/only_313.py": "# MOLT_META: min_py=3.13\nprint('new')\n",
              "d/tied.py": "print('tied')\n"})
    r = ws.run("test", "//d/...", "--keep-pass-logs", "--report-format", "molt")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    got = {p: t["status"] for p, t in results(ws).items()}
    assert got == {"d/plain.py": "PASSED", "d/only_313.py": "SKIPPED", "d/tied.py": "SKIPPED"}
    log = log_of(ws, "//d:plain")
    assert "cpython3.13: unavailable: " in log and "no/such/python3.13" in log and "PASSED" in log
    assert "skipped: cpython3.13 unavailable" in log_of(ws, "//d:only_313")
    assert "lane313: unavailable: lane 'lane313' needs CPython 3.13" in log_of(ws, "//d:tied")
    assert "skipped: no lane is available" in log_of(ws, "//d:tied")


def test_a_version_moltb_does_not_know_is_a_clear_error(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\n',
              "d/BUILD.toml": '[c]\nrule = "diff_test"\nsrc = "c.py"\nreference_pythons = ["3.1"]\n',
              "d/c.py": "print(1)\n"})
    r = ws.run("test", "//d:c")
    assert r.returncode == 2, r.stderr
    assert "d/BUILD.toml" in r.stderr and "reference_pythons" in r.stderr and "'3.1'" in r.stderr
    assert "Traceback" not in r.stderr
