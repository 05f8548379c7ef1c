#!/usr/bin/env python3
"""moltb beside ninja on the shared synthetic workloads, in one run on this machine.

Workloads (from gen_peers.py): 10,000 independent copy actions (pure scheduler
overhead) and a 2,051-action C build (50 packages x 40 sources, archives, one link).
For each: full build -j2, no-op (median of 5 after a warm-up), one-file edit, a fresh
copy of the workspace with the warm cache (moltb), and moltb's peak RSS.
moltb runs twice on C: with its default compiler (the system cc that ninja uses, when
there is one), and configured to use zig cc (`[workspace.toolchains.native] compiler = "zig"`).

  bench/peers.py [--gen PATH/gen_peers.py] [--only copy|c] [--copy-n N] [--record]
                 [--sandboxes namespace,light]

--sandboxes runs every moltb row once per sandbox (`--sandbox=...`) and adds what the
namespace sandbox costs per action (wall and CPU, full build) beside the light one;
--record then appends to docs/benchmarks/sandbox.md. Without it moltb runs with its
default sandbox and --record appends to docs/benchmarks/peers.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_GEN = REPO.parent / "shared" / "bench" / "gen_peers.py"


def moltb_cmd() -> list[str]:
    """The installed console script, called directly (not through a version-manager shim)."""
    exe = Path(sys.executable).parent / "moltb"
    return [str(exe)] if exe.exists() else [shutil.which("moltb") or "moltb"]


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy (user, system, interrupts), from
    /proc/stat: it also counts what the kernel does for namespaces and processes that
    are not waited for by the command's own process tree (rusage misses those)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed(cmd, cwd, env, cpu: list | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB of the process tree's largest process); appends the
    machine's busy CPU seconds during the command to `cpu` when given."""
    busy = busy_seconds()
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if cpu is not None:
        cpu.append(busy_seconds() - busy)
    if r.returncode:
        raise RuntimeError(f"{cmd} in {cwd} failed ({r.returncode}): {r.stderr[-800:]}")
    return wall, int(r.stderr.strip().splitlines()[-1])


def clean(tool: str, ws: Path, env: dict) -> None:
    """Back to a cold state: no outputs, and for moltb an empty cache."""
    if tool == "ninja":
        subprocess.run(["ninja", "-t", "clean"], cwd=ws, stdout=subprocess.DEVNULL, check=True)
        return
    for d in (ws / "moltb-out", ws / "logs", Path(env["MOLTB_CACHE_DIR"])):
        shutil.rmtree(d, ignore_errors=True)


def measure(tool: str, cmd: list[str], ws: Path, env: dict, kind: str, fresh_root: Path | None,
            repeat: int = 1) -> dict:
    """Full build (the fastest of `repeat` cold builds: this machine's noise only ever
    adds time), no-op, one edit, fresh copy."""
    row = {}
    fulls = []
    for i in range(repeat):
        if i:
            clean(tool, ws, env)
        cpu: list[float] = []
        wall, rss = timed(cmd, ws, env, cpu)
        fulls.append((wall, cpu[0], rss))
    row["full"], row["cpu"], row["rss_kb"] = min(fulls)
    row["fulls"] = [round(w, 2) for w, _c, _r in fulls]
    timed(cmd, ws, env)
    noops = [timed(cmd, ws, env)[0] for _ in range(5)]
    row["noop"] = statistics.median(noops)
    edit = ws / ("in/f00000.txt" if kind == "copy" else "pkg000/s000.c")
    time.sleep(0.2)
    edit.write_text(edit.read_text() + ("x\n" if kind == "copy" else "int edited_fn(void) { return 1; }\n"))
    row["edit"] = timed(cmd, ws, env)[0]
    if fresh_root is not None:
        fresh = fresh_root / f"{ws.name}_fresh"
        shutil.copytree(ws, fresh, ignore=shutil.ignore_patterns("moltb-out", "logs", "cache"))
        row["fresh_warm"] = timed(cmd, fresh, env)[0]
    return row


def generate(gen: Path, ws: Path, kind: str, n: int) -> None:
    args = [sys.executable, str(gen), str(ws), "--kind", kind] + (["-N", str(n)] if kind == "copy" else [])
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    if kind == "copy":
        (ws / "out").mkdir(exist_ok=True)


