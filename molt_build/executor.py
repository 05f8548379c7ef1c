"""The local executor: runs one action in a fresh sandbox and moves its declared
outputs into the CAS. It sits behind a small interface (`execute`, `cancel_all`) so
a remote executor can take its place."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from molt_build.cas import CAS, is_executable
from molt_build.errors import MoltbError
from molt_build.namespace_sandbox import COUNT_LEFTOVERS, INSIDE, INSIDE_EXEC_ROOT, bwrap_argv, resolve_mode
from molt_build.sandbox import Sandbox, device_of
from molt_build.test_outcome import classify_failure, oom_kills, read_status
from molt_build.tools import interpreter_paths

MAX_CAPTURE = 1 << 20
RM = shutil.which("rm", path=os.defpath) or "/bin/rm"      # not the user's PATH: exec roots are removed by the system rm
TRASH_BATCH = 64
# `ulimit -v` (KiB) then exec: caps the address space of the action and its children
# without a Python pre-exec hook (which would force fork instead of vfork).
RLIMIT_SH = 'ulimit -v "$0" && exec "$@"'
RSS_EXEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rss_exec.py")
REAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reaper.py")


@dataclass(slots=True)
class Spawn:
    argv: tuple[str, ...]
    env: dict[str, str]
    sources: list[tuple[str, str, str]]   # (exec-root path, absolute host path, digest)
    blobs: list[tuple[str, str, str]]     # (exec-root path, CAS blob path, digest)
    outputs: list[str]
    timeout: float | None = None
    test: bool = False                    # a test run: it may report a status (TEST_STATUS_FILE)
    rlimit_mb: int = 0                    # address-space cap per process (0: none)
    measure_rss: bool = False             # record the peak RSS (see rss_exec.py)
    read_only: tuple[str, ...] = ()       # host directories its toolchain needs (namespace sandbox)
    writable: tuple[str, ...] = ()        # tool-private caches (namespace sandbox)
    network: bool = False                 # keep the network (namespace sandbox)
    sandboxed: bool = True                # False: the light sandbox even where namespaces run (`no-sandbox`)


@dataclass(slots=True)
class SpawnResult:
    exit_code: int
    outputs: list[tuple[str, str, int, bool]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    stdout: bytes = b""
    stderr: bytes = b""
    duration: float = 0.0
    timed_out: bool = False
    cancelled: bool = False
    error: str = ""
    modified: list[str] = field(default_factory=list)
    max_rss_kb: int = 0                   # largest resident set of the process tree
    status: str = ""                      # what a test reported in TEST_STATUS_FILE
    lost: list[str] = field(default_factory=list)   # generated inputs whose blob vanished (cache clear)
    peak_kb: int = 0                      # peak RSS the kernel accounted to the action (wait4)
    worker: str = ""                      # where it ran, when not here (a Dask worker's address)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.missing and not self.timed_out and not self.error \
            and not self.cancelled


def _read_tail(path: str) -> bytes:
    try:
        size = os.stat(path).st_size
        if not size:
            return b""
        with open(path, "rb") as f:
            f.seek(max(0, size - MAX_CAPTURE))
            return f.read()
    except OSError:
        return b""


class LocalExecutor:
    def __init__(self, sandbox_base: str, cas: CAS, workspace_root: str, sandbox: str = "auto", on_mode=None):
        self.sandbox_base = sandbox_base
        self.requested = sandbox
        self.mode = ""              # namespace | light | none, settled by the first action
        self._on_mode = on_mode
        self.cas = cas
        self.workspace_dev = device_of(workspace_root)
        self.cas_dev = device_of(cas.root if os.path.isdir(cas.root) else os.path.dirname(cas.root))
        self._procs: set[subprocess.Popen] = set()
        self._reaper: subprocess.Popen | None = None
        self._trash: list[str] = []
        self._removers: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self.cancelled = False
        os.makedirs(sandbox_base, exist_ok=True)

    def _settle_mode(self) -> None:
        with self._lock:
            if self.mode:
                return
            mode, why = resolve_mode(self.requested)
            self.mode = mode
        if self._on_mode is not None:
            self._on_mode(mode, why)

    def execute(self, spawn: Spawn) -> SpawnResult:
        if self.cancelled:
            return SpawnResult(-1, cancelled=True)
        if not self.mode:
            try:
                self._settle_mode()
            except MoltbError as e:
                return SpawnResult(-1, error=str(e))
        try:
            sb = Sandbox(self.sandbox_base)
        except OSError as e:
            return SpawnResult(-1, error=f"cannot create the sandbox under {self.sandbox_base}: {e}")
        try:
            return self._run(sb, spawn)
        finally:
            self._discard(sb.root)

    def _discard(self, root: str) -> None:
        """Exec roots are removed in batches by one `rm -rf` in the background: removing
        a tree file by file from Python costs more than the action it held."""
        with self._lock:
            self._trash.append(root)
            if len(self._trash) < TRASH_BATCH:
                return
            batch, self._trash = self._trash, []
            self._reap(block=False)
        self._removers.append(subprocess.Popen([RM, "-rf", "--", *batch], stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def _reap(self, block: bool) -> None:
        self._removers = [p for p in self._removers if (p.wait() if block else p.poll()) is None]

    def _tell_reaper(self, line: str) -> None:
        """Keep the reaper's list of running process groups (called under the lock)."""
        if self._reaper is None:
            try:
                self._reaper = subprocess.Popen([sys.executable, "-S", "-E", REAPER], stdin=subprocess.PIPE,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                start_new_session=True, bufsize=0)
            except OSError:
                self._reaper = False       # no reaper: a SIGKILLed moltb leaves its actions running
        if self._reaper:
            try:
                os.write(self._reaper.stdin.fileno(), line.encode())   # one small write: atomic on a pipe
            except OSError:
                pass

    def close(self) -> None:
        """Remove what is left of the exec roots (waits for the background removals)."""
        with self._lock:
            if self._reaper:
                try:
                    os.write(self._reaper.stdin.fileno(), b".\n")
                    self._reaper.stdin.close()
                except OSError:
                    pass
                self._reaper.wait()
        with self._lock:
            batch, self._trash = self._trash, []
        if batch:
            subprocess.run([RM, "-rf", "--", *batch], stdin=subprocess.DEVNULL)
        self._reap(block=True)

    def _run(self, sb: Sandbox, spawn: Spawn) -> SpawnResult:
        ns = self.mode == "namespace" and spawn.sandboxed
        light = self.mode == "light" or (self.mode == "namespace" and not ns)
        linked_blobs: list[tuple[str, str, int]] = []   # generated inputs staged as symlinks to the CAS
        try:
            if not ns:       # namespace: bwrap mounts each input in place, read-only
                for rel, abspath, digest in spawn.sources:
                    sb.link_input(rel, abspath, self.workspace_dev, digest)
                for rel, blob, digest in spawn.blobs:
                    if not sb.link_input(rel, blob, self.cas_dev, digest):
                        linked_blobs.append((rel, blob, os.stat(blob).st_ino))
            for rel in spawn.outputs:
                sb.prepare_output(rel)
        except OSError as e:
            lost = [rel for rel, blob, _d in spawn.blobs if not os.path.exists(blob)]
            return SpawnResult(-1, error=f"cannot prepare the sandbox: {e}", lost=lost)
        inside = INSIDE if ns else sb.root          # the sandbox directory as the action sees it
        env = dict(spawn.env)
        env["TMPDIR"] = env["TEST_TMPDIR"] = "/tmp" if ns else sb.tmp   # never keyed
        env["TEST_SRCDIR"] = INSIDE_EXEC_ROOT if ns else sb.exec_root
        argv = spawn.argv
        binds = []
        if spawn.test:
            env["TEST_STATUS_FILE"] = f"{inside}/test.status"
        if spawn.measure_rss:
            env["TEST_RSS_FILE"] = f"{inside}/test.rss"     # a test may measure the program it tests
            helper = RSS_EXEC
            if ns:
                helper = f"{INSIDE}/rss_exec.py"
                binds.append((RSS_EXEC, helper))
            argv = (sys.executable, "-S", "-E", helper, f"{inside}/rss", str(spawn.rlimit_mb * 1024), "--", *argv)
        elif spawn.rlimit_mb > 0:
            argv = ("/bin/sh", "-c", RLIMIT_SH, str(spawn.rlimit_mb * 1024), *argv)
        cwd = sb.exec_root
        if ns:
            if spawn.test:
                argv = ("/bin/sh", "-c", COUNT_LEFTOVERS, f"{INSIDE}/leftovers", *argv)
            read_only = spawn.read_only + (interpreter_paths() if spawn.measure_rss else ())
            inputs = [(rel, host) for rel, host, _d in (*spawn.sources, *spawn.blobs)]
            argv = tuple(bwrap_argv(sb.root, inputs, read_only, spawn.writable, spawn.network, argv, binds))
            cwd = sb.root
        oom_before = oom_kills() if spawn.test else -1
        start = time.monotonic()
        try:
            with open(sb.stdout, "wb") as out, open(sb.stderr, "wb") as err:
                proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=err, start_new_session=True)
        except OSError as e:
            return SpawnResult(127, error=f"cannot start {argv[0]!r}: {e.strerror}")
        with self._lock:
            self._procs.add(proc)
            self._tell_reaper(f"+{proc.pid}\n")
            if self.cancelled:          # Ctrl-C landed between the spawn and the line above
                _kill_group(proc)
        try:
            code, rss, timed_out, stray = _wait(proc, spawn.timeout, count_stray=spawn.test and light,
                                                kill_stray=light)
        finally:
            with self._lock:
                self._procs.discard(proc)
                self._tell_reaper(f"-{proc.pid}\n")
        duration = time.monotonic() - start
        res = SpawnResult(code, stdout=_read_tail(sb.stdout), stderr=_read_tail(sb.stderr),
                          duration=duration, timed_out=timed_out, cancelled=self.cancelled, peak_kb=rss)
        if spawn.measure_rss:
            res.max_rss_kb = _read_int(os.path.join(sb.root, "test.rss")) or \
                _read_int(os.path.join(sb.root, "rss")) or rss
            res.peak_kb = max(res.peak_kb, res.max_rss_kb)
        if spawn.test:
            self._test_verdict(res, spawn, sb, stray if not ns else _read_int(os.path.join(sb.root, "leftovers")),
                               oom_before)
        vanished = [rel for rel, blob, ino in linked_blobs if _inode(blob) != ino]
        if vanished and not res.cancelled:
            # The cache lost an input while the action read it (a concurrent `cache clear`
            # or `prune`): whatever it made may be partial, even with exit 0. Run it again.
            res.lost = vanished
            res.error = "input(s) removed from the cache while the action ran: " + ", ".join(vanished)
            return res
        touched = sb.modified_inputs() if light else []
        if touched:
            res.error = ("the action modified its input(s) " + ", ".join(touched) +
                         " (inputs are shared with the workspace and the cache: write new files instead)")
            res.modified = touched
            return res
        if res.exit_code != 0 or timed_out or self.cancelled:
            # A failure may come from the cache losing an input under the action (a
            # concurrent `cache clear`): the scheduler then stages it again and retries.
            res.lost = [rel for rel, blob, _d in spawn.blobs if not os.path.exists(blob)]
            return res
        for rel in spawn.outputs:
            p = sb.output_path(rel)
            try:
                st = os.lstat(p)
            except OSError:
                res.missing.append(rel)
                continue
            if not stat.S_ISREG(st.st_mode):
                res.missing.append(rel)
                continue
            exe = is_executable(st)
            digest = self.cas.ingest(p, exe)
            res.outputs.append((rel, digest, st.st_size, exe))
        return res

    @staticmethod
    def _test_verdict(res: SpawnResult, spawn: Spawn, sb: Sandbox, stray: int, oom_before: int) -> None:
        """The status a test run reported, or the one its failure earns (OOM, or FAILED
        with the reason appended to its stderr); processes it left behind fail it."""
        res.status = read_status(os.path.join(sb.root, "test.status"))
        if res.status in ("FAILED", "XPASS", "OOM") and res.exit_code == 0:
            res.exit_code = 1        # a test that reports a failing status failed
        notes = []
        if res.exit_code != 0 and not res.status and not res.timed_out:
            oom_killed = oom_before >= 0 and oom_kills() > oom_before
            res.status, why = classify_failure(res.exit_code, res.stderr, spawn.rlimit_mb, oom_killed)
            if why:
                notes.append(f"the test {why}")
        if stray:
            notes.append(f"the test left {stray} process{'es' if stray != 1 else ''} running (killed)")
            if res.exit_code == 0:
                res.exit_code, res.status = 1, "FAILED"
        if notes:
            res.stderr += "".join(f"moltb: {n}\n" for n in notes).encode()

    def cancel_all(self) -> None:
        self.cancelled = True
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            _kill_group(p)


