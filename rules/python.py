"""`py_binary`: a Python program compiled by the toolchain's Python frontend: one node
turns the program into C, one compiles the C, one links the executable. A toolchain
without a Python frontend (wasm, cranelift) is refused with its reason."""
from __future__ import annotations

from molt_build.api import AnalysisError, Attrs, DefaultInfo, Field, Rule, RuleContext, SourceFile, SourceList
from molt_build.rules.c import link_executable
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo
from molt_build.toolchains.py_toolchain_info import PyToolchainInfo


class PyBinaryAttrs(Attrs):
    src: SourceFile = Field(description="The program's main .py file.")
    srcs: SourceList = Field(default_factory=list, description="Other files the program needs at build time.")
    copts: list[str] = Field(default_factory=list, description="Extra flags for compiling the generated C.")


def py_binary(ctx: RuleContext):
    a: PyBinaryAttrs = ctx.attrs
    tc = ctx.toolchain
    py = tc.get(PyToolchainInfo)
    if py is None:
        raise AnalysisError(f"toolchain '{tc.name}' cannot compile Python (it has no Python frontend); "
                            "build py_binary targets with the native toolchain", field="toolchains")
    if not py.available:
        raise AnalysisError(f"toolchain '{tc.name}' cannot compile Python: {py.reason}"
                            + (f" ({py.hint})" if py.hint else ""), field="src")
    (src,) = ctx.files("src")
    if src.extension != ".py":
        raise AnalysisError(f"'{src.path}' is not a .py file", field="src")
    if py.direct:
        exe = ctx.declare_output(ctx.label.name + py.exe_suffix)
        argv = [part.replace("{src}", src.path).replace("{out}", exe.path) for part in py.direct]
        ctx.action(mnemonic="PyCompile", argv=argv, inputs=[src, *ctx.files("srcs")], outputs=[exe],
                   progress=f"Compiling {ctx.label} {src.basename}")
        return [DefaultInfo(files=(exe,), executable=exe)]
    cc: CcToolchainInfo = tc[CcToolchainInfo]
    c_file = ctx.declare_output(f"_py/{ctx.label.name}/{src.stem}.c")
    argv = [part.replace("{src}", src.path).replace("{out}", c_file.path) for part in py.to_c]
    ctx.action(mnemonic="PyToC", argv=argv, inputs=[src, *ctx.files("srcs")], outputs=[c_file],
               progress=f"Translating {ctx.label} {src.basename}")
    obj = ctx.declare_output(f"_py/{ctx.label.name}/{src.stem}{cc.obj_suffix}")
    ctx.action(mnemonic="CcCompile", argv=[*cc.cc, *cc.compile_flags, *py.compile_flags, *a.copts,
                                           "-c", c_file.path, "-o", obj.path],
               inputs=[c_file], outputs=[obj], progress=f"Compiling {ctx.label} {c_file.basename}")
    exe = link_executable(ctx, cc, [obj], (), py.link_flags)
    return [DefaultInfo(files=(exe,), executable=exe)]


RULES = [Rule("py_binary", PyBinaryAttrs, py_binary, doc="A Python program compiled to a native executable.",
              executable=True)]
