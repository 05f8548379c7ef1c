"""The Molt lanes exactly as docs/toolchains.md documents them, built against a stand-in
`molt` (tests/molt_standin) that accepts Molt's command line and nothing else: the
compiler runs from the checkout's sources, the Rust sources it builds are part of its
identity, moltb's profile reaches `--build-profile`, and Molt's private state (its
cache, cargo's target directory, HOME) is passed through unkeyed and writable."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter

from conftest import REPO

CASES = {"adds": "print(2 + 3)\n", "strings": "print('-'.join(['a', 'b']))\n"}


def documented_build_file() -> str:
    doc = (REPO / "docs/toolchains.md").read_text()
    after = doc.split("<!-- example: molt-checkout BUILD.toml -->", 1)[1]
    return re.search(r"```toml\n(.*?)```", after, re.S).group(1)


def molt_checkout(ws, tmp_path) -> dict:
    shutil.copytree(REPO / "tests/molt_standin", ws.root, dirs_exist_ok=True)
    ws.write({"BUILD.toml": documented_build_file(),
              "d/BUILD.toml": '[cases]\nrule = "diff_suite"\nsrcs = ["*.py"]\ntoolchains = ["molt-native"]\n',
              "app/BUILD.toml": '[hello]\nrule = "py_binary"\nsrc = "hello.py"\n',
              "app/hello.py": "print('hello')\n",
              **{f"d/{n}.py": t for n, t in CASES.items()}})
    state = {k: tmp_path / k.lower() for k in ("MOLT_CACHE", "CARGO_TARGET_DIR", "HOME")}
    for d in state.values():
        d.mkdir()
    return {k: str(v) for k, v in state.items()}


def builds(env: dict) -> list[dict]:
    with open(f"{env['MOLT_CACHE']}/builds.log") as f:
        return [json.loads(line) for line in f]


def executed(ws) -> Counter:
    return Counter(e["mnemonic"] for e in ws.executed())


def test_the_standin_takes_exactly_molts_flags(tmp_path):
    cli = [sys.executable, "-c", "import sys; from molt.cli import main; sys.exit(main())"]
    env = {"PYTHONPATH": str(REPO / "tests/molt_standin/src")}
    (tmp_path / "a.py").write_text("print(1)\n")
    ok = subprocess.run([*cli, "build", "a.py", "--target", "native", "--build-profile", "dev",
                         "--output", "a"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for wrong in (["-o", "a"], ["--build-profile", "debug"], ["--profile", "dev"]):
        r = subprocess.run([*cli, "build", "a.py", *wrong], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 2, (wrong, r.stderr)
    for wrong in (["daemon", "start"], ["runtime", "build"]):
        r = subprocess.run([*cli, *wrong], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 2, (wrong, r.stderr)


def test_the_documented_molt_lanes_build_and_test(ws, tmp_path):
    env = molt_checkout(ws, tmp_path)
    r = ws.run("test", "//d/...", env=env)
    assert r.returncode == 0, r.stderr
    assert executed(ws)["PyCompile"] == 2
    assert {(b["target"], b["build_profile"], b["capabilities"], b["daemon"]) for b in builds(env)} == \
        {("native", "dev", "fs,env,time,random", "0")}
    # The Rust sources Molt builds itself are part of its identity.
    with open(ws.root / "runtime/src/lib.rs", "a") as f:
        f.write("// edited\n")
    r = ws.run("test", "//d/...", env=env)
    assert r.returncode == 0, r.stderr
    assert executed(ws) == Counter({"PyCompile": 2})          # same programs: verdicts cached
    # So are Molt's own sources.
    with open(ws.root / "src/molt/cli.py", "a") as f:
        f.write("# edited\n")
    assert ws.run("test", "//d/...", env=env).returncode == 0
    assert executed(ws) == Counter({"PyCompile": 2})
    # Private state is not keyed: another cache directory reruns nothing.
    other = {**env, "MOLT_CACHE": str(tmp_path / "other-cache")}
    assert ws.run("test", "//d/...", env=other).returncode == 0
    assert not executed(ws)


def test_profiles_and_the_wasm_lane(ws, tmp_path):
    env = molt_checkout(ws, tmp_path)
    r = ws.run("build", "//app:hello", "--toolchain", "molt-native", "--profile", "release", env=env)
    assert r.returncode == 0, r.stderr
    assert "--build-profile release" in (ws.root / "moltb-out/molt-native-release/app/hello").read_text()
    r = ws.run("build", "//app:hello", "--toolchain", "molt-wasm", env=env)
    assert r.returncode == 0, r.stderr
    assert (ws.root / "moltb-out/molt-wasm-dev/app/hello.wasm").read_bytes().startswith(b"\0asm")
    assert [b["target"] for b in builds(env)] == ["native", "wasm"]
    r = ws.run("toolchains", env=env)
    lines = r.stdout.splitlines()
    lane = "\n".join(lines[lines.index("molt-native: available"):][:8])
    assert "declared by: //:molt_native in BUILD.toml" in lane and "compiler: :molt" in lane, lane
    assert "runtime/src/lib.rs" in lane and "src/molt/cli.py" in lane, lane
    assert "keyed PATH; private state MOLT_CACHE, CARGO_TARGET_DIR, HOME" in lane, lane
