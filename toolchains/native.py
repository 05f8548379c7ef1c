"""`native`: C for the host. `[workspace.toolchains.native] compiler =`:

- "auto" (the default): the system `cc` and `ar` when they are on PATH and compile and
  link a probe program, else `zig cc` from the `ziglang` package. The system compiler
  costs about 16 ms per small compile here, `zig cc` about 38 ms (its driver probes the
  system libc through `cc` three times, runs clang as a second process and copies the
  object out of its own cache with `ld.lld -r`): see docs/benchmarks/c-compiler.md.
- "system": the system `cc` (or the `cc`/`ar` settings), unavailable when missing.
- "zig": `zig cc`, whatever is installed beside it.

Which compiler was chosen, with the identity of its programs, is in the fingerprint
(so in every action key) and in `moltb toolchains`.

It also carries the Python frontend (Cython, linked against this interpreter's
libpython) that `py_binary` uses."""
from __future__ import annotations

import dataclasses
import os
import platform

from molt_build.api import Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, interpreter_paths
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo
from molt_build.toolchains.python_frontend import python_frontend
from molt_build.toolchains.system_cc import find_system_cc
from molt_build.toolchains.zig import COMMON_COMPILE, LINK_STRIP, PROFILE_FLAGS, host_cpu, resolve_zig, zig_env

COMPILERS = ("auto", "system", "zig")
# What `zig cc` links into every glibc program without being asked (libc aside): the
# system cc links them too, so a program that needs sqrt builds with either compiler.
ZIG_IMPLICIT_LIBS = ("-lm", "-lpthread", "-ldl", "-lrt", "-lutil")


def host_triple() -> str:
    return f"{platform.machine()}-linux-gnu"


class NativeToolchain(Toolchain):
    name = "native"
    doc = "C for the host: the system cc when it works, else zig cc (package ziglang)."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        compiler = ctx.settings.get("compiler", "auto")
        if compiler == "zig":
            return self._zig(ctx)
        if compiler == "system":
            return self._system(ctx)
        if compiler == "auto":
            try:
                return self._system(ctx)
            except ToolchainUnavailable as no_system:
                try:
                    zig = self._zig(ctx)
                    why = " ".join(no_system.message.split())      # one line, whatever the compiler said
                    return dataclasses.replace(zig, version=f"{zig.version} (not the system cc: {why})")
                except ToolchainUnavailable as no_zig:
                    raise ToolchainUnavailable(f"{no_system.message}, and {no_zig.message}",
                                               hint="apt-get install gcc binutils, or pip install ziglang") \
                        from None
        raise ToolchainUnavailable(f"unknown compiler '{compiler}' in [workspace.toolchains.native]",
                                   hint="use " + ", ".join(f'"{c}"' for c in COMPILERS))

    def _zig(self, ctx: ToolchainContext) -> ToolchainInfo:
        flags = PROFILE_FLAGS[ctx.profile]
        zig, version = resolve_zig(ctx, hint="pip install ziglang, or install a system cc (compiler = \"system\")")
        cc_info = CcToolchainInfo(cc=("zig", "cc"), ar=("zig", "ar"), target=host_triple(),
                                  compile_flags=flags + COMMON_COMPILE, link_flags=flags + LINK_STRIP)
        py, py_dirs, py_files, py_fp = python_frontend(ctx)
        # zig cc compiles for the host CPU: its objects are only valid on a like one.
        fp = f"native|zig {version}|{host_triple()}|host {host_cpu()}|{' '.join(flags)}|{py_fp}"
        return ToolchainInfo(name=self.name, fingerprint=fp, version=f"zig {version}",
                             private_env=zig_env(), tool_files=(zig, *py_files),
                             tool_dirs=(os.path.dirname(zig), *py_dirs), sandbox_paths=interpreter_paths(),
                             providers={CcToolchainInfo: cc_info, type(py): py})

    def _system(self, ctx: ToolchainContext) -> ToolchainInfo:
        flags = PROFILE_FLAGS[ctx.profile]
        found = find_system_cc(ctx)
        # By path: the directory of a system cc (/usr/bin) holds other programs, e.g. a
        # python3 that must not shadow the Python frontend's, so it goes last on PATH.
        cc_info = CcToolchainInfo(cc=(found.cc,), ar=(found.ar,), target=host_triple(),
                                  compile_flags=flags + ("-g0", "-fno-ident"), link_flags=flags + LINK_STRIP,
                                  link_libs=ZIG_IMPLICIT_LIBS)
        py, py_dirs, py_files, py_fp = python_frontend(ctx)
        fp = f"native|{found.fingerprint}|{host_triple()}|{' '.join(flags)}|{py_fp}"
        return ToolchainInfo(name=self.name, fingerprint=fp,
                             version=f"{found.version} (system cc: {found.programs[0][1]})",
                             tool_files=(*found.files, *py_files),
                             tool_dirs=tuple(dict.fromkeys((*py_dirs, os.path.dirname(found.cc),
                                                            os.path.dirname(found.ar)))),
                             sandbox_paths=interpreter_paths(), providers={CcToolchainInfo: cc_info, type(py): py})


TOOLCHAINS = [NativeToolchain()]
