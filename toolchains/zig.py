"""zig (from the `ziglang` package) as a C compiler for any target, shared by the
C toolchains. zig builds each target's libc and runtime once into its global cache;
that cache lives in one per-user directory outside every sandbox (see
`zig_cache_dir`), so the cost (about 27 s for wasm32-wasi here) is paid once per
machine, not per action or per workspace. Its location is not part of any key."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import platform

from molt_build.api import ToolchainContext, ToolchainUnavailable, probe_tool

PROFILE_FLAGS = {"dev": ("-O0",), "release": ("-O2",)}
# zig cc emits DWARF (with the exec root's path in it) unless told not to: -g0 keeps
# objects byte-identical across sandboxes and checkouts; -s strips the linked output
# (its name would otherwise be embedded).
COMMON_COMPILE = ("-g0", "-fno-ident", "-Wno-unused-command-line-argument")
LINK_STRIP = ("-s",)
INSTALL_HINT = "pip install ziglang"


def find_zig() -> str | None:
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "zig")
    return path if os.access(path, os.X_OK) else None


def zig_cache_dir() -> str:
    """One zig cache per machine (per user). Override with MOLTB_ZIG_CACHE_DIR."""
    env = os.environ.get("MOLTB_ZIG_CACHE_DIR")
    if env:
        return os.path.abspath(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "moltb", "zig")


def zig_env() -> dict[str, str]:
    base = zig_cache_dir()
    return {"ZIG_GLOBAL_CACHE_DIR": os.path.join(base, "global"),
            "ZIG_LOCAL_CACHE_DIR": os.path.join(base, "local")}


def host_cpu() -> str:
    """The host CPU's features, for the fingerprint of code built for it: `zig cc`
    without `-target` compiles for the host CPU (`-target-cpu znver4` here, not a
    baseline), and Cranelift does too, so such output is only valid on a like CPU."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()}:{hashlib.sha256(flags.encode()).hexdigest()[:12]}"


def resolve_zig(ctx: ToolchainContext, hint: str = INSTALL_HINT) -> tuple[str, str]:
    """(path, version) of zig, or ToolchainUnavailable naming what to install."""
    zig = find_zig()
    if zig is None:
        raise ToolchainUnavailable("zig was not found (the 'ziglang' package is not installed)", hint=hint)
    try:
        version = probe_tool(ctx, zig, [zig, "version"])
    except OSError as e:
        raise ToolchainUnavailable(f"zig at {zig} does not run: {e}", hint=hint) from None
    return zig, version
