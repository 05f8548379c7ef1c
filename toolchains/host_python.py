"""`python`: the CPython that runs moltb, as a toolchain. It runs reference programs
(the CPython side of a differential case) and Python tests. Its fingerprint is the
interpreter's identity (implementation, full version and build, platform, base
installation), so an interpreter upgrade reruns what it ran; where it is installed on
PATH is not keyed, so checkouts with their own virtualenv share results."""
from __future__ import annotations

import os
import sys
import sysconfig
from dataclasses import dataclass

from molt_build.api import Provider, Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, interpreter_paths


@dataclass(frozen=True)
class PythonInterpreterInfo(Provider):
    """How to start the interpreter inside an action (its directory is on PATH)."""

    interpreter: str          # argv[0], e.g. "python3.11"
    identity: str
    version: str = ""         # major.minor, e.g. "3.11"
    # The workspace's default version matrix of differential suites
    # ([workspace.toolchains.python] reference_pythons).
    matrix: tuple[str, ...] = ()


def interpreter_identity() -> str:
    impl = sys.implementation
    return (f"{impl.name} {sys.version} | {sysconfig.get_platform()} | "
            f"base {sys.base_prefix} | cache_tag {impl.cache_tag}").replace("\n", " ")


def pyenv_root() -> str:
    """Where pyenv keeps its interpreters ($PYENV_ROOT/versions)."""
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def python_lane(ctx) -> tuple[ToolchainInfo, str]:
    """(the `python` toolchain, its argv[0]) for a rule's actions that run Python:
    declare them with `toolchain=` so they are keyed by the interpreter's identity and
    find it on PATH, not by where it is installed."""
    tc = ctx.lane("python")
    return tc, tc[PythonInterpreterInfo].interpreter


class HostPythonToolchain(Toolchain):
    name = "python"
    doc = "The CPython running moltb: reference runs of differential cases, Python tests."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        identity = interpreter_identity()
        matrix = ctx.settings.get("reference_pythons", [])
        if not isinstance(matrix, list) or not all(isinstance(v, str) for v in matrix):
            raise ToolchainUnavailable("[workspace.toolchains.python] reference_pythons must be a list of "
                                       "versions such as [\"3.11\", \"3.12\"]", hint="fix the workspace file")
        info = PythonInterpreterInfo(os.path.basename(sys.executable), identity, "%d.%d" % sys.version_info[:2],
                                     tuple(matrix))
        real = os.path.realpath(sys.executable)
        # Where the other CPythons are looked for: an interpreter installed there (or
        # removed) means a fresh analysis, not a stale "unavailable" from the last one.
        pyenv = os.path.join(pyenv_root(), "versions")
        return ToolchainInfo(name=self.name, fingerprint=f"python|{identity}",
                             version=f"{sys.implementation.name} {sys.version.split()[0]}",
                             tool_files=(real, *([pyenv] if os.path.isdir(pyenv) else [])), tool_dirs=(os.path.dirname(sys.executable),),
                             sandbox_paths=interpreter_paths(),
                             providers={PythonInterpreterInfo: info})


TOOLCHAINS = [HostPythonToolchain()]
