"""Lanes declared in BUILD.toml whose compiler is a workspace target (a py_tool): the
compiler is a node of the graph. A miscompiling edit shows FAILED for the cases it
breaks, never a cached PASS; a comment-only edit re-runs the compiles and, by early
cutoff, every run and compare whose program came out the same stays cached."""
from __future__ import annotations

import json
from collections import Counter

from conftest import HEADER, REPO

COMPILER = (REPO / "tests/lane_compiler/mc.py").read_text()
LANE = """
[mc]
rule = "toolchain"
lane = "mc"
compiler = "//tools/mc:compiler"
build = ["{compiler}", "{src}", "{out}"]
"""
CASES = {
    "adds": "print(2 + 3)\n",
    "adds_more": "x = [1, 2]\nprint(x + [3])\n",
    "repeats": "print('ab' * 3)\n",
    "loops": "print(sum(i * i for i in range(10)))\n",
}


def lane_ws(ws, root_extra: str = ""):
    files = {"BUILD.toml": HEADER + LANE + root_extra,
             "tools/mc/BUILD.toml": '[compiler]\nrule = "py_tool"\nsrcs = ["mc.py"]\nmain = "mc:main"\n',
             "tools/mc/mc.py": COMPILER,
             "d/BUILD.toml": '[cases]\nrule = "diff_suite"\nsrcs = ["*.py"]\ntoolchains = ["mc"]\n'}
    files.update({f"d/{name}.py": text for name, text in CASES.items()})
    return ws.write(files)


def summary(ws) -> dict:
    return {t["label"]: t for t in json.loads((ws.root / "moltb-out/testlogs/summary.json").read_text())["tests"]}


def executed(ws) -> Counter:
    return Counter(e["mnemonic"] for e in ws.executed())


def edit_compiler(ws, old: str, new: str) -> None:
    path = ws.root / "tools/mc/mc.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_compiler_is_a_node_of_the_graph(ws):
    lane_ws(ws)
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert executed(ws) == Counter({"DiffReference": 4, "PyCompile": 4, "DiffCompare": 4})

    # A comment: every compile re-runs, every program is the same, every verdict is cached.
    edit_compiler(ws, "BROKEN = False", "BROKEN = False  # not yet")
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert executed(ws) == Counter({"PyCompile": 4})
    tests = summary(ws)
    assert all(t["status"] == "PASSED" and t["cached"] for t in tests.values()), tests
    assert r.stderr.count("(cached) PASSED") == 4
    assert "4 of 4 build actions ran" in r.stderr

    # A miscompile: the cases it breaks FAIL (never a cached PASS); the others are cached.
    edit_compiler(ws, "BROKEN = False", "BROKEN = True")
    r = ws.run("test", "//d/...")
    assert r.returncode == 3, r.stderr
    tests = summary(ws)
    assert {l: t["status"] for l, t in tests.items()} == {
        "//d:adds": "FAILED", "//d:adds_more": "FAILED", "//d:repeats": "PASSED", "//d:loops": "PASSED"}
    assert tests["//d:repeats"]["cached"] and tests["//d:loops"]["cached"]
    assert executed(ws) == Counter({"PyCompile": 4})
    failed = [e["label"] for e in ws.events() if e["event"] == "action_finished" and e["status"] == "failed"]
    assert sorted(failed) == ["//d:adds", "//d:adds_more"]

    # Fixed again: the broken cases pass, from the cache of the first run.
    edit_compiler(ws, "BROKEN = True", "BROKEN = False")
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert all(t["cached"] for t in summary(ws).values())
    r = ws.run("explain", "//d/...", "--test")
    assert r.stdout.splitlines()[-1] == "0 of 12 actions would run", r.stdout


def test_a_lane_registered_by_label_builds_py_binaries_and_lists_its_identity(ws):
    lane_ws(ws)
    # The same lane, declared outside the root and registered by label.
    text = (ws.root / "BUILD.toml").read_text().replace(LANE, "")
    ws.write({"BUILD.toml": text.replace('name = "t"', 'name = "t"\ntoolchains = ["//tools:mc"]'),
              "tools/BUILD.toml": LANE.replace('"//tools/mc:compiler"', '"//tools/mc:compiler"'),
              "app/BUILD.toml": '[hello]\nrule = "py_binary"\nsrc = "hello.py"\n',
              "app/hello.py": "print('hello from mc')\n"})
    r = ws.run("build", "//app:hello", "--toolchain", "mc")
    assert r.returncode == 0, r.stderr
    out = ws.root / "moltb-out/mc-dev/app/hello"
    assert out.read_text().endswith("print('hello from mc')\n")
    r = ws.run("toolchains")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    start = lines.index("mc: available")
    lane = "\n".join(lines[start:start + 8])
    assert "declared by: //tools:mc in tools/BUILD.toml" in lane
    assert "compiler: //tools/mc:compiler" in lane and "keyed files: tools/mc/mc.py" in lane


def test_pass_env_is_keyed_and_a_change_reanalyses(ws):
    lane_ws(ws)
    ws.write({"BUILD.toml": (ws.root / "BUILD.toml").read_text().replace(
        'build = ["{compiler}"', 'pass_env = ["MC_FLAVOUR"]\nbuild = ["{compiler}"')})
    assert ws.run("test", "//d/...", env={"MC_FLAVOUR": "a"}).returncode == 0
    assert ws.run("test", "//d/...", env={"MC_FLAVOUR": "a"}).returncode == 0
    assert not executed(ws)
    r = ws.run("test", "//d/...", env={"MC_FLAVOUR": "b"})
    assert r.returncode == 0, r.stderr
    assert executed(ws)["PyCompile"] == 4


def test_bad_lane_declarations_are_errors_naming_file_target_and_field(ws):
    lane_ws(ws)
    ws.write({"BUILD.toml": (ws.root / "BUILD.toml").read_text().replace('"{src}", "{out}"', '"{source}", "{out}"')})
    r = ws.run("test", "//d/...")
    assert r.returncode == 2, r.stderr
    assert "BUILD.toml" in r.stderr and "'mc'" in r.stderr and "'build'" in r.stderr and "{source}" in r.stderr
    lane_ws(ws)
    ws.write({"BUILD.toml": HEADER.replace('name = "t"', 'name = "t"\ntoolchains = ["//d:cases"]')})
    r = ws.run("build", "//d/...")
    assert r.returncode == 2, r.stderr
    assert "is not a `toolchain` target" in r.stderr and "'toolchains'" in r.stderr
    assert "Traceback" not in r.stderr
