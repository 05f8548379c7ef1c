"""Run many `moltb` commands quickly, each still in its own process.

Starting Python and importing moltb costs about half a second here; a corpus of a few
hundred workspaces run twice each would spend minutes on that alone. This server
imports moltb once, then forks one child per command: the child changes into the
workspace, takes the request's environment, points stdin at /dev/null and stdout and
stderr at files, and runs the same entry point as `python -m molt_build`. So each
command has its own process, exit code, output and limits (a hang is killed after its
timeout; memory is capped so a runaway read fails instead of exhausting the machine),
as a real invocation would.

Protocol: one JSON request per line on stdin (`argv`, `cwd`, `env`, `timeout`), one
JSON reply per line on stdout (`rc`, `stdout`, `stderr`, `timed_out`, `seconds`).
The server is single-threaded, so forking it is safe.
"""
from __future__ import annotations

import atexit
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback

MEMORY_CAP = 4 << 30


def _warm() -> None:
    """Import what a cold `moltb` invocation imports, once."""
    import molt_build.analysis  # noqa: F401
    import molt_build.build  # noqa: F401
    import molt_build.cli  # noqa: F401
    import molt_build.entry  # noqa: F401
    import molt_build.loading  # noqa: F401
    from molt_build.registry import BUILTIN_MODULES
    import importlib
    for name in BUILTIN_MODULES:
        importlib.import_module(name)


def _child(req: dict, out: int, err: int) -> None:
    code = 1
    try:
        os.setsid()
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
        sys.argv = ["moltb", *req["argv"]]
        from molt_build.entry import main
        try:
            main()
            code = 0
        except SystemExit as e:     # as the interpreter does with it
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:
                sys.stderr.write(f"{e.code}\n")
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        atexit._run_exitfuncs()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _serve_one(req: dict) -> dict:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(req, out.fileno(), err.fileno())
        deadline = start + req.get("timeout", 30)
        timed_out = False
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                timed_out = True
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                _, status = os.waitpid(pid, 0)
                break
            time.sleep(0.002)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return {"rc": os.waitstatus_to_exitcode(status), "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"), "timed_out": timed_out, "seconds": seconds}


def serve() -> None:
    _warm()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        reply = _serve_one(json.loads(line))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class ForkServer:
    """The client: `run(argv, cwd, env, timeout)` → subprocess.CompletedProcess."""

    def __init__(self, env: dict | None = None):
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        assert self.proc.stdout.readline() == "ready\n"

    def run(self, argv: list[str], cwd, env: dict, timeout: float = 30) -> subprocess.CompletedProcess:
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        r = subprocess.CompletedProcess(["moltb", *argv], reply["rc"], reply["stdout"], reply["stderr"])
        r.timed_out, r.seconds = reply["timed_out"], reply["seconds"]
        return r

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    serve()
