"""The contract between toolchains that can compile Python and the `py_binary` rule."""
from __future__ import annotations

from dataclasses import dataclass

from molt_build.api import Provider, Tool


@dataclass(frozen=True)
class PyToolchainInfo(Provider):
    """A Python frontend: how to turn a .py program into C (`to_c`, given `{src}` and
    `{out}`), and how to compile and link that C (headers, libraries)."""

    available: bool
    reason: str = ""                    # why not, when unavailable
    hint: str = ""
    to_c: tuple[str, ...] = ()          # argv template with {src} and {out}
    compile_flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    version: str = ""
    # A compiler that builds the executable from the program in one step (argv
    # template with {src} and {out}), instead of going through C.
    direct: tuple[str, ...] = ()
    exe_suffix: str = ""
    tool: Tool | None = None            # the compiler, as an input of every compile (a workspace lane's)
    # The CPython whose behaviour the lane's programs follow (major.minor), when it is
    # one: the Cython lane links one libpython; a lane whose compiler runs under one
    # interpreter. A differential case compares such a lane with that version's run.
    python_version: str = ""
    # A toolchain its programs need when they run (e.g. "python3.12" for programs run
    # by that interpreter): the compare node of a case also runs with it.
    runtime: str = ""
    opt_in: bool = False                # only targets that name the lane build with it
    stdlib_profile: str = ""            # what {stdlib_profile} in `direct` stands for by default
