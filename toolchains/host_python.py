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

from molt_build.api import Provider, Toolchain, ToolchainContext, ToolchainInfo, interpreter_paths


@dataclass(frozen=True)
class PythonInterpreterInfo(Provider):
    """How to start the interpreter inside an action (its directory is on PATH)."""

    interpreter: str          # argv[0], e.g. "python3.11"
    identity: str


def interpreter_identity() -> str:
    impl = sys.implementation
    return (f"{impl.name} {sys.version} | {sysconfig.get_platform()} | "
            f"base {sys.base_prefix} | cache_tag {impl.cache_tag}").replace("\n", " ")


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
        info = PythonInterpreterInfo(os.path.basename(sys.executable), identity)
        real = os.path.realpath(sys.executable)
        return ToolchainInfo(name=self.name, fingerprint=f"python|{identity}",
                             version=f"{sys.implementation.name} {sys.version.split()[0]}",
                             tool_files=(real,), tool_dirs=(os.path.dirname(sys.executable),),
                             sandbox_paths=interpreter_paths(),
                             providers={PythonInterpreterInfo: info})


TOOLCHAINS = [HostPythonToolchain()]
