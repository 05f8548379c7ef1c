"""The local executor: runs one action in a fresh sandbox and moves its declared
outputs into the CAS. It sits behind a small interface (`execute`, `cancel_all`) so
a remote executor can take its place."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field

from molt_build.cas import CAS, is_executable
from molt_build.digests import hash_file
from molt_build.sandbox import Sandbox

MAX_CAPTURE = 1 << 20


@dataclass(slots=True)
class Spawn:
    argv: tuple[str, ...]
    env: dict[str, str]
    sources: list[tuple[str, str]]        # (exec-root path, absolute workspace path)
    blobs: list[tuple[str, str]]          # (exec-root path, CAS blob path)
    outputs: list[str]
    timeout: float | None = None


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
    def __init__(self, sandbox_base: str, cas: CAS, private_env: dict[str, str] | None = None):
        self.sandbox_base = sandbox_base
        self.cas = cas
        self.private_env = private_env or {}
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.cancelled = False
        os.makedirs(sandbox_base, exist_ok=True)

    def execute(self, spawn: Spawn) -> SpawnResult:
        if self.cancelled:
            return SpawnResult(-1, cancelled=True)
        sb = Sandbox.for_thread(self.sandbox_base)
        try:
            return self._run(sb, spawn)
        finally:
            sb.reset()

    def _run(self, sb: Sandbox, spawn: Spawn) -> SpawnResult:
        try:
            for rel, abspath in spawn.sources:
                sb.link_source(rel, abspath)
            for rel, blob in spawn.blobs:
                sb.link_blob(rel, blob)
            for rel in spawn.outputs:
                sb.prepare_output(rel)
        except OSError as e:
            return SpawnResult(-1, error=f"cannot prepare the sandbox: {e}")
        env = dict(spawn.env)
        env.update(self.private_env)
        env["TMPDIR"] = sb.tmp
        start = time.monotonic()
        timed_out = False
        try:
            with open(sb.stdout, "wb") as out, open(sb.stderr, "wb") as err:
                proc = subprocess.Popen(spawn.argv, cwd=sb.exec_root, env=env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=err, start_new_session=True)
        except OSError as e:
            return SpawnResult(127, error=f"cannot start {spawn.argv[0]!r}: {e.strerror}")
        with self._lock:
            self._procs.add(proc)
            if self.cancelled:          # Ctrl-C landed between the spawn and the line above
                _kill_group(proc)
        try:
            try:
                code = proc.wait(timeout=spawn.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                code = proc.wait()
        finally:
            with self._lock:
                self._procs.discard(proc)
        duration = time.monotonic() - start
        res = SpawnResult(code, stdout=_read_tail(sb.stdout), stderr=_read_tail(sb.stderr),
                          duration=duration, timed_out=timed_out, cancelled=self.cancelled)
        touched = sb.modified_inputs()
        if touched:
            res.error = ("the action modified its input(s) " + ", ".join(touched) +
                         " (inputs are shared with the workspace and the cache: write new files instead)")
            res.modified = touched
            return res
        if res.exit_code != 0 or timed_out or self.cancelled:
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
            digest = hash_file(p)
            exe = is_executable(st)
            self.cas.put_file(p, digest, exe, move=True)
            res.outputs.append((rel, digest, st.st_size, exe))
        return res

    def cancel_all(self) -> None:
        self.cancelled = True
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            _kill_group(p)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
