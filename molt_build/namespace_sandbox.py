"""The namespace sandbox: actions run under bubblewrap (`bwrap`).

Inside, the action sees a file system made only of what it may use: the system
directories and its toolchain's installation, read-only; each declared input
bind-mounted read-only at its exec-root path (a write fails with "Read-only file
system", a rename or unlink with "Device or resource busy", even for root); the exec
root writable for its outputs; a private /tmp; no network unless the target is
tagged `requires-network`; everything else read-only. The workspace, the cache directory and the other actions'
exec roots are simply not there. It runs in new PID, IPC and UTS namespaces with
`--die-with-parent`: every process the action started dies with it, and all of them
die when moltb does, even a moltb killed with SIGKILL.

The sandbox directory (exec root `x/`, `tmp/`, logs) is mounted at the fixed path
`/moltb`, so what an action sees of its own location is the same in every build and
checkout.

Where bwrap is missing or cannot create namespaces, `auto` falls back to the light
sandbox (sandbox.py) and says so (`moltb info`, the event log's `build_started`).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess

INSIDE = "/moltb"                       # where the sandbox directory is mounted
INSIDE_EXEC_ROOT = INSIDE + "/x"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
MODES = ("auto", "namespace", "light", "none")
INSTALL_HINT = "apt-get install bubblewrap"
# Run as the sandbox's first process (PID 1): run the test as its child, then count the
# processes it left behind (the PID namespace shows only the sandbox's own; zombies are
# on their way out). They all die when this shell exits. Being PID 1, it is the one
# process of the sandbox a test cannot kill, and its wait accounts the test's peak RSS.
COUNT_LEFTOVERS = r'''out=$0
"$@"
code=$?
n=0
for p in /proc/[0-9]*; do
  p=${p#/proc/}
  if [ "$p" = 1 ] || [ "$p" = $$ ]; then continue; fi
  read -r line < "/proc/$p/stat" 2>/dev/null || continue
  state=${line##*) }
  case "$state" in Z*|X*) continue ;; esac
  n=$((n + 1))
done
echo $n > "$out"
exit $code
'''


@functools.lru_cache(maxsize=None)
def probe() -> tuple[bool, str]:
    """(usable, why not): bwrap is on PATH and can create the namespaces we use here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, f"bwrap was not found ({INSTALL_HINT})"
    argv = [bwrap, "--unshare-all", "--die-with-parent", *_system_binds(), "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--", "/bin/true"]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"bwrap does not run: {e}"
    if r.returncode != 0:
        reason = r.stderr.decode(errors="replace").strip().splitlines()
        return False, f"bwrap cannot create namespaces here: {reason[-1] if reason else f'exit {r.returncode}'}"
    return True, ""


def version() -> str:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ""
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def resolve_mode(requested: str) -> tuple[str, str]:
    """(mode that will run, note): `auto` is namespace where bwrap works, else light
    with the reason. `namespace` where it cannot work raises EnvironmentProblem."""
    from molt_build.errors import EnvironmentProblem, UsageError
    if requested not in MODES:
        raise UsageError(f"unknown sandbox '{requested}' (use {', '.join(MODES)})")
    if requested in ("light", "none"):
        return requested, ""
    ok, why = probe()
    if ok:
        return "namespace", ""
    if requested == "namespace":
        raise EnvironmentProblem(f"--sandbox=namespace is not available: {why}", hint=INSTALL_HINT)
    return "light", why


def _system_binds() -> list[str]:
    out: list[str] = []
    for d in SYSTEM_DIRS:
        out += ["--ro-bind-try", d, d]
    return out


def _existing_dirs(paths) -> list[str]:
    """Distinct existing directories, parents before children, none inside another."""
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})
    out: list[str] = []
    for p in real:
        if any(p == q or p.startswith(q.rstrip("/") + "/") for q in out + list(SYSTEM_DIRS)):
            continue
        out.append(p)
    return out


def bwrap_argv(sandbox_root: str, inputs: list[tuple[str, str]], read_only: tuple[str, ...],
               writable: tuple[str, ...], network: bool, argv: tuple[str, ...],
               binds: list[tuple[str, str]] = ()) -> list[str]:
    """The bwrap command line: `inputs` are (exec-root path, host file) pairs,
    `read_only` host directories a toolchain needs, `writable` tool-private caches,
    `binds` other (host file, path inside) pairs mounted read-only (moltb's own helpers).
    The command is the namespace's first process (`--as-pid-1`: no bwrap init between),
    so the kernel's account of its peak RSS and CPU reaches moltb; every process it
    started still dies with it."""
    args = ["bwrap", "--unshare-all", *(["--share-net"] if network else []), "--die-with-parent",
            "--as-pid-1",
            "--new-session", *_system_binds(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for d in writable:               # first: a read-only directory inside one stays read-only
        os.makedirs(d, exist_ok=True)
        args += ["--bind", d, d]
    for d in _existing_dirs(read_only):
        args += ["--ro-bind", d, d]
    args += ["--bind", sandbox_root, INSIDE]
    for rel, host in inputs:
        args += ["--ro-bind", host, f"{INSIDE_EXEC_ROOT}/{rel}"]
    for host, inside in binds:
        args += ["--ro-bind", host, inside]
    # The sandbox's own root (where bwrap made the mount points) is read-only too.
    args += ["--remount-ro", "/", "--chdir", INSIDE_EXEC_ROOT, "--", *argv]
    return args
