#!/usr/bin/env python3
"""The differential suite after a comment-only edit of the compiler under development.

The repo's Python differential cases (differential/basic, errors, stdlib, without their
MOLT_META headers) are compiled by a workspace lane whose compiler is a py_tool
(tests/lane_compiler/mc.py). Two runs of `moltb test //cases/...` on an empty cache:
  cold          everything: reference runs, one compile per case, one compare per case;
  comment edit  a comment appended to the compiler: every compile re-runs (the compiler
                is an input), every program comes out byte-identical, so every run and
                compare is cached (early cutoff): cases re-run = 0.
For each: wall time, actions executed by kind, cases whose compare ran.

  bench/compiler_edit.py [-j N] [--record]

--record appends the table, with commit, machine and date, to docs/benchmarks/compiler-edit.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import REPO, moltb_cmd, record  # noqa: E402

LANE = """
[mc]
rule = "toolchain"
lane = "mc"
compiler = "//tools/mc:compiler"
build = ["{compiler}", "{src}", "{out}"]
"""
META = re.compile(r"^\s*#\s*MOLT_(META|ENV)\s*:.*\n", re.M)


def workspace(ws: Path) -> int:
    (ws / "tools/mc").mkdir(parents=True)
    (ws / "BUILD.toml").write_text('[workspace]\nname = "bench"\n' + LANE)
    (ws / "tools/mc/BUILD.toml").write_text('[compiler]\nrule = "py_tool"\nsrcs = ["mc.py"]\nmain = "mc:main"\n')
    shutil.copy(REPO / "tests/lane_compiler/mc.py", ws / "tools/mc/mc.py")
    n = 0
    for pkg in ("basic", "errors", "stdlib"):
        dest = ws / "cases" / pkg
        dest.mkdir(parents=True)
        (dest / "BUILD.toml").write_text('[cases]\nrule = "diff_suite"\nsrcs = ["*.py"]\ntoolchains = ["mc"]\n')
        for case in sorted((REPO / "differential" / pkg).glob("*.py")):
            (dest / case.name).write_text(META.sub("", case.read_text()))
            n += 1
    return n


def timed_test(cmd: list[str], ws: Path, env: dict) -> float:
    """Wall seconds of `moltb test` (exit 0 or 3: a failing case is a result here)."""
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode not in (0, 3):
        raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stderr[-800:]}")
    return time.perf_counter() - t


def last_run(ws: Path) -> dict:
    with open(ws / "logs/moltb/latest.jsonl") as f:
        ev = [json.loads(line) for line in f]
    done = [e for e in ev if e["event"] == "action_finished"]
    executed = Counter(e["mnemonic"] for e in done if e["status"] in ("executed", "failed"))
    tests = [e for e in ev if e["event"] == "test_result"]
    return {"executed": dict(executed), "actions": len(done), "cases_rerun": executed.get("DiffCompare", 0),
            "verdicts_cached": sum(1 for t in tests if t["cached"]), "tests": len(tests),
            "failed": sorted(t["label"] for t in tests if t["status"] not in ("PASSED", "XFAIL", "SKIPPED"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="moltb-compiler-edit."))
    try:
        ws = root / "ws"
        cases = workspace(ws)
        env = dict(os.environ, MOLTB_CACHE_DIR=str(root / "cache"))
        cmd = [*moltb_cmd(), "test", "//cases/...", "-j", str(args.jobs), "-q"]
        rows = {}
        rows["cold"] = {"wall": timed_test(cmd, ws, env), **last_run(ws)}
        with open(ws / "tools/mc/mc.py", "a") as f:
            f.write("\n# a comment: the compiler changed, what it emits did not\n")
        rows["comment edit"] = {"wall": timed_test(cmd, ws, env), **last_run(ws)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = [f"{cases} Python cases, lane `mc` (a py_tool compiler), -j{args.jobs}\n",
             "| run | wall s | actions executed | by kind | cases re-run (compare executed) | test runs cached "
             "(references and compares) |",
             "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["executed"].items()))
        lines.append(f"| {name} | {r['wall']:.2f} | {sum(r['executed'].values())} of {r['actions']} | {kinds} | "
                     f"{r['cases_rerun']} | {r['verdicts_cached']} of {r['tests']} |")
    failing = rows["cold"]["failed"]
    if failing:
        lines.append(f"\nFailing under this compiler (never cached, so they run every time): {', '.join(failing)}")
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("compiler-edit.md", "The differential suite after a comment-only compiler edit "
               "(bench/compiler_edit.py)", text)


if __name__ == "__main__":
    main()
