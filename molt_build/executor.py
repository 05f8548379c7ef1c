"""The local executor: runs one action in a sandbox (an exec root holding only its
declared inputs, scrubbed and reused from one action to the next: sandbox.py) and
moves its declared outputs into the CAS. It sits behind a small interface (`execute`, or `start` and
`finish`, and `cancel_all`) so a remote executor can take its place."""
from __future__ import annotations

import os
import shutil
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
from molt_build.process_groups import (POLL_S, exited, group_members, inode_of, kill_group, pidfd_of,
                                       read_int, wait_exit)

MAX_CAPTURE = 1 << 20
RM = shutil.which("rm", path=os.defpath) or "/bin/rm"      # not the user's PATH: exec roots are removed by the system rm
TRASH_BATCH = 64
OUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
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


@dataclass(slots=True, eq=False)
class Running:
    """A spawn whose process was started (`LocalExecutor.start`); `finish` collects it
    once the process has exited."""

    spawn: Spawn
    sb: Sandbox
    proc: subprocess.Popen
    started: float                        # monotonic
    deadline: float | None                # when its timeout kills it (monotonic), or None
    ns: bool                              # in the namespace sandbox
    light: bool                           # in the light sandbox: what it leaves running is killed
    linked_blobs: list[tuple[str, str, int]]   # generated inputs staged as symlinks: (rel, blob, inode)
    oom_before: int
    pidfd: int = -1                       # readable once the process exited (-1: none, polled)
    timed_out: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid


