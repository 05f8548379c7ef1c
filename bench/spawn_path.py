#!/usr/bin/env python3
"""The spawn path: full builds of N independent copy actions (`cp $< $@`), moltb beside
ninja, interleaved round by round.

  bench/spawn_path.py [-N 10000] [--rounds 3] [--modes light,namespace,server]
                      [--variant NAME=PATH ...] [--record] [--dir DIR]

Each round builds from cold: ninja with an empty `out/`, moltb with an empty cache
(`MOLTB_CACHE_DIR`) and no `moltb-out/` (with the server: all of it but the server's
own directory, so the server stays up). Rows:
  light / namespace   moltb build //... -j2 --sandbox=..., in one process (MOLTB_SERVER=0)
  server              the same with the workspace server (--sandbox=light; warmed by a
                      build first); the server's own CPU during the build is its inotify
                      watch reading the events the build's outputs make
`--variant NAME=PATH` adds light rows for another moltb tree (PATH holds its molt_build/),
e.g. a checkout of an older commit, for before/after figures in the same run.

Nothing is deleted while it measures: old outputs and caches are moved to a trash
directory, removed at the end. (On ext4, creating a file within minutes of many
deletions in the same block group scans past the recently freed inodes: a build right
after `rm -rf` of the last one's 10,000 files pays several times the normal cost per
file, ninja as much as moltb.) Every build runs at the same priority (`nice -n -15`
as root): the machine is shared, and the others' load then disturbs less.

Per row: wall time (min and median), for moltb its own CPU and its children's (rusage),
and each round's ratio to that round's ninja build. --record appends the table to
docs/benchmarks/spawn-path.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import machine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PROBE = r'''
import resource, runpy, sys, time
t = time.perf_counter()
sys.argv = ["moltb", "build", "//...", "-j2"] + sys.argv[1:]
code = 0
try:
    runpy.run_module("molt_build", run_name="__main__")
except SystemExit as e:
    code = e.code
s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print("CPU", time.perf_counter() - t, s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime, file=sys.stderr)
sys.exit(code)
'''


def generate(ws: Path, n: int) -> None:
    """The copy workload of the shared peer benchmark (gen_peers.py --kind copy)."""
    (ws / "in").mkdir(parents=True)
    for i in range(n):
        (ws / "in" / f"f{i:05d}.txt").write_text(f"{i}\n")
    (ws / "build.ninja").write_text("rule cp\n  command = cp $in $out\n" + "".join(
        f"build out/f{i:05d}.txt: cp in/f{i:05d}.txt\n" for i in range(n)))
    (ws / "BUILD.toml").write_text('[workspace]\nname = "synthetic"\n' + "".join(
        f'\n[f{i:05d}]\nrule = "genrule"\nsrcs = ["in/f{i:05d}.txt"]\nouts = ["out/f{i:05d}.txt"]\ncmd = "cp $< $@"\n'
        for i in range(n)))


class Trash:
    def __init__(self, d: Path):
        self.d, self.n = d, 0
        d.mkdir(parents=True, exist_ok=True)

    def away(self, p: Path) -> None:
        if os.path.lexists(p):
            self.n += 1
            os.rename(p, self.d / f"{self.n}")


def server_pids(ws: Path) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"molt_build.server" in cmd and str(ws).encode() in cmd:
                out.append(int(name))
    return out


def cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def moltb_argv() -> list[str]:
    exe = Path(sys.executable).parent / "moltb"
    return [str(exe)] if exe.exists() else ["moltb"]


def run_one(kind: str, ws: Path, cache: Path, trash: Trash, nice: list[str], pythonpath: str | None) -> dict:
    env = dict(os.environ)
    if kind == "ninja":
        trash.away(ws / "out")
        (ws / "out").mkdir()
        trash.away(ws / ".ninja_log")
        cmd = ["ninja", "-j2"]
    elif kind == "server":
        # All of moltb-out but the server's own directory: the server stays up (warm).
        out = ws / "moltb-out"
        for d in (out, out / ".moltb"):
            for name in os.listdir(d) if d.is_dir() else ():
                if name not in (".moltb", "server"):
                    trash.away(d / name)
        trash.away(cache)
    else:
        trash.away(ws / "moltb-out")
        trash.away(cache)
    if kind != "ninja":
        env["MOLTB_CACHE_DIR"] = str(cache)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        sandbox = "namespace" if kind == "namespace" else "light"
        if kind == "server":
            env["MOLTB_SERVER"] = "1"
            cmd = [*moltb_argv(), "build", "//...", "-j2", f"--sandbox={sandbox}"]
        else:
            env["MOLTB_SERVER"] = "0"
            cmd = [sys.executable, "-c", PROBE, f"--sandbox={sandbox}"]
    servers = server_pids(ws) if kind == "server" else []
    server_cpu = sum(cpu_of(p) for p in servers)
    t = time.perf_counter()
    p = subprocess.run([*nice, *cmd], cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{kind}: exit {p.returncode}\n{p.stderr[-2000:]}")
    row = {"wall": wall}
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("CPU ")]
    if lines:
        _w, row["self"], row["children"] = map(float, lines[-1].split()[1:])
    if servers:
        row["server"] = sum(cpu_of(p) for p in servers) - server_cpu
    return row


def commit() -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "molt_build"], cwd=REPO, capture_output=True, text=True)
    return r.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-N", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--modes", default="light,namespace,server")
    ap.add_argument("--variant", action="append", default=[], help="NAME=PATH: light rows for another moltb tree")
    ap.add_argument("--dir", help="work directory (default: a new one under /tmp)")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    base = Path(args.dir or f"/tmp/moltb-spawn-path-{os.getpid()}").resolve()
    ws, cache, trash = base / "ws", base / "cache", Trash(base / "trash")
    if not (ws / "build.ninja").exists():
        generate(ws, args.N)
    nice = ["nice", "-n", "-15"] if os.geteuid() == 0 else []
    modes = [m for m in args.modes.split(",") if m]
    rows = [("ninja", "ninja", None)] + [(m, m, None) for m in modes if m != "server"] + \
        [(v.split("=", 1)[0], "light", v.split("=", 1)[1]) for v in args.variant]
    phases = [rows]
    if "server" in modes:
        # Its own phase: a live server would also read the events of the other rows' builds.
        phases.append([("ninja ", "ninja", None), ("server", "server", None)])
    results: dict[str, list[dict]] = {}
    try:
        for phase in phases:
            if any(kind == "server" for _n, kind, _p in phase):
                run_one("server", ws, cache, trash, nice, None)         # starts and warms the server
            else:
                subprocess.run([*moltb_argv(), "shutdown"], cwd=ws, capture_output=True)
            for r in range(args.rounds):
                for name, kind, pp in phase:
                    row = run_one(kind, ws, cache, trash, nice, pp)
                    results.setdefault(name, []).append(row)
                    print(f"round {r + 1} {name:10s} " + "  ".join(f"{k} {v:.2f}" for k, v in row.items()),
                          flush=True)
    finally:
        subprocess.run([*moltb_argv(), "shutdown"], cwd=ws, capture_output=True)
        shutil.rmtree(trash.d, ignore_errors=True)
    table = ["| row | wall s min | wall s median | ratio to ninja, per round (min / median) | moltb CPU s (median) "
             "| children CPU s (median) | server CPU s during the build (median) |",
             "|---|---|---|---|---|---|---|"]
    for phase in phases:
        ninja = [x["wall"] for x in results[phase[0][0]]]
        for name, _kind, _pp in phase:
            xs = results[name]
            walls = [x["wall"] for x in xs]
            ratios = [w / n for w, n in zip(walls, ninja)]
            med = lambda key: f"{statistics.median(x[key] for x in xs):.2f}" if key in xs[0] else "-"  # noqa: E731
            ratio = "-" if name.strip() == "ninja" else f"{min(ratios):.2f} / {statistics.median(ratios):.2f}"
            table.append(f"| {name.strip()} | {min(walls):.2f} | {statistics.median(walls):.2f} | {ratio} "
                         f"| {med('self')} | {med('children')} | {med('server')} |")
    text = "\n".join(table)
    print(text)
    if args.record:
        out = REPO / "docs" / "benchmarks" / "spawn-path.md"
        head = "" if out.exists() else ("# The spawn path: full builds of 10,000 copy actions beside ninja "
                                        "(bench/spawn_path.py)\n\nEach run is appended; nothing is overwritten.\n")
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(out, "a") as f:
            f.write(f"{head}\n## {when}, commit {commit()}, N={args.N}, {args.rounds} rounds\n\n"
                    f"Machine: {machine()}\n\n{text}\n")


if __name__ == "__main__":
    main()
