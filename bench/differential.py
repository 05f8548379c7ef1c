#!/usr/bin/env python3
"""`moltb test //differential/...` on the repo's own cases, cold and warm.

A copy of differential/ goes into a temporary workspace with an empty cache:
  cold      first run (zig's per-machine libc cache is warm, as it is after any build);
  warm      the same command again, median of 5 (nothing runs: every result is cached);
  fresh     a second copy at another path, same cache (a new checkout or CI job);
  one edit  one case changed (only its nodes run).
From the cold run's event log: action seconds spent in reference runs (CPython),
candidate builds (translate, compile, link, Cranelift) and compare runs, and their share.

  bench/differential.py [-j N] [--matrix] [--record]

--matrix sets [workspace.toolchains.python] reference_pythons = ["3.11", "3.12", "3.13"].

--record appends the table, with commit, machine and date, to docs/benchmarks/differential.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import REPO, moltb_cmd, record, timed  # noqa: E402

CATEGORIES = {"DiffReference": "reference", "PyToC": "candidate build", "CcCompile": "candidate build",
              "CcLink": "candidate build", "CraneliftCompile": "candidate build", "PyCompile": "candidate build",
              "DiffCompare": "compare (candidate runs)"}


def events(ws: Path) -> list[dict]:
    with open(ws / "logs/moltb/latest.jsonl") as f:
        return [json.loads(line) for line in f]


def summary(ws: Path) -> dict:
    return json.loads((ws / "moltb-out/testlogs/summary.json").read_text())


MATRIX = '\n[workspace.toolchains.python]\nreference_pythons = ["3.11", "3.12", "3.13"]\n'


def copy_cases(dest: Path, matrix: bool) -> None:
    """The repo's cases, with its workspace file (it registers molt_format's lanes);
    with the version matrix, every Python case runs under CPython 3.11, 3.12 and 3.13."""
    dest.mkdir(parents=True)
    (dest / "BUILD.toml").write_text((REPO / "BUILD.toml").read_text() + (MATRIX if matrix else ""))
    shutil.copytree(REPO / "differential", dest / "differential")


def run(args, root: Path) -> dict:
    env = dict(os.environ, MOLTB_CACHE_DIR=str(root / "cache"))
    cmd = [*moltb_cmd(), "test", "//differential/...", "-j", str(args.jobs)]
    ws = root / "ws"
    copy_cases(ws, args.matrix)
    res: dict = {}
    res["cold_s"], res["cold_rss_kb"] = timed(cmd, ws, env)
    s = summary(ws)
    res["cases"] = len(s["tests"])
    res["py_cases"] = sum(1 for t in s["tests"] if not t["label"].startswith("//differential/c:"))
    res["c_cases"] = res["cases"] - res["py_cases"]
    res["counts"] = s["counts"]
    fin = events(ws)[-1]
    res["actions"] = fin["actions"]
    spent: dict[str, float] = {}
    for e in events(ws):
        if e["event"] == "action_finished" and e["status"] == "executed":
            cat = CATEGORIES.get(e["mnemonic"], "other")
            spent[cat] = spent.get(cat, 0.0) + e["duration"]
    res["action_s"] = spent
    res["references"] = sum(1 for e in events(ws) if e["event"] == "action_finished"
                            and e["status"] == "executed" and e["mnemonic"] == "DiffReference")
    timed(cmd, ws, env)
    res["warm_s"] = statistics.median(timed(cmd, ws, env)[0] for _ in range(5))
    res["warm_executed"] = events(ws)[-1]["actions"]["executed"]
    fresh = root / "fresh"
    copy_cases(fresh, args.matrix)
    res["fresh_s"] = timed(cmd, fresh, env)[0]
    res["fresh_executed"] = events(fresh)[-1]["actions"]["executed"]
    case = ws / "differential/basic/lists.py"
    time.sleep(0.05)
    case.write_text(case.read_text() + "print('edited')\n")
    res["edit_s"] = timed(cmd, ws, env)[0]
    res["edit_executed"] = events(ws)[-1]["actions"]["executed"]
    return res


def table(r: dict, jobs: int, matrix: bool) -> str:
    total = sum(r["action_s"].values()) or 1.0
    c = r["counts"]
    against = "CPython 3.11, 3.12 and 3.13 (version matrix on)" if matrix else "CPython (version matrix off)"
    lines = [
        f"Cases: {r['cases']} ({r['py_cases']} Python against {against} on the Cython lane and "
        f"molt_format's lanes, {r['c_cases']} C on native/wasm/cranelift); {c['passed']} passed, "
        f"{c['xfail']} xfail, {c['skipped']} skipped, {c['failed']} failed. Actions: {r['actions']['total']}. "
        f"-j{jobs}. Reference runs executed cold: {r['references']}.",
        "",
        "| run | wall (s) | cases/min | actions executed |",
        "|---|---:|---:|---:|",
        f"| cold (empty cache) | {r['cold_s']:.1f} | {r['cases'] / r['cold_s'] * 60:.0f} | "
        f"{r['actions']['executed']} |",
        f"| warm (same checkout, median of 5) | {r['warm_s']:.2f} | {r['cases'] / r['warm_s'] * 60:.0f} | "
        f"{r['warm_executed']} |",
        f"| fresh checkout, warm cache | {r['fresh_s']:.2f} | {r['cases'] / r['fresh_s'] * 60:.0f} | "
        f"{r['fresh_executed']} |",
        f"| one case edited | {r['edit_s']:.2f} | | {r['edit_executed']} |",
        "",
        "Cold run, action time by kind (sum over actions; 2 run at a time):",
        "",
        "| kind | action seconds | share |",
        "|---|---:|---:|",
    ]
    for cat, secs in sorted(r["action_s"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {cat} | {secs:.1f} | {secs / total:.0%} |")
    lines.append(f"\nPeak RSS of the largest process of the cold run (moltb or an action it ran, as "
                 f"/usr/bin/time reports it): {r['cold_rss_kb'] / 1024:.0f} MiB.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--matrix", action="store_true", help="compare Python cases with CPython 3.11, 3.12, 3.13")
    ap.add_argument("--note", default="", help="a remark recorded with the run")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="moltb-diff."))
    try:
        result = run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = table(result, args.jobs, args.matrix) + (f"\n\n{args.note}" if args.note else "")
    print(text)
    if args.record:
        record("differential.md", "`moltb test //differential/...` (bench/differential.py)", text)

if __name__ == "__main__":
    main()
