#!/usr/bin/env python3
"""Dask against local execution on the 2,051-action C workspace (gen_peers.py).

A local Dask cluster (a `dask scheduler` and N `dask worker --nthreads 1`) is started
on loopback. Timed, each from an empty cache: `moltb build //...` with the local runner
at -jN, and with `--executor dask://...`; then a third copy at another path on the Dask
build's cache (nothing runs). Reports the wall time, what each action cost, and how the
actions spread over the workers.

  bench/dask_executor.py [--gen PATH] [--workers 2] [--compiler system|zig] [--record]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import DEFAULT_GEN, moltb_cmd, record  # noqa: E402
from shared_cache import finished, gen  # noqa: E402


def start_cluster(root: Path, workers: int) -> tuple[list[subprocess.Popen], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask = shutil.which("dask") or str(Path(sys.executable).with_name("dask"))
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    for i in range(workers):
        procs.append(subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1",
                                       "--no-dashboard", "--name", f"w{i}"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
    from distributed import Client
    client = Client(f"tcp://127.0.0.1:{port}", timeout=60)
    client.wait_for_workers(workers, timeout=60)
    client.close()
    return procs, f"dask://127.0.0.1:{port}"


def build(ws: Path, cache: Path, *extra: str) -> float:
    env = dict(os.environ, MOLTB_CACHE_DIR=str(cache))
    t = time.monotonic()
    subprocess.run([*moltb_cmd(), "build", "//...", "-q", *extra], cwd=ws, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t


def workers_of(ws: Path) -> Counter:
    c: Counter = Counter()
    for line in (ws / "logs/moltb/latest.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "action_finished" and e["status"] == "executed":
            c[e.get("worker", "here")] += 1
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gen", type=Path, default=DEFAULT_GEN)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--compiler", default="zig", choices=("zig", "system"))
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="moltb-dask."))
    procs, url = start_cluster(root, args.workers)
    try:
        for name in ("local", "dask", "fresh"):
            gen(args.gen, root / name, args.compiler)
        local_s = build(root / "local", root / "cache-local", "-j", str(args.workers))
        dask_s = build(root / "dask", root / "cache-dask", "--executor", url)
        n = finished(root / "dask")["actions"]["total"]
        spread = workers_of(root / "dask")
        fresh_s = build(root / "fresh", root / "cache-dask", "--executor", url)
        fresh_executed = finished(root / "fresh")["actions"]["executed"]
        same = subprocess.run(["cmp", root / "local/moltb-out/native-dev/app/app",
                               root / "dask/moltb-out/native-dev/app/app"]).returncode == 0
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
    text = "\n".join([
        f"C workspace of {n} actions (gen_peers.py), compiler {args.compiler}; a local Dask cluster of "
        f"{args.workers} workers (`--nthreads 1`) on this machine, data through the shared cache directory. "
        f"Binary identical to the local build's: {'yes' if same else 'NO'}.", "",
        "| run | wall (s) | per action (ms) | actions executed |", "|---|---:|---:|---:|",
        f"| local runner, -j{args.workers}, empty cache | {local_s:.1f} | {local_s / n * 1000:.1f} | {n} |",
        f"| Dask, {args.workers} workers, empty cache | {dask_s:.1f} | {dask_s / n * 1000:.1f} | {n} |",
        f"| Dask, fresh checkout on that cache | {fresh_s:.2f} | | {fresh_executed} |", "",
        f"Dask costs {(dask_s - local_s) / n * 1000:+.1f} ms per action against the local runner "
        f"({dask_s / local_s:.2f}x the wall time). Actions per worker: "
        + ", ".join(f"{w}: {c}" for w, c in sorted(spread.items())) + "."])
    print(text)
    if args.record:
        record("dask.md", "Dask against local execution (bench/dask_executor.py)", text)


if __name__ == "__main__":
    main()
