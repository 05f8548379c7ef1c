"""`native`: C for the host, with `zig cc` from the `ziglang` package (the default:
nothing to install beyond this package's dependencies) or the system `cc` when
`[workspace.toolchains.native] compiler = "system"`.

It also carries the Python frontend (Cython, linked against this interpreter's
libpython) that `py_binary` uses."""
from __future__ import annotations

import os
import platform
import shutil

from molt_build.api import Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, interpreter_paths, \
    probe_tool
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo
from molt_build.toolchains.python_frontend import python_frontend
from molt_build.toolchains.zig import COMMON_COMPILE, LINK_STRIP, PROFILE_FLAGS, resolve_zig, zig_env


def host_triple() -> str:
    return f"{platform.machine()}-linux-gnu"


class NativeToolchain(Toolchain):
    name = "native"
    doc = "C for the host: zig cc (package ziglang) by default, or the system cc."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        compiler = ctx.settings.get("compiler", "zig")
        flags = PROFILE_FLAGS[ctx.profile]
        if compiler == "zig":
            zig, version = resolve_zig(ctx, hint="pip install ziglang, or set [workspace.toolchains.native] "
                                                 "compiler = \"system\" to use the system cc")
            cc_info = CcToolchainInfo(cc=("zig", "cc"), ar=("zig", "ar"), target=host_triple(),
                                      compile_flags=flags + COMMON_COMPILE, link_flags=flags + LINK_STRIP)
            py, py_dirs, py_files, py_fp = python_frontend(ctx)
            fp = f"native|zig {version}|{host_triple()}|{' '.join(flags)}|{py_fp}"
            return ToolchainInfo(name=self.name, fingerprint=fp, version=f"zig {version}",
                                 private_env=zig_env(), tool_files=(zig, *py_files),
                                 tool_dirs=(os.path.dirname(zig), *py_dirs), sandbox_paths=interpreter_paths(),
                                 providers={CcToolchainInfo: cc_info, type(py): py})
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
                                      link_flags=flags + LINK_STRIP)
            py, py_dirs, py_files, py_fp = python_frontend(ctx)
            fp = f"native|{os.path.basename(real)} {version}|{host_triple()}|{' '.join(flags)}|{py_fp}"
            return ToolchainInfo(name=self.name, fingerprint=fp, version=version, tool_files=(real, *py_files),
                                 tool_dirs=(os.path.dirname(cc), *py_dirs), sandbox_paths=interpreter_paths(),
                                 providers={CcToolchainInfo: cc_info, type(py): py})
        raise ToolchainUnavailable(f"unknown compiler '{compiler}' in [workspace.toolchains.native]",
                                   hint="use \"zig\" or \"system\"")


TOOLCHAINS = [NativeToolchain()]
