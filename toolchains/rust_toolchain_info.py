"""The contract between the `rust` toolchain and the Rust rules."""
from __future__ import annotations

from dataclasses import dataclass

from molt_build.api import Provider


@dataclass(frozen=True)
class RustToolchainInfo(Provider):
    """How to run rustc and cargo of one Rust installation (by their real paths inside
    the toolchain's sysroot, not rustup's proxies, so they run without rustup's state)."""

    rustc: str                          # argv[0], found on the toolchain's tool_dirs
    cargo: str
    host: str                           # host target triple
    targets: tuple[str, ...]            # targets whose std is installed
    native_static_libs: tuple[str, ...] = ()   # what a staticlib needs when linked into C
    version: str = ""
