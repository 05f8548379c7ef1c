"""`wasm`: C → wasm32-wasi with `zig cc -target wasm32-wasi` (wasi-libc and wasm-ld
come with zig), run under wasmtime's WASI runtime (package `wasmtime`)."""
from __future__ import annotations

import importlib.util
import os
import sys

from molt_build.api import Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, interpreter_paths
from molt_build.api import python_tool as python_module_tool
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo
from molt_build.toolchains.zig import COMMON_COMPILE, LINK_STRIP, PROFILE_FLAGS, resolve_zig, zig_env

TARGET = "wasm32-wasi"
RUNNER = "molt_build.toolchains.wasi_run"


def wasmtime_version() -> str:
    spec = importlib.util.find_spec("wasmtime")
    if spec is None:
        raise ToolchainUnavailable("the 'wasmtime' package is not installed", hint="pip install wasmtime")
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("wasmtime")
    except PackageNotFoundError:
        return "unknown"


def python_tool() -> tuple[str, str]:
    """(argv[0], directory): the interpreter that runs moltb's helper programs."""
    return os.path.basename(sys.executable), os.path.dirname(sys.executable)


def wasm_cc(ctx: ToolchainContext, zig_version: str) -> CcToolchainInfo:
    flags = PROFILE_FLAGS[ctx.profile]
    target = ("-target", TARGET)
    return CcToolchainInfo(cc=("zig", "cc", *target), ar=("zig", "ar"), target=TARGET,
                           compile_flags=flags + COMMON_COMPILE, link_flags=flags + LINK_STRIP,
                           exe_suffix=".wasm")


class WasmToolchain(Toolchain):
    name = "wasm"
    doc = "C to wasm32-wasi with zig cc; programs run under wasmtime (WASI)."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        zig, zig_version = resolve_zig(ctx)
        wt = wasmtime_version()
        py, py_dir = python_tool()
        flags = PROFILE_FLAGS[ctx.profile]
        fp = f"wasm|zig {zig_version}|{TARGET}|{' '.join(flags)}|wasmtime {wt}"
        return ToolchainInfo(name=self.name, fingerprint=fp, version=f"zig {zig_version}, wasmtime {wt}",
                             private_env=zig_env(), tool_files=(zig,), tool_dirs=(os.path.dirname(zig), py_dir),
                             sandbox_paths=interpreter_paths(), runner="wasm", run_prefix=(py, "-P", "-m", RUNNER, "--"),
                             run_tool=python_module_tool(RUNNER, py, "--"),
                             providers={CcToolchainInfo: wasm_cc(ctx, zig_version)})


TOOLCHAINS = [WasmToolchain()]
