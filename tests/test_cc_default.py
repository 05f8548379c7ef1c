"""The native toolchain's compiler, for real: by default the system cc when it works
(named, with the content of what it runs, in `moltb toolchains` and in every action
key), zig cc when forced or when no cc is on PATH, and a replaced compiler re-runs
the compiles it made."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import HEADER, TempWorkspace

CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None or shutil.which("ar") is None, reason="no system cc and ar on PATH")

# Says which compiler made it, and needs libm (which zig cc links without being asked).
WHO = r"""
#include <math.h>
#include <stdio.h>
int main(void) {
#ifdef __clang__
    printf("clang");
#elif defined(__GNUC__)
    printf("gcc");
#endif
#ifdef WRAPPED
    printf(" wrapped %d", WRAPPED);
#endif
    printf(" %.1f\n", sqrt(6.25));
    return 0;
}
"""
PROGRAM = {"BUILD.toml": HEADER + '[who]\nrule = "c_binary"\nsrcs = ["who.c"]\n', "who.c": WHO}


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def native_listing(ws: TempWorkspace, **env) -> tuple[str, str]:
    """(version, fingerprint) of `native` in `moltb toolchains`."""
    r = ws.run("toolchains", env=env or None)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    start = lines.index("native: available")
    version, fp = lines[start + 1].strip(), lines[start + 2].strip()
    assert version.startswith("version: ") and fp.startswith("fingerprint: "), lines[start:start + 3]
    return version.removeprefix("version: "), fp.removeprefix("fingerprint: ")


def system_says() -> str:
    """What WHO prints when the system cc builds it by hand."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "who.c").write_text(WHO)
        subprocess.run([CC, "who.c", "-o", "who", "-lm"], cwd=tmp, check=True)
        return subprocess.run([os.path.join(tmp, "who")], capture_output=True, text=True, check=True).stdout


def build_and_run(ws: TempWorkspace, **env) -> str:
    r = ws.run("build", "//:who", env=env or None)
    assert r.returncode == 0, r.stderr
    return subprocess.run([ws.out("who")], capture_output=True, text=True, check=True).stdout


def keys(ws: TempWorkspace) -> dict[str, str]:
    return {e["mnemonic"]: e["key"] for e in ws.events() if e["event"] == "action_finished"}


def executed(ws: TempWorkspace) -> list[str]:
    return sorted(e["mnemonic"] for e in ws.executed())