def run(kind: str, args, root: Path) -> dict[str, dict]:
    rows = {}
    moltbs = [("moltb", None)] + ([("moltb (zig cc)", "zig")] if kind == "c" else [])
    variants = [("ninja", None, "")]
    for name, compiler in moltbs:
        variants += [(f"{name} [{sb}]", compiler, sb) for sb in args.sandboxes] if args.sandboxes else \
            [(name, compiler, "")]
    for tool, compiler, sandbox in variants:
        ws = root / f"{kind}_{tool.split()[0]}{'_' + compiler if compiler else ''}{'_' + sandbox if sandbox else ''}"
        generate(args.gen, ws, kind, args.copy_n)
        env = dict(os.environ, MOLTB_CACHE_DIR=str(root / f"cache_{ws.name}"))
        if tool == "ninja":
            cmd = ["ninja", "-j2"]
        else:
            if compiler:
                with open(ws / "BUILD.toml", "a") as f:
                    f.write(f'\n[workspace.toolchains.native]\ncompiler = "{compiler}"\n')
            cmd = [*moltb_cmd(), "build", "//...", "-j2", "-q", *([f"--sandbox={sandbox}"] if sandbox else [])]
        rows[tool] = measure(tool, cmd, ws, env, kind, root if tool != "ninja" else None, args.repeat)
        print(f"  {kind} {tool}: {rows[tool]}", file=sys.stderr)
    return rows


def code_commit() -> str:
    """The commit of the molt_build that `moltb` imports (a PYTHONPATH worktree or this
    checkout), plus a mark when that tree has uncommitted changes to the code."""
    probe = subprocess.run([sys.executable, "-c", "import molt_build, os; print(os.path.dirname(molt_build.__file__))"],
                           capture_output=True, text=True)
    tree = Path(probe.stdout.strip() or REPO / "molt_build").parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "molt_build", "rules", "toolchains"], cwd=tree,
                           capture_output=True, text=True).stdout.strip()
    return commit + (" (+ uncommitted changes)" if dirty else "")


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def record(name: str, title: str, text: str) -> None:
    """Append a run to docs/benchmarks/NAME with date, commit and machine (never overwrite)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = REPO / "docs" / "benchmarks" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    with open(out, "a") as f:
        if new:
            f.write(f"# {title}\n\nEach run is appended; nothing is overwritten.\n")
        f.write(f"\n## {stamp}, commit {code_commit()}\n\nMachine: {machine()}\n\n{text}\n")
    print(f"recorded in {out}", file=sys.stderr)


def table(result: dict, actions: dict[str, int]) -> str:
    out = ["| workload | tool | full -j2 s (runs) | machine CPU s, full | no-op s | one edit s "
           "| fresh copy, warm cache s | peak RSS MiB |", "|---|---|---|---|---|---|---|---|"]
    for kind, rows in result.items():
        for tool, r in rows.items():
            fw = f"{r['fresh_warm']:.2f}" if "fresh_warm" in r else "-"
            runs = f" ({', '.join(f'{x:.1f}' for x in r['fulls'])})" if len(r["fulls"]) > 1 else ""
            out.append(f"| {kind} | {tool} | {r['full']:.2f}{runs} | {r['cpu']:.1f} | {r['noop']:.3f} | "
                       f"{r['edit']:.2f} | {fw} | {r['rss_kb'] / 1024:.0f} |")
    for kind, rows in result.items():
        n = rows["ninja"]
        for tool, m in rows.items():
            if tool != "ninja":
                out.append(f"\n{kind}, {tool} / ninja: full {m['full'] / n['full']:.2f}x, "
                           f"no-op {m['noop'] / n['noop']:.2f}x, one edit {m['edit'] / n['edit']:.2f}x")
    for kind, rows in result.items():
        for tool, ns in rows.items():
            light = rows.get(tool.replace("[namespace]", "[light]"))
            if "[namespace]" not in tool or light is None:
                continue
            n = actions[kind]
            out.append(f"\n{kind}, {tool.replace(' [namespace]', '')}: the namespace sandbox costs "
                       f"{(ns['full'] - light['full']) / n * 1000:.2f} ms of wall time per action at -j2 and "
                       f"{(ns['cpu'] - light['cpu']) / n * 1000:.2f} ms of machine CPU per action "
                       f"({n} actions, full build)")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gen", type=Path, default=DEFAULT_GEN)
    ap.add_argument("--copy-n", type=int, default=10000)
    ap.add_argument("--only", choices=["copy", "c"])
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="cold full builds per row (the fastest is shown)")
    ap.add_argument("--sandboxes", type=lambda s: [x for x in s.split(",") if x], default=[],
                    help="comma-separated sandboxes to run moltb with, e.g. namespace,light")
    args = ap.parse_args()
    if not args.gen.exists():
        sys.exit(f"gen_peers.py not found at {args.gen} (pass --gen)")
    root = Path(tempfile.mkdtemp(prefix="moltb-peers."))
    try:
        result = {k: run(k, args, root) for k in ([args.only] if args.only else ["copy", "c"])}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    actions = {"copy": args.copy_n, "c": 2051}
    text = table(result, actions)
    print(text)
    if args.record:
        if args.sandboxes:
            record("sandbox.md", "What the sandbox costs: moltb in each sandbox beside ninja (bench/peers.py "
                   "--sandboxes)", text)
        else:
            record("peers.md", "moltb beside ninja (bench/peers.py)", text)


if __name__ == "__main__":
    main()
