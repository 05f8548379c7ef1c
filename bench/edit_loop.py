#!/usr/bin/env python3
"""The edit loop beside ninja, in one run on this machine: no-op and one-file edit with
moltb's workspace server warm (and with --no-server), ninja on the same workload, the
`--watch` latency from the write of a file to its action's start (from the event log's
timestamps), and the server's memory holding the graph.

  bench/edit_loop.py [--gen PATH/gen_peers.py] [--copy-n 10000] [--edits 7] [--only copy|c] [--record]

Workloads are gen_peers.py's: N independent copy actions, and the 2,051-action C build
(moltb with its default compiler, the system cc that ninja uses). Edits append to a
different source each time; figures are medians (min and max beside them).
--record appends to docs/benchmarks/edit-loop.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import DEFAULT_GEN, generate, moltb_cmd, record  # noqa: E402


def wall(cmd: list[str], cwd: Path, env: dict) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t
    if r.returncode:
        raise RuntimeError(f"{cmd} in {cwd} failed ({r.returncode}): {r.stderr[-800:]}")
    return took


def stats(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def sources(ws: Path, kind: str, n: int) -> list[Path]:
    if kind == "copy":
        return [ws / f"in/f{i:05d}.txt" for i in range(1, n + 1)]
    return [ws / f"pkg{i:03d}/s000.c" for i in range(1, n + 1)]


def edit(path: Path, kind: str, i: int) -> None:
    path.write_text(path.read_text() + ("x\n" if kind == "copy" else f"int edited_{i}(void) {{ return {i}; }}\n"))


def loop(tool: str, cmd: list[str], ws: Path, env: dict, kind: str, edits: int) -> dict:
    wall(cmd, ws, env)                        # full build (and the server's start)
    wall(cmd, ws, env)
    noops = [wall(cmd, ws, env) for _ in range(7)]
    times = []
    for i, path in enumerate(sources(ws, kind, edits)):
        time.sleep(0.3)                       # an edit, not a burst: the previous round has settled
        edit(path, kind, i)
        times.append(wall(cmd, ws, env))
    row = {"noop": stats(noops), "edit": stats(times)}
    print(f"  {kind} {tool}: no-op {row['noop']['median']:.3f} s, edit {row['edit']['median']:.3f} s",
          file=sys.stderr)
    return row


def server_rss(ws: Path) -> dict:
    info = json.loads((ws / "moltb-out/.moltb/server/server.json").read_text())
    fields = {}
    for line in open(f"/proc/{info['pid']}/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def ts_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def watch_latency(ws: Path, env: dict, kind: str, edits: int) -> dict:
    """From the write of a source to its action's `action_started`, under --watch."""
    proc = subprocess.Popen([*moltb_cmd(), "build", "//...", "-j2", "-q", "--watch"], cwd=ws, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lat = []
    try:
        rounds = 0

        def wait_round() -> None:
            nonlocal rounds
            while True:
                line = proc.stderr.readline()
                if not line:
                    raise RuntimeError("moltb --watch ended")
                if line.startswith("[watch] round"):
                    rounds += 1
                    return
        wait_round()
        logs = ws / "logs/moltb"
        for i, path in enumerate(sources(ws, kind, edits + 20)[20:]):
            time.sleep(0.3)
            before = set(logs.glob("2*.jsonl"))
            wrote = time.time()
            edit(path, kind, 100 + i)
            wait_round()
            new = sorted(set(logs.glob("2*.jsonl")) - before)
            started = [json.loads(l) for f in new for l in f.read_text().splitlines() if '"action_started"' in l]
            if started:
                lat.append(ts_seconds(started[0]["ts"]) - wrote)
    finally:
        proc.send_signal(2)
        proc.wait(timeout=60)
    return stats(lat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen", type=Path, default=DEFAULT_GEN)
    ap.add_argument("--copy-n", type=int, default=10000)
    ap.add_argument("--edits", type=int, default=7)
    ap.add_argument("--only", choices=["copy", "c"])
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="edit_loop."))
    result: dict = {}
    extra: dict = {}
    try:
        for kind in ([args.only] if args.only else ["copy", "c"]):
            rows = result[kind] = {}
            for tool in ("ninja", "moltb (server)", "moltb --no-server"):
                ws = root / f"{kind}_{tool.split()[0]}_{tool.count('no-server')}"
                generate(args.gen, ws, kind, args.copy_n)
                env = dict(os.environ, MOLTB_CACHE_DIR=str(root / f"cache_{ws.name}"), MOLTB_SERVER="1")
                cmd = ["ninja", "-j2"] if tool == "ninja" else \
                    [*moltb_cmd(), "build", "//...", "-j2", "-q", *(["--no-server"] if "no-server" in tool else [])]
                rows[tool] = loop(tool, cmd, ws, env, kind, args.edits)
                if tool == "moltb (server)":
                    extra[f"{kind} server memory, MiB"] = server_rss(ws)
                    extra[f"{kind} --watch: write to action start, s"] = watch_latency(ws, env, kind, args.edits)
                    subprocess.run([*moltb_cmd(), "shutdown"], cwd=ws, env=env, capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = ["| workload | tool | no-op s (median; min-max) | one-file edit s (median; min-max) |", "|---|---|---|---|"]
    for kind, rows in result.items():
        for tool, r in rows.items():
            n, e = r["noop"], r["edit"]
            lines.append(f"| {kind} | {tool} | {n['median']:.3f} ({n['min']:.3f}-{n['max']:.3f}) | "
                         f"{e['median']:.3f} ({e['min']:.3f}-{e['max']:.3f}) |")
    for kind, rows in result.items():
        ninja = rows["ninja"]
        for tool, r in rows.items():
            if tool != "ninja":
                lines.append(f"\n{kind}, {tool} / ninja: no-op {r['noop']['median'] / ninja['noop']['median']:.2f}x, "
                             f"one edit {r['edit']['median'] / ninja['edit']['median']:.2f}x")
    for name, value in extra.items():
        shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items())
        lines.append(f"\n{name}: {shown}")
    text = f"Workloads: copy N={args.copy_n}, C 2,051 actions; {args.edits} edits each.\n\n" + "\n".join(lines)
    print(text)
    if args.record:
        record("edit-loop.md", "The edit loop: server, --watch, beside ninja", text)


if __name__ == "__main__":
    main()
