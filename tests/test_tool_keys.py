"""Every tool an action runs is an input: editing one of moltb's helper modules re-runs
exactly the actions that use it (and nothing else), and `moltb explain` agrees with
`moltb build` about what is up to date.

moltb runs here from a private copy of its package, so the helpers can be edited
without touching the checkout."""
from __future__ import annotations

import shutil
from collections import Counter

import pytest

from conftest import HEADER, REPO

CASE = '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n'


@pytest.fixture
def pkg(tmp_path):
    """A copy of the molt_build package (rules/ and toolchains/ resolved) and the env that runs it."""
    dst = tmp_path / "pkg"
    shutil.copytree(REPO / "molt_build", dst / "molt_build", ignore=shutil.ignore_patterns("__pycache__"))
    return dst / "molt_build", {"PYTHONPATH": str(dst)}


def workspace(ws):
    shutil.copytree(REPO / "stdlib", ws.root / "stdlib")
    return ws.write({"BUILD.toml": HEADER,
                     "d/BUILD.toml": '[cases]\nrule = "diff_suite"\nsrcs = ["*.c"]\n', "d/hello.c": CASE,
                     "t/BUILD.toml": '[ok]\nrule = "sh_test"\nsrc = "ok.sh"\n', "t/ok.sh": "exit 0\n"})


def executed(ws) -> Counter:
    return Counter(e["mnemonic"] for e in ws.executed())


def test_each_helper_edit_reruns_exactly_the_actions_that_use_it(ws, pkg):
    molt, env = pkg
    workspace(ws)
    r = ws.run("test", "//...", env=env)
    assert r.returncode == 0, r.stderr
    first = executed(ws)
    assert first["DiffCompare"] == 1 and first["IntrinsicScan"] == 5 and first["CraneliftCompile"] == 1
    r = ws.run("test", "//...", env=env)
    assert r.returncode == 0 and not executed(ws), r.stderr

    scans = Counter({"IntrinsicScan": 5, "IntrinsicReport": 1, "TestRun": 1})
    cases = [
        ("rules/difftool.py", Counter({"DiffCompare": 1})),
        ("rules/intrinsics_tool.py", scans),
        # The WASI runner runs the wasm and cranelift programs of the compare node.
        ("toolchains/wasi_run.py", Counter({"DiffCompare": 1})),
        # Same .cwasm bytes: the compare node is cut off early.
        ("toolchains/cranelift_aot.py", Counter({"CraneliftCompile": 1})),
        ("toolchains/wasm_engine.py", Counter({"CraneliftCompile": 1, "DiffCompare": 1})),
        # The wrapper of every test process: every test run (sh_test, the gate, the compare).
        ("rss_exec.py", Counter({"TestRun": 2, "DiffCompare": 1})),
    ]
    # The script that counts what a test left running, around every test process.
    cases.append(("namespace_sandbox.py", Counter({"TestRun": 2, "DiffCompare": 1})))
    for rel, expected in cases:
        path = molt / rel
        if rel == "namespace_sandbox.py":
            text = path.read_text()
            assert "\nexit $code\n" in text
            path.write_text(text.replace("\nexit $code\n", '\nexit "$code"\n'))
        else:
            with open(path, "a") as f:
                f.write("\n# edited\n")
        r = ws.run("test", "//...", env=env)
        assert r.returncode == 0, (rel, r.stderr)
        assert executed(ws) == expected, rel
        r = ws.run("explain", "//...", "--test", env=env)
        assert r.returncode == 0, (rel, r.stderr)
        assert r.stdout.splitlines()[-1].startswith("0 of "), (rel, r.stdout)


def test_a_new_import_in_a_helper_is_staged_too(ws, pkg):
    """The files of a tool are found from its imports: a helper that starts importing
    another moltb module gets it in its exec root (never an ImportError)."""
    molt, env = pkg
    ws.write({"BUILD.toml": HEADER, "d/BUILD.toml": '[cases]\nrule = "diff_suite"\nsrcs = ["*.c"]\n'
                                                    'toolchains = ["native"]\n', "d/hello.c": CASE})
    assert ws.run("test", "//...", env=env).returncode == 0
    (molt / "extra_helper.py").write_text("VALUE = 1\n")
    with open(molt / "rules/difftool.py", "a") as f:
        f.write("\nfrom molt_build import extra_helper  # noqa\n")
    r = ws.run("test", "//...", env=env)
    assert r.returncode == 0, r.stderr
    assert executed(ws) == Counter({"DiffCompare": 1})


def test_explain_right_after_a_build_says_nothing_would_run(ws):
    shutil.copytree(REPO / "stdlib", ws.root / "stdlib")
    ws.write({"BUILD.toml": HEADER})
    assert ws.run("build", "//stdlib/...").returncode == 0
    r = ws.run("explain", "//stdlib/...")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "0 of 6 actions would run", r.stdout
    # `moltb test` adds the gate: explain --test predicts it, then agrees once it ran.
    r = ws.run("explain", "//stdlib/...", "--test")
    assert r.stdout.splitlines()[-1] == "1 of 7 actions would run", r.stdout
    assert ws.run("test", "//stdlib/...").returncode == 0
    r = ws.run("explain", "//stdlib/...", "--test")
    assert r.stdout.splitlines()[-1] == "0 of 7 actions would run", r.stdout


def test_the_wasm_lane_is_keyed_by_the_wasmtime_version(ws):
    r = ws.run("toolchains")
    assert r.returncode == 0, r.stderr
    from importlib.metadata import version
    lines = r.stdout.splitlines()
    at = lines.index("wasm: available")
    fingerprint = next(ln for ln in lines[at:] if ln.strip().startswith("fingerprint:"))
    assert f"wasmtime {version('wasmtime')}" in fingerprint
