#!/usr/bin/env python3
"""What the native toolchain's C compiler costs: `zig cc` against the system cc.

1. Per compile: one small source (a package source of the C workload, made unique
   each time so no cache answers), compiled N times with the argv, environment and
   PATH that moltb's native toolchain gives its compile actions, for each compiler;
   then the parts of a `zig cc -c`: the driver's start-up (`zig version`), its probe
   of the system libc (the three `cc` runs alone, and `zig cc` with `ZIG_LIBC`
   pointing at the same paths, which gives byte-identical objects), the clang
   compile itself (the `-cc1` line `zig cc -###` prints, run alone) and the
   `zig ld.lld -r` that copies the object out of zig's cache. With bwrap, the same
   compiles inside moltb's namespace sandbox. Wall and CPU (children's rusage) per
   compile, mean of N.
2. The C workload of gen_peers.py (50 packages x 40 sources: 2,051 actions): a cold
   full build -j2 (the fastest of --repeat; moltb in this process, MOLTB_SERVER=0,
   with an empty cache and an empty zig local cache) and a one-file edit, with
   moltb's default compiler and with `compiler = "zig"` (and `"system"` when the
   default is zig).

  bench/c_compiler.py [-n 40] [--repeat 2] [--gen PATH/gen_peers.py] [--skip-full] [--record]

--record appends the tables, with commit, machine and date, to docs/benchmarks/c-compiler.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import DEFAULT_GEN, REPO, clean, generate, moltb_cmd, record, timed  # noqa: E402

if importlib.util.find_spec("molt_build") is None:      # else the tree on PYTHONPATH (a worktree)
    sys.path.insert(0, str(REPO))
from molt_build.api import ToolchainContext  # noqa: E402
from molt_build.keys import DEFAULT_PATH, declared_env  # noqa: E402
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo  # noqa: E402
from molt_build.toolchains.native import NativeToolchain  # noqa: E402
from molt_build.toolchains.zig import zig_env  # noqa: E402

ZIG_GLOBAL = zig_env()["ZIG_GLOBAL_CACHE_DIR"]

SOURCE = '#include "pkg.h"\n' + "".join(f"int f0_{i}(void) {{ return {i} * 3 + 1; }}\n" for i in range(8))


class Compiler:
    """One native compiler as moltb's toolchain configures its compile actions."""

    def __init__(self, setting: str, cache_dir: str):
        ctx = ToolchainContext(settings={"compiler": setting}, profile="dev", cache_dir=cache_dir,
                               workspace_root=cache_dir)
        self.info = NativeToolchain().resolve(ctx)
        cc: CcToolchainInfo = self.info[CcToolchainInfo]
        self.argv = [*cc.cc, *cc.compile_flags, "-O0", "-iquote", ".", "-c", "u.c", "-o", "out/u.o"]
        env = {**declared_env((), dict(self.info.env)), **self.info.private_env}
        env["PATH"] = os.pathsep.join((*self.info.tool_dirs, env.get("PATH", DEFAULT_PATH)))
        self.env = env
        self.name = self.info.version.split(" (system cc:")[0]


def per_run(argv, cwd: Path, env: dict, n: int, unique: bool = True) -> tuple[float, float]:
    """(wall ms, CPU ms) per run of `argv`, mean of n; the source is new each run."""
    wall = cpu = 0.0
    for i in range(n):
        if unique:
            (cwd / "u.c").write_text(f"// {time.time_ns()} {i}\n{SOURCE}")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall += time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if r.returncode:
            raise RuntimeError(f"{shlex.join(argv)} failed: {r.stderr[-500:]}")
    return wall / n * 1000, cpu / n * 1000


def cc1_argv(zig: Compiler, cwd: Path) -> list[str]:
    """The clang -cc1 command `zig cc` runs for this compile (what `-###` prints)."""
    r = subprocess.run([*zig.argv[:-4], "-###", "-c", "u.c", "-o", "out/c.o"], cwd=cwd, env=zig.env,
                       capture_output=True, text=True)
    (line,) = [x for x in r.stderr.splitlines() if '"-cc1"' in x]
    return shlex.split(line)


