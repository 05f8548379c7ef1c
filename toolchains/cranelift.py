"""`cranelift`: C → wasm32-wasi (as `wasm`), then ahead-of-time machine code compiled
by Cranelift through wasmtime (`Module.serialize`, a `.cwasm`), run by deserializing
with an engine of the same settings. The engine settings are part of the fingerprint.

An invalid wasmtime Config can abort the whole process (a Rust panic), so settings
are checked against a known-good list here and compiled in the action's own process,
never in moltb's."""
from __future__ import annotations

import os

from molt_build.api import (Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, probe_tool,
                            interpreter_paths, python_tool as python_module_tool)
from molt_build.toolchains.wasm import TARGET, python_tool, wasm_cc, wasmtime_version
from molt_build.toolchains.zig import PROFILE_FLAGS, host_cpu, resolve_zig, zig_env

OPT_LEVELS = ("none", "speed", "speed_and_size")
BOOL_FEATURES = ("wasm_simd", "wasm_relaxed_simd", "wasm_bulk_memory", "wasm_multi_value",
                 "wasm_reference_types", "wasm_tail_call")
AOT = "molt_build.toolchains.cranelift_aot"
RUNNER = "molt_build.toolchains.wasi_run"


def engine_args(settings: dict) -> tuple[str, ...]:
    """Validated engine settings as helper-program flags (shared by compile and run)."""
    opt = settings.get("opt_level", "speed")
    if opt not in OPT_LEVELS:
        raise ToolchainUnavailable(f"[workspace.toolchains.cranelift] opt_level = {opt!r} is not one of "
                                   f"{', '.join(OPT_LEVELS)}")
    args = ["--opt-level", opt]
    for name in BOOL_FEATURES:
        if name in settings:
            val = settings[name]
            if not isinstance(val, bool):
                raise ToolchainUnavailable(f"[workspace.toolchains.cranelift] {name} must be true or false")
            args += [f"--{name.replace('_', '-')}" if val else f"--no-{name.replace('_', '-')}"]
    if settings.get("wasm_relaxed_simd") and settings.get("wasm_simd") is False:
        raise ToolchainUnavailable("[workspace.toolchains.cranelift] wasm_relaxed_simd needs wasm_simd "
                                   "(this combination aborts wasmtime)")
    unknown = set(settings) - {"opt_level", *BOOL_FEATURES}
    if unknown:
        raise ToolchainUnavailable(f"unknown [workspace.toolchains.cranelift] setting(s): {', '.join(sorted(unknown))}")
    return tuple(args)


def check_engine(ctx: ToolchainContext, eargs: tuple[str, ...]) -> None:
    """Build the engine once in a child process (memoised per wasmtime install and
    settings): a combination wasmtime rejects, or aborts on, becomes a clear error."""
    import importlib.util
    import sys
    spec = importlib.util.find_spec("wasmtime")
    identity = spec.origin if spec and spec.origin else sys.executable
    try:
        probe_tool(ctx, identity, [sys.executable, "-m", "molt_build.toolchains.wasm_engine", *eargs])
    except OSError as e:
        text = str(e)
        reason = text.split("Err` value: ", 1)[1].splitlines()[0] if "Err` value: " in text else text
        raise ToolchainUnavailable(f"wasmtime rejects the [workspace.toolchains.cranelift] settings "
                                   f"({' '.join(eargs)}): {reason}",
                                   hint="wasmtime 50 enables relaxed SIMD and other features by default; "
                                        "turn dependent features off together") from None


class CraneliftToolchain(Toolchain):
    name = "cranelift"
    doc = "C to wasm32-wasi, then Cranelift ahead-of-time machine code (.cwasm) through wasmtime."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        zig, zig_version = resolve_zig(ctx)
        wt = wasmtime_version()
        eargs = engine_args(dict(ctx.settings))
        check_engine(ctx, eargs)
        py, py_dir = python_tool()
        cc = wasm_cc(ctx, zig_version)
        from dataclasses import replace
        cc = replace(cc, finalize=python_module_tool(AOT, py, *eargs), final_suffix=".cwasm",
                     finalize_mnemonic="CraneliftCompile")
        flags = PROFILE_FLAGS[ctx.profile]
        fp = (f"cranelift|zig {zig_version}|{TARGET}|{' '.join(flags)}|wasmtime {wt}|{' '.join(eargs)}"
              f"|host {host_cpu()}")
        return ToolchainInfo(name=self.name, fingerprint=fp, version=f"zig {zig_version}, wasmtime {wt}",
                             private_env=zig_env(), tool_files=(zig,), tool_dirs=(os.path.dirname(zig), py_dir),
                             sandbox_paths=interpreter_paths(), runner="cranelift", run_prefix=(py, "-P", "-m", RUNNER, "--precompiled", *eargs, "--"),
                             run_tool=python_module_tool(RUNNER, py, "--precompiled", *eargs, "--"),
                             providers={type(cc): cc})


TOOLCHAINS = [CraneliftToolchain()]
