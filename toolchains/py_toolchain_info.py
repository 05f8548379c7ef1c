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