def lld_argv(zig: Compiler, cwd: Path) -> list[str]:
    """The `zig ld.lld -r` that `zig cc -c` runs to put the object at -o, re-aimed at a copy."""
    r = subprocess.run(["strace", "-f", "-qq", "-s", "4096", "-e", "trace=execve", *zig.argv], cwd=cwd,
                       env=zig.env, capture_output=True, text=True)
    for line in r.stderr.splitlines():
        m = re.search(r'execve\("[^"]*", \[(.*"ld\.lld".*)\], 0x', line)
        if m:
            argv = shlex.split(m.group(1).replace('", "', '" "'))
            shutil.copy(argv[-1], cwd / "cached.o")
            return [*argv[:-1], "cached.o"]
    raise RuntimeError("zig cc ran no ld.lld")


def sandboxed(argv, cwd: Path, tc) -> list[str]:
    """`argv` inside moltb's namespace sandbox (bwrap), as a compile action runs."""
    from molt_build.namespace_sandbox import bwrap_argv
    root = cwd.parent / "sandbox"
    (root / "x" / "out").mkdir(parents=True, exist_ok=True)
    writable = tuple(v for v in tc.private_env.values() if os.path.isabs(v))
    inner = bwrap_argv(str(root), [("u.c", str(cwd / "u.c")), ("pkg.h", str(cwd / "pkg.h"))],
                       (*tc.sandbox_paths, *tc.tool_dirs), writable, False, tuple(argv))
    return inner