class LocalExecutor:
    """Runs spawns as local processes. `execute` runs one and waits for it; a runner
    that keeps several going calls `start`, waits for their exits itself (`pidfd`,
    else `exited`) and `finish`es each."""

    def __init__(self, sandbox_base: str, cas: CAS, workspace_root: str, sandbox: str = "auto", on_mode=None):
        self.sandbox_base = sandbox_base
        self.requested = sandbox
        self.mode = ""              # namespace | light | none, settled by the first action
        self._on_mode = on_mode
        self.cas = cas
        self.workspace_dev = device_of(workspace_root)
        self.cas_dev = device_of(cas.root if os.path.isdir(cas.root) else os.path.dirname(cas.root))
        self._running: set[Running] = set()
        self._idle: list[Sandbox] = []          # exec roots of finished actions, scrubbed when taken
        self._devnull = -1
        self._reaper: subprocess.Popen | None = None
        self._trash: list[str] = []
        self._removers: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self.cancelled = False
        os.makedirs(sandbox_base, exist_ok=True)

    def settle_mode(self) -> None:
        """Decide the sandbox (on the first action); an error is reported by `start`."""
        try:
            self._settle_mode()
        except MoltbError:
            pass

    def _settle_mode(self) -> None:
        with self._lock:
            if self.mode:
                return
            mode, why = resolve_mode(self.requested)
            self.mode = mode
        if self._on_mode is not None:
            self._on_mode(mode, why)

    def execute(self, spawn: Spawn) -> SpawnResult:
        """Run one spawn to its end."""
        r = self.start(spawn)
        if isinstance(r, SpawnResult):
            return r
        try:
            wait_exit(r, self.expire)
        except BaseException:
            self.abandon(r)
            raise
        return self.finish(r)

    def start(self, spawn: Spawn) -> Running | SpawnResult:
        """Stage the spawn's exec root and start its process; a SpawnResult when it
        could not start (its exec root is discarded then)."""
        if self.cancelled:
            return SpawnResult(-1, cancelled=True)
        if not self.mode:
            try:
                self._settle_mode()
            except MoltbError as e:
                return SpawnResult(-1, error=str(e))
        try:
            sb = self._take()
        except OSError as e:
            return SpawnResult(-1, error=f"cannot create the sandbox under {self.sandbox_base}: {e}")
        try:
            r = self._launch(sb, spawn)
        except BaseException:
            self._discard(sb.root)
            raise
        if isinstance(r, SpawnResult):
            self._discard(sb.root)
        return r

    def _take(self) -> Sandbox:
        """A scrubbed exec root of an earlier action, else a new one."""
        while True:
            with self._lock:
                sb = self._idle.pop() if self._idle else None
            if sb is None:
                return Sandbox(self.sandbox_base)
            try:
                sb.scrub()
                return sb
            except OSError:
                self._discard(sb.root)          # what the action left cannot be removed: not reused

    def _give_back(self, sb: Sandbox) -> None:
        with self._lock:
            self._idle.append(sb)

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
        """Kill what still runs, then remove what is left of the exec roots (waits for
        the background removals)."""
        for r in list(self._running):
            self.abandon(r)
        with self._lock:
            idle, self._idle = self._idle, []
        for sb in idle:
            self._discard(sb.root)
        if self._devnull >= 0:
            os.close(self._devnull)
            self._devnull = -1
        with self._lock:
            if self._reaper:
                try:
                    os.write(self._reaper.stdin.fileno(), b".\n")
                    self._reaper.stdin.close()
                except OSError:
                    pass
                self._reaper.kill()        # nothing runs any more: no need to wait for it to read "."
                self._reaper.wait()
        with self._lock:
            batch, self._trash = self._trash, []
        if batch:
            subprocess.run([RM, "-rf", "--", *batch], stdin=subprocess.DEVNULL)
        self._reap(block=True)

    def _launch(self, sb: Sandbox, spawn: Spawn) -> Running | SpawnResult:
        ns = self.mode == "namespace" and spawn.sandboxed
        light = self.mode == "light" or (self.mode == "namespace" and not ns)
        linked_blobs: list[tuple[str, str, int]] = []
        try:
            sb.stage([rel for rel, _p, _d in spawn.sources] + [rel for rel, _p, _d in spawn.blobs], spawn.outputs)
            if not ns:       # namespace: bwrap mounts each input in place, read-only
                for rel, abspath, digest in spawn.sources:
                    sb.link_input(rel, abspath, self.workspace_dev, digest)
                for rel, blob, digest in spawn.blobs:
                    if not sb.link_input(rel, blob, self.cas_dev, digest):
                        linked_blobs.append((rel, blob, os.stat(blob).st_ino))
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
        started = time.monotonic()
        try:
            if self._devnull < 0:
                self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            out = os.open(sb.stdout, OUT_FLAGS, 0o644)
            try:
                err = os.open(sb.stderr, OUT_FLAGS, 0o644)
                try:
                    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=self._devnull,
                                            stdout=out, stderr=err, start_new_session=True)
                finally:
                    os.close(err)
            finally:
                os.close(out)
        except OSError as e:
            return SpawnResult(127, error=f"cannot start {argv[0]!r}: {e.strerror}")
        r = Running(spawn, sb, proc, started, started + spawn.timeout if spawn.timeout else None, ns, light,
                    linked_blobs, oom_before)
        with self._lock:
            self._running.add(r)
            self._tell_reaper(f"+{proc.pid}\n")
            if self.cancelled:          # Ctrl-C landed between the spawn and the line above
                kill_group(proc)
        r.pidfd = pidfd_of(proc.pid)
        return r

    def expire(self, r: Running) -> None:
        """Its timeout passed: kill it (its exit then comes as any other)."""
        r.timed_out = True
        kill_group(r.proc)

    def abandon(self, r: Running) -> None:
        """Kill it, reap it and drop its exec root (an interrupted build)."""
        with self._lock:
            if r not in self._running:
                return                      # collected already
        kill_group(r.proc)
        try:
            self._collect(r, count_stray=False)
        finally:
            self._give_back(r.sb)

    def _collect(self, r: Running, count_stray: bool) -> tuple[int, int, int]:
        """(exit code, max RSS in KiB, processes left in its group) of a process whose
        group leader exited, or is killed and exits now. The leader is reaped last, so
        its ID cannot be reused while what it left behind is counted and killed. The
        RSS from wait4 also counts this process's memory up to the child's exec, so it
        is only a ceiling (see rss_exec.py)."""
        with self._lock:
            if r not in self._running:
                return r.proc.returncode if r.proc.returncode is not None else -1, 0, 0
            self._running.discard(r)
        stray = 0
        if r.light:
            if count_stray:
                while not exited(r):       # the leader first (it was killed: it is on its way)
                    time.sleep(POLL_S)
                stray = group_members(r.pid)
            kill_group(r.proc)
        with self._lock:
            self._tell_reaper(f"-{r.pid}\n")
        if r.pidfd >= 0:
            os.close(r.pidfd)
            r.pidfd = -1
        while True:
            try:
                _pid, status, usage = os.wait4(r.pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:      # reaped elsewhere (cannot happen in moltb itself)
                return r.proc.wait(), 0, stray
        code = os.waitstatus_to_exitcode(status)
        r.proc.returncode = code
        return code, usage.ru_maxrss, stray

    def finish(self, r: Running) -> SpawnResult:
        """The result of a spawn whose process exited, its outputs stored in the CAS."""
        try:
            return self._finish(r)
        finally:
            self._give_back(r.sb)

    def _finish(self, r: Running) -> SpawnResult:
        spawn, sb, ns, light = r.spawn, r.sb, r.ns, r.light
        code, rss, stray = self._collect(r, count_stray=spawn.test and light)
        timed_out = r.timed_out
        res = SpawnResult(code, stdout=_read_tail(sb.stdout), stderr=_read_tail(sb.stderr),
                          duration=time.monotonic() - r.started, timed_out=timed_out, cancelled=self.cancelled,
                          peak_kb=rss)
        if spawn.measure_rss:
            res.max_rss_kb = read_int(os.path.join(sb.root, "test.rss")) or \
                read_int(os.path.join(sb.root, "rss")) or rss
            res.peak_kb = max(res.peak_kb, res.max_rss_kb)
        if spawn.test:
            self._test_verdict(res, spawn, sb, stray if not ns else read_int(os.path.join(sb.root, "leftovers")),
                               r.oom_before)
        vanished = [rel for rel, blob, ino in r.linked_blobs if inode_of(blob) != ino]
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
            running = list(self._running)
        for r in running:
            kill_group(r.proc)
