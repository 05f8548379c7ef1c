"""The project's own example, built from this checkout with the real toolchain."""
from __future__ import annotations

import shutil
import subprocess

from conftest import REPO, TempWorkspace


def copy_examples(ws: TempWorkspace) -> None:
    shutil.copytree(REPO / "examples", ws.root / "examples")


def test_hello_builds_runs_and_rebuilds_minimally(ws):
    copy_examples(ws)
    r = ws.run("build", "//examples:hello")
    assert r.returncode == 0, r.stderr
    assert "INFO: 4 actions: 4 executed, 0 cached, 0 failed" in r.stderr
    exe = ws.out("examples/hello")
    assert subprocess.run([exe], capture_output=True, text=True).stdout == "Hello, moltb!\n"

    r = ws.run("build", "//examples:hello")
    assert r.returncode == 0 and ws.finished()["actions"]["executed"] == 0

    # A comment edit recompiles that one source; the link is an early-cutoff hit.
    hello = ws.root / "examples/hello.c"
    hello.write_text(hello.read_text().replace("The smallest", "The very smallest"))
    r = ws.run("build", "//examples:hello")
    assert r.returncode == 0, r.stderr
    ran = ws.executed()
    assert [(e["label"], e["mnemonic"]) for e in ran] == [("//examples:hello", "CcCompile")]

    # A header edit recompiles both sources that include it.
    h = ws.root / "examples/greet.h"
    h.write_text(h.read_text() + "/* a new comment */\n")
    ws.run("build", "//examples:hello")
    compiled = sorted(e["label"] for e in ws.executed() if e["mnemonic"] == "CcCompile")
    assert compiled == ["//examples:greet", "//examples:hello"]
    assert subprocess.run([exe], capture_output=True, text=True).stdout == "Hello, moltb!\n"
