"""`py_binary`: a Python program compiled by the toolchain's Python frontend: one node
turns the program into C, one compiles the C, one links the executable. A toolchain
without a Python frontend (wasm, cranelift) is refused with its reason."""
from __future__ import annotations

from molt_build.api import (AnalysisError, Attrs, DefaultInfo, Field, File, Rule, RuleContext, SourceFile,
                            SourceList, ToolchainInfo)
from molt_build.rules.c import compile_object, link_executable
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo
from molt_build.toolchains.py_toolchain_info import PyToolchainInfo


class PyBinaryAttrs(Attrs):
    src: SourceFile = Field(description="The program's main .py file.")
    srcs: SourceList = Field(default_factory=list, description="Other files the program needs at build time.")
    copts: list[str] = Field(default_factory=list, description="Extra flags for compiling the generated C.")


def python_frontend_of(tc: ToolchainInfo, field: str = "toolchains") -> PyToolchainInfo:
    """The toolchain's Python frontend, or an analysis error saying why there is none."""
    py = tc.get(PyToolchainInfo)
    if py is None:
        raise AnalysisError(f"toolchain '{tc.name}' cannot compile Python (it has no Python frontend); "
                            "build py_binary targets with the native toolchain", field=field)
    if not py.available:
        raise AnalysisError(f"toolchain '{tc.name}' cannot compile Python: {py.reason}"
                            + (f" ({py.hint})" if py.hint else ""), field=field)
    return py


def declare_py_program(ctx: RuleContext, tc: ToolchainInfo, src: File, extra=(), copts=(), name: str = "",
                       action=None, lane: bool = False, stdlib_profile: str | None = None) -> File:
    """The actions that compile `src` into an executable with `tc`'s frontend: one
    step for a direct compiler, else to C, compile, link. Returns the executable.
    `action` replaces `ctx.action`; `lane` keys the actions by `tc` (not the configuration's);
    `stdlib_profile` replaces the compiler's {stdlib_profile} (default: the lane's)."""
    action = action or ctx.action
    toolchain = tc if lane else None
    py = python_frontend_of(tc)
    name = name or ctx.label.name
    if py.direct:
        exe = ctx.declare_output(name + py.exe_suffix)
        argv = []
        for part in py.direct:
            if part == "{srcs}":
                argv += [src.path, *(f.path for f in extra)]
            elif part == "{stdlib_profile}":
                argv.append(py.stdlib_profile if stdlib_profile is None else stdlib_profile)
            elif part != "{args}":
                argv.append(part.replace("{src}", src.path).replace("{out}", exe.path))
        action(mnemonic="PyCompile", argv=argv, inputs=[src, *extra], outputs=[exe],
               progress=f"Compiling {ctx.label} {src.basename}", toolchain=toolchain,
               tools=[py.tool] if py.tool else [])
        return exe
    cc: CcToolchainInfo = tc[CcToolchainInfo]
    c_file = ctx.declare_output(f"_py/{name}/{src.stem}.c")
    argv = [part.replace("{src}", src.path).replace("{out}", c_file.path) for part in py.to_c]
    action(mnemonic="PyToC", argv=argv, inputs=[src, *extra], outputs=[c_file],
           progress=f"Translating {ctx.label} {src.basename}", toolchain=toolchain)
    obj = compile_object(ctx, cc, c_file, ctx.declare_output(f"_py/{name}/{src.stem}{cc.obj_suffix}"),
                         [*py.compile_flags, *copts], action=action, toolchain=toolchain)
    return link_executable(ctx, cc, [obj], (), py.link_flags, name=name, action=action, toolchain=toolchain)


def py_binary(ctx: RuleContext):
    (src,) = ctx.files("src")
    if src.extension != ".py":
        raise AnalysisError(f"'{src.path}' is not a .py file", field="src")
    exe = declare_py_program(ctx, ctx.toolchain, src, ctx.files("srcs"), ctx.attrs.copts)
    return [DefaultInfo(files=(exe,), executable=exe)]


RULES = [Rule("py_binary", PyBinaryAttrs, py_binary, doc="A Python program compiled to a native executable.",
              executable=True)]