def _wait(proc: subprocess.Popen, timeout: float | None, count_stray: bool = False,
          kill_stray: bool = False) -> tuple[int, int, bool, int]:
    """(exit code, max RSS in KiB, timed out, processes left in its group). The RSS
    from wait4 also counts this process's memory up to the child's exec, so it is only
    a ceiling (see rss_exec.py). The group's leader is waited for without being reaped
    first, so its ID cannot be reused while what it left behind is counted and killed."""
    fired = threading.Event()

    def expire():
        fired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, expire) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    stray = 0
    try:
        if count_stray or kill_stray:
            while True:
                try:
                    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                    break
                except InterruptedError:
                    continue
                except ChildProcessError:
                    break
            if count_stray:
                stray = _group_members(proc.pid)
            _kill_group(proc)
        while True:
            try:
                _pid, status, usage = os.wait4(proc.pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:      # reaped elsewhere (cannot happen in moltb itself)
                return proc.wait(), 0, fired.is_set(), stray
    finally:
        if timer is not None:
            timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return code, usage.ru_maxrss, fired.is_set(), stray


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return -1


def _group_members(pgid: int) -> int:
    """Live processes of a process group, its (exited) leader aside."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == pgid:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            n += 1
    return n


def _read_int(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return int(f.read(32).strip() or 0)
    except (OSError, ValueError):
        return 0


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