def test_default_is_the_system_cc_named_with_what_it_runs_and_zig_when_forced(make_ws):
    default, zig = make_ws("default"), make_ws("zig")          # one cache: equal keys would be hits
    default.write(PROGRAM)
    zig.write({**PROGRAM, "BUILD.toml": PROGRAM["BUILD.toml"] + '\n[workspace.toolchains.native]\ncompiler = "zig"\n'})

    version, fp = native_listing(default)
    real = os.path.realpath(CC)
    assert version.endswith(f"(system cc: {real})"), version
    first = subprocess.run([CC, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    assert first in version and first in fp
    assert f"cc={real}@{sha256(real)}" in fp, fp
    ar = os.path.realpath(shutil.which("ar"))
    assert f"ar={ar}@{sha256(ar)}" in fp, fp
    cc1 = subprocess.run([CC, "-print-prog-name=cc1"], capture_output=True, text=True).stdout.strip()
    if os.path.isabs(cc1):                      # gcc: the compiler proper, and the linker it runs
        cc1 = os.path.realpath(cc1)
        assert f"cc1={cc1}@{sha256(cc1)}" in fp, fp
        assert "|ld=" in fp and "|as=" in fp, fp

    assert build_and_run(default) == system_says()
    zig_version, zig_fp = native_listing(zig)
    assert zig_version.startswith("zig ") and "system cc" not in zig_version, zig_version
    assert zig_fp.startswith("native|zig "), zig_fp
    assert build_and_run(zig) == "clang 2.5\n"
    assert executed(zig) == ["CcCompile", "CcLink"]             # nothing shared with the system cc's
    assert all(keys(default)[m] != keys(zig)[m] for m in ("CcCompile", "CcLink"))


def test_without_cc_on_path_the_default_is_zig_and_builds(ws, tmp_path):
    ws.write(PROGRAM)
    bin_dir = tmp_path / "bin"                  # a PATH without cc (bwrap kept: the same sandbox)
    bin_dir.mkdir()
    if shutil.which("bwrap"):
        os.symlink(shutil.which("bwrap"), bin_dir / "bwrap")
    path = {"PATH": str(bin_dir)}
    version, fp = native_listing(ws, **path)
    assert version.startswith("zig ") and version.endswith("(not the system cc: no system cc on PATH)"), version
    assert fp.startswith("native|zig "), fp
    assert build_and_run(ws, **path) == "clang 2.5\n"
    # `compiler = "system"` asks for what is not there.
    (ws.root / "BUILD.toml").write_text(PROGRAM["BUILD.toml"] + '\n[workspace.toolchains.native]\ncompiler = "system"\n')
    r = ws.run("build", "//:who", env=path)
    assert r.returncode == 2 and "no system cc on PATH" in r.stderr, r.stderr


def wrapper(path: Path, extra: str = "", exit_code: int | None = None) -> None:
    body = f"exit {exit_code}" if exit_code is not None else f'exec {CC} {extra} "$@"'
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_replacing_the_compiler_changes_the_key_and_the_compile_reruns(ws, tmp_path):
    cc = tmp_path / "tools" / "mycc"
    cc.parent.mkdir()
    wrapper(cc)
    ws.write({**PROGRAM, "BUILD.toml": PROGRAM["BUILD.toml"] + f'\n[workspace.toolchains.native]\ncc = "{cc}"\n'})
    assert build_and_run(ws) == system_says()
    assert executed(ws) == ["CcCompile", "CcLink"]
    first = keys(ws)
    assert f"cc={cc}@{sha256(str(cc))}" in native_listing(ws)[1]
    r = ws.run("build", "//:who")
    assert r.returncode == 0 and executed(ws) == [], r.stderr

    wrapper(cc, "-DWRAPPED=2")                  # the same path, another compiler
    r = ws.run("explain", "//:who")
    assert r.returncode == 0 and "toolchain changed" in r.stdout, r.stdout
    assert build_and_run(ws) == system_says().replace(" ", " wrapped 2 ", 1)
    assert executed(ws) == ["CcCompile", "CcLink"]
    assert all(keys(ws)[m] != first[m] for m in first)

    wrapper(cc)                                 # back as it was: what the cache holds is what it made
    assert build_and_run(ws) == system_says()
    assert executed(ws) == [] and keys(ws) == first


def test_a_system_cc_that_does_not_work_is_passed_over_by_default_and_refused_when_forced(ws, tmp_path):
    cc = tmp_path / "broken-cc"
    wrapper(cc, exit_code=1)
    settings = f'\n[workspace.toolchains.native]\ncc = "{cc}"\n'
    ws.write({**PROGRAM, "BUILD.toml": PROGRAM["BUILD.toml"] + settings})
    version, _ = native_listing(ws)
    assert version.startswith("zig ") and f"(not the system cc: the system cc at {cc} does not work" in version, version
    assert build_and_run(ws) == "clang 2.5\n"
    (ws.root / "BUILD.toml").write_text(PROGRAM["BUILD.toml"] + settings + 'compiler = "system"\n')
    r = ws.run("build", "//:who")
    assert r.returncode == 2 and f"the system cc at {cc} does not work" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_compiler_setting_names_the_choices(ws):
    ws.write({**PROGRAM, "BUILD.toml": PROGRAM["BUILD.toml"] + '\n[workspace.toolchains.native]\ncompiler = "icc"\n'})
    r = ws.run("build", "//:who")
    assert r.returncode == 2, r.stderr
    assert "unknown compiler 'icc'" in r.stderr and '"auto", "system", "zig"' in r.stderr, r.stderr