def compile_table(n: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="moltb-cc."))
    try:
        cwd = work / "w"
        (cwd / "out").mkdir(parents=True)
        (cwd / "pkg.h").write_text("int f0_0(void);\n")
        compilers = {"system cc": Compiler("system", str(work / "cache")), "zig cc": Compiler("zig", str(work / "cache"))}
        rows = []
        for label, c in compilers.items():
            per_run(c.argv, cwd, c.env, 3)                                   # warm
            rows.append((f"{label}: `-c` as moltb runs it ({c.name})", per_run(c.argv, cwd, c.env, n)))
        zig = compilers["zig cc"]
        zig_bin = shutil.which("zig", path=zig.env["PATH"])
        libc = work / "libc.txt"
        libc.write_text(subprocess.run([zig_bin, "libc"], env=zig.env, capture_output=True, text=True,
                                       check=True).stdout)
        rows.append(("zig cc: same source again (zig's cache answers)", per_run(zig.argv, cwd, zig.env, n, False)))
        rows.append(("zig cc: with ZIG_LIBC (no libc probe)",
                     per_run(zig.argv, cwd, {**zig.env, "ZIG_LIBC": str(libc)}, n)))
        rows.append(("zig parts: driver start-up (`zig version`)", per_run([zig_bin, "version"], cwd, zig.env, n)))
        rows.append(("zig parts: the clang -cc1 compile alone", per_run(cc1_argv(zig, cwd), cwd, zig.env, n)))
        if shutil.which("strace"):
            rows.append(("zig parts: `zig ld.lld -r` out of its cache", per_run(lld_argv(zig, cwd), cwd, zig.env, n,
                                                                            False)))
        cc = shutil.which("cc", path=os.environ.get("PATH"))
        if cc:
            probe = [[cc, "-E", "-Wp,-v", "-xc", "/dev/null"], [cc, "-print-file-name=crt1.o"],
                     [cc, "-print-file-name=crtbeginS.o"]]
            parts = [per_run(p, cwd, zig.env, n, False) for p in probe]
            rows.append(("zig parts: its libc probe (the 3 cc runs)",
                         (sum(w for w, _ in parts), sum(c for _, c in parts))))
        from molt_build.namespace_sandbox import probe as bwrap_works
        if bwrap_works()[0]:
            rows.append(("namespace sandbox: bwrap + /bin/true",
                         per_run(sandboxed(["/bin/true"], cwd, zig.info), cwd, zig.env, n)))
            for label, c in compilers.items():
                rows.append((f"namespace sandbox: bwrap + {label} `-c`",
                             per_run(sandboxed(c.argv, cwd, c.info), cwd, c.env, n)))
        out = [f"Per compile, mean of {n} (a unique 9-line source each run unless said); load average "
               f"before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}", "",
               "| what | wall ms | CPU ms |", "|---|---|---|"]
        out += [f"| {label} | {w:.1f} | {c:.1f} |" for label, (w, c) in rows]
        return "\n".join(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def default_compiler(ws: Path, env: dict) -> str:
    r = subprocess.run([*moltb_cmd(), "toolchains"], cwd=ws, env=env, capture_output=True, text=True)
    lines = r.stdout.splitlines()
    i = lines.index("native: available")
    return lines[i + 1].split("version:", 1)[1].strip()


def full_table(gen: Path, repeat: int) -> str:
    root = Path(tempfile.mkdtemp(prefix="moltb-cc-full."))
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])   # other work on the machine
    try:
        rows = []
        for setting in (None, "zig", "system"):
            ws = root / f"c_{setting or 'default'}"
            generate(gen, ws, "c", 0)
            if setting:
                with open(ws / "BUILD.toml", "a") as f:
                    f.write(f'\n[workspace.toolchains.native]\ncompiler = "{setting}"\n')
            # In this process, not a workspace server: the build's CPU is then its rusage,
            # which other work on the machine does not add to.
            env = dict(os.environ, MOLTB_CACHE_DIR=str(root / f"cache_{ws.name}"), MOLTB_SERVER="0")
            name = default_compiler(ws, env)
            if setting and any(name == r[1] for r in rows):
                continue                            # the default already is this compiler
            cmd = [*moltb_cmd(), "build", "//...", "-j2", "-q"]
            fulls = []
            for i in range(repeat):
                if i:
                    clean("moltb", ws, env)
                # zig keeps every object it made in its local cache, and the workload's
                # sources are the same each time: each build gets an empty one (and a copy
                # of the global cache, where the libc/runtime builds are).
                env["MOLTB_ZIG_CACHE_DIR"] = str(root / f"zig_{ws.name}_{i}")
                if os.path.isdir(ZIG_GLOBAL):
                    shutil.copytree(ZIG_GLOBAL, Path(env["MOLTB_ZIG_CACHE_DIR"]) / "global", symlinks=True)
                cpu: list[float] = []
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                wall, _rss = timed(cmd, ws, env, cpu)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                fulls.append((wall, cpu[0], own))
            edit = ws / "pkg000" / "s000.c"
            edit.write_text(edit.read_text() + "int edited_fn(void) { return 1; }\n")
            edit_wall = timed(cmd, ws, env)[0]
            rows.append((f'compiler = "{setting}"' if setting else "default", name, min(fulls), fulls, edit_wall))
            print(f"  {rows[-1]}", file=sys.stderr)
        out = ["The C workload (gen_peers.py --kind c: 2,051 actions), moltb -j2 (MOLTB_SERVER=0), default sandbox, "
               "empty moltb cache and empty zig local cache; the fastest of the runs:", "",
               "| setting | compiler | full -j2 s (runs) | build's CPU s (rusage) | machine CPU s (all its work) "
               "| one edit s |",
               "|---|---|---|---|---|---|"]
        for setting, name, (wall, cpu, own), fulls, edit in rows:
            runs = ", ".join(f"{f[0]:.1f}" for f in fulls)
            out.append(f"| {setting} | {name} | {wall:.2f} ({runs}) | {own:.1f} | {cpu:.1f} | {edit:.2f} |")
        out.append(f"\nLoad average before the builds: {load}")
        return "\n".join(out)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=40, help="compiles per row of the per-compile table")
    ap.add_argument("--repeat", type=int, default=2, help="cold full builds per compiler (the fastest is shown)")
    ap.add_argument("--gen", type=Path, default=DEFAULT_GEN)
    ap.add_argument("--skip-full", action="store_true", help="only the per-compile table")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    parts = [compile_table(args.n)]
    if not args.skip_full:
        if not args.gen.exists():
            sys.exit(f"gen_peers.py not found at {args.gen} (pass --gen)")
        parts.append(full_table(args.gen, args.repeat))
    text = "\n\n".join(parts)
    print(text)
    if args.record:
        record("c-compiler.md", "The native C compiler: zig cc against the system cc (bench/c_compiler.py)", text)


if __name__ == "__main__":
    main()
