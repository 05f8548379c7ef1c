"""The contract between C toolchains (native, wasm, ...) and the C rules."""
from __future__ import annotations

from dataclasses import dataclass

from molt_build.api import Provider, Tool


@dataclass(frozen=True)
class CcToolchainInfo(Provider):
    """How to compile, archive and link C for one target."""

    cc: tuple[str, ...]                 # compiler driver argv prefix, e.g. ("zig", "cc")
    ar: tuple[str, ...]                 # archiver argv prefix
    target: str                         # target triple
    compile_flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    link_libs: tuple[str, ...] = ()     # what every link ends with, after objects, archives and linkopts
    exe_suffix: str = ""
    obj_suffix: str = ".o"
    # Optional post-link step: a tool run as `[*finalize.argv, linked, final]`, and the
    # final artifact's suffix (e.g. Cranelift turning .wasm into .cwasm).
    finalize: Tool | None = None
    final_suffix: str = ""
    finalize_mnemonic: str = "Finalize"
