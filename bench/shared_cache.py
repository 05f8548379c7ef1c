#!/usr/bin/env python3
"""Several agents on one cache, and a fresh checkout with a warm cache.

1. Agents: N copies of the 2,051-action C workspace (gen_peers.py), N `moltb build
   //...` processes started together on one MOLTB_CACHE_DIR, against one cold build
   alone. Reports the wall ratio, the sum of executed actions over the N event logs
   and the number of distinct action keys (equal when nothing ran twice).
2. Fresh checkout, warm cache: a new copy of the workspace at another path, building
   against the cache the first copy filled; beside ninja + ccache (CCACHE_BASEDIR set)
   on a fresh copy with a warm ccache.

  bench/shared_cache.py [--gen PATH] [--agents 4] [--compiler system|zig] [--record]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import DEFAULT_GEN, moltb_cmd, record  # noqa: E402


def gen(gen_py: Path, ws: Path, compiler: str) -> None:
    subprocess.run([sys.executable, str(gen_py), str(ws), "--kind", "c"], check=True, stdout=subprocess.DEVNULL)
    if compiler != "zig":
        with open(ws / "BUILD.toml", "a") as f:
            f.write(f'\n[workspace.toolchains.native]\ncompiler = "{compiler}"\n')


def finished(ws: Path) -> dict:
    lines = (ws / "logs/moltb/latest.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def executed_keys(ws: Path) -> list[str]:
    out = []
    for line in (ws / "logs/moltb/latest.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "action_finished" and e["status"] == "executed":
            out.append(e["key"])
    return out


def all_keys(ws: Path) -> set[str]:
    return {json.loads(l)["key"] for l in (ws / "logs/moltb/latest.jsonl").read_text().splitlines()
            if '"action_finished"' in l}


def agents(args, root: Path) -> dict:
    build = [*moltb_cmd(), "build", "//...", "-q"]
    single = root / "single"
    gen(args.gen, single, args.compiler)
    env = dict(os.environ, MOLTB_CACHE_DIR=str(root / "cache_single"))
    t = time.perf_counter()
    subprocess.run(build, cwd=single, env=env, check=True, stderr=subprocess.DEVNULL)
    t_single = time.perf_counter() - t
    copies = []
    for i in range(args.agents):
        ws = root / f"agent{i}"
        gen(args.gen, ws, args.compiler)
        copies.append(ws)
    env = dict(os.environ, MOLTB_CACHE_DIR=str(root / "cache_shared"))
    t = time.perf_counter()
    procs = [subprocess.Popen(build, cwd=ws, env=env, stderr=subprocess.DEVNULL) for ws in copies]
    codes = [p.wait() for p in procs]
    t_agents = time.perf_counter() - t
    executed = sum(finished(ws)["actions"]["executed"] for ws in copies)
    keys = set().union(*(all_keys(ws) for ws in copies))
    dup = len(executed_keys_all := [k for ws in copies for k in executed_keys(ws)]) - len(set(executed_keys_all))
    waits = sum(1 for ws in copies for l in (ws / "logs/moltb/latest.jsonl").read_text().splitlines()
                if '"lock_wait"' in l)
    return {"single_s": t_single, "agents_s": t_agents, "ratio": t_agents / t_single, "exit_codes": codes,
            "executed_sum": executed, "distinct_keys": len(keys), "duplicates": dup, "lock_waits": waits}


def fresh_warm(args, root: Path) -> dict:
    first = root / "fresh_src"
    gen(args.gen, first, args.compiler)
    env = dict(os.environ, MOLTB_CACHE_DIR=str(root / "cache_fresh"))
    build = [*moltb_cmd(), "build", "//...", "-q"]
    subprocess.run(build, cwd=first, env=env, check=True, stderr=subprocess.DEVNULL)
    times = []
    for i in range(3):
        fresh = root / f"fresh_copy{i}"
        shutil.copytree(first, fresh, ignore=shutil.ignore_patterns("moltb-out", "logs", "cache", "out", ".ninja*"))
        t = time.perf_counter()
        subprocess.run(build, cwd=fresh, env=env, check=True, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        assert finished(fresh)["actions"]["executed"] == 0, "fresh copy executed actions"
    row = {"moltb_fresh_warm_s": sorted(times)[1]}
    if shutil.which("ccache") and shutil.which("ninja"):
        cenv = dict(os.environ, CCACHE_DIR=str(root / "ccache"), CCACHE_BASEDIR=str(root))
        src = root / "ninja_src"
        subprocess.run([sys.executable, str(args.gen), str(src), "--kind", "c"], check=True, stdout=subprocess.DEVNULL)
        bn = src / "build.ninja"
        bn.write_text(bn.read_text().replace("command = cc ", "command = ccache cc "))
        subprocess.run(["ninja", "-j2"], cwd=src, env=cenv, check=True, stdout=subprocess.DEVNULL)
        ntimes = []
        for i in range(3):
            fresh = root / f"ninja_copy{i}"
            shutil.copytree(src, fresh, ignore=shutil.ignore_patterns("out", ".ninja*"))
            t = time.perf_counter()
            subprocess.run(["ninja", "-j2"], cwd=fresh, env=cenv, check=True, stdout=subprocess.DEVNULL)
            ntimes.append(time.perf_counter() - t)
        row["ninja_ccache_fresh_warm_s"] = sorted(ntimes)[1]
        row["speedup"] = row["ninja_ccache_fresh_warm_s"] / row["moltb_fresh_warm_s"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gen", type=Path, default=DEFAULT_GEN)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--compiler", default="system", choices=["system", "zig"])
    ap.add_argument("--only", choices=["agents", "fresh"])
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="moltb-shared."))
    result = {}
    try:
        if args.only in (None, "fresh"):
            result["fresh"] = fresh_warm(args, root)
            print("fresh:", result["fresh"], file=sys.stderr)
        if args.only in (None, "agents"):
            result["agents"] = agents(args, root)
            print("agents:", result["agents"], file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = []
    if "fresh" in result:
        f = result["fresh"]
        lines.append(f"- fresh checkout + warm cache, 2,051-action C workspace ({args.compiler} cc): moltb "
                     f"{f['moltb_fresh_warm_s']:.2f} s" + (f"; ninja + ccache (warm) {f['ninja_ccache_fresh_warm_s']:.2f} s;"
                                                           f" moltb {f['speedup']:.1f}x faster" if "speedup" in f else ""))
    if "agents" in result:
        a = result["agents"]
        lines.append(f"- {args.agents} agents on one cache ({args.compiler} cc): {a['agents_s']:.1f} s vs one cold build "
                     f"{a['single_s']:.1f} s = {a['ratio']:.2f}x; exit codes {a['exit_codes']}; executed sum "
                     f"{a['executed_sum']} = distinct keys {a['distinct_keys']}? "
                     f"{'yes' if a['executed_sum'] == a['distinct_keys'] else 'NO'}; duplicates {a['duplicates']}; "
                     f"lock waits {a['lock_waits']}")
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("shared-cache.md", "Shared cache: agents and fresh checkouts (bench/shared_cache.py)", text)

if __name__ == "__main__":
    main()
