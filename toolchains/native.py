"""`native`: C for the host, with `zig cc` from the `ziglang` package (the default:
nothing to install beyond this package's dependencies) or the system `cc` when
`[workspace.toolchains.native] compiler = "system"`.

Zig builds its runtime libraries once into a global cache; that cache lives in one
per-user directory outside every sandbox (see `zig_cache_dir`), so the cost is paid
once per machine, not per action or per workspace. Its location is not part of any
key: zig's cache never changes what zig produces."""
from __future__ import annotations

import importlib.util
import os
import platform
import shutil

from molt_build.api import Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, probe_tool
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo

PROFILE_FLAGS = {"dev": ("-O0",), "release": ("-O2",)}
# zig cc emits DWARF (with the exec root path in it) unless told not to: -g0 keeps
# objects byte-identical across sandboxes and checkouts.
COMMON_COMPILE = ("-g0", "-fno-ident", "-Wno-unused-command-line-argument")


def find_zig() -> str | None:
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "zig")
    return path if os.access(path, os.X_OK) else None


def zig_cache_dir() -> str:
    """One zig cache per machine (per user): zig's libc and runtime builds are paid once,
    whatever the workspace or moltb cache. Override with MOLTB_ZIG_CACHE_DIR."""
    env = os.environ.get("MOLTB_ZIG_CACHE_DIR")
    if env:
        return os.path.abspath(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "moltb", "zig")


def zig_private_env(ctx: ToolchainContext) -> dict[str, str]:
    base = zig_cache_dir()
    return {"ZIG_GLOBAL_CACHE_DIR": os.path.join(base, "global"),
            "ZIG_LOCAL_CACHE_DIR": os.path.join(base, "local")}


def host_triple() -> str:
    return f"{platform.machine()}-linux-gnu"


class NativeToolchain(Toolchain):
    name = "native"
    doc = "C for the host: zig cc (package ziglang) by default, or the system cc."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        compiler = ctx.settings.get("compiler", "zig")
        flags = PROFILE_FLAGS[ctx.profile]
        if compiler == "zig":
            zig = find_zig()
            if zig is None:
                raise ToolchainUnavailable("zig was not found (the 'ziglang' package is not installed)",
                                           hint="pip install ziglang, or set [workspace.toolchains.native] "
                                                "compiler = \"system\" to use the system cc")
            version = probe_tool(ctx, zig, [zig, "version"])
            cc_info = CcToolchainInfo(cc=("zig", "cc"), ar=("zig", "ar"), target=host_triple(),
                                      compile_flags=flags + COMMON_COMPILE, link_flags=flags + ("-s",))
            fp = f"native|zig {version}|{host_triple()}|{' '.join(flags)}"
            return ToolchainInfo(name=self.name, fingerprint=fp, version=f"zig {version}",
                                 private_env=zig_private_env(ctx), tool_files=(zig,),
                                 tool_dirs=(os.path.dirname(zig),), providers={CcToolchainInfo: cc_info})
        if compiler == "system":
            cc = shutil.which(ctx.settings.get("cc", "cc"))
            ar = shutil.which(ctx.settings.get("ar", "ar"))
            if cc is None or ar is None:
                raise ToolchainUnavailable(f"no system {'cc' if cc is None else 'ar'} on PATH",
                                           hint="apt-get install gcc binutils, or use compiler = \"zig\"")
            version = probe_tool(ctx, cc, [cc, "--version"]).splitlines()[0]
            real = os.path.realpath(cc)
            cc_info = CcToolchainInfo(cc=(os.path.basename(cc),), ar=(os.path.basename(ar),),
                                      target=host_triple(), compile_flags=flags + ("-g0", "-fno-ident"),
                                      link_flags=flags + ("-s",))
            fp = f"native|{os.path.basename(real)} {version}|{host_triple()}|{' '.join(flags)}"
            return ToolchainInfo(name=self.name, fingerprint=fp, version=version, tool_files=(real,),
                                 tool_dirs=(os.path.dirname(cc),), providers={CcToolchainInfo: cc_info})
        raise ToolchainUnavailable(f"unknown compiler '{compiler}' in [workspace.toolchains.native]",
                                   hint="use \"zig\" or \"system\"")


TOOLCHAINS = [NativeToolchain()]
