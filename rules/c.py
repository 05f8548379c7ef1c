"""C rules: `c_library` (one compile action per source, then an archive; headers,
include directories and defines propagate to dependents) and `c_binary` (compile and
link). The toolchain supplies the compiler through `CcToolchainInfo`."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

from molt_build.api import (AnalysisError, Attrs, DefaultInfo, Field, File, Provider, Rule,
                            RuleContext, SourceList)
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo

LINK_RAM_MB = 512            # links are heavy; a first estimate until the scheduler learns
C_SOURCE_EXTS = (".c", ".cc", ".cpp", ".cxx", ".S", ".s")
HEADER_EXTS = (".h", ".hh", ".hpp", ".inc")


@dataclass(frozen=True)
class CcInfo(Provider):
    """What a C target gives its dependents (all transitive, dependents first)."""

    headers: tuple[File, ...] = ()
    include_dirs: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    archives: tuple[File, ...] = ()
    linkopts: tuple[str, ...] = ()


class CAttrs(Attrs):
    srcs: SourceList = Field(default_factory=list, description="C sources and private headers.")
    hdrs: SourceList = Field(default_factory=list, description="Public headers, visible to dependents.")
    copts: list[str] = Field(default_factory=list, description="Extra compiler flags for this target.")
    defines: list[str] = Field(default_factory=list,
                               description="Preprocessor defines, for this target and its dependents.")
    local_defines: list[str] = Field(default_factory=list, description="Defines for this target only.")
    includes: list[str] = Field(default_factory=list,
                                description="Package-relative include directories, also for dependents.")


class CLibraryAttrs(CAttrs):
    pass


class CBinaryAttrs(CAttrs):
    linkopts: list[str] = Field(default_factory=list, description="Extra linker flags.")


def _unique(items):
    return tuple(dict.fromkeys(items))


def _merge_deps(ctx: RuleContext) -> CcInfo:
    infos = [d.get(CcInfo) for d in ctx.deps()]
    for d, info in zip(ctx.deps(), infos):
        if info is None:
            raise AnalysisError(f"dependency '{d.label}' is not a C target (it provides no CcInfo)", field="deps",
                                hint=f"deps take c_library targets; a generated source or header goes in srcs "
                                     f"or hdrs instead: srcs = [\"{d.label}\"]")
    # Archives: keep the last occurrence so every library precedes the ones it uses.
    archives = list(reversed(_unique(reversed([a for i in infos for a in i.archives]))))
    return CcInfo(headers=_unique(h for i in infos for h in i.headers),
                  include_dirs=_unique(x for i in infos for x in i.include_dirs),
                  defines=_unique(x for i in infos for x in i.defines),
                  archives=tuple(archives),
                  linkopts=_unique(x for i in infos for x in i.linkopts))


def _include_dirs(ctx: RuleContext) -> tuple[str, ...]:
    out = []
    for inc in ctx.attrs.includes:
        norm = posixpath.normpath(posixpath.join(ctx.package, inc)) if ctx.package else posixpath.normpath(inc)
        if norm.startswith("..") or posixpath.isabs(inc):
            raise AnalysisError(f"include directory '{inc}' escapes the workspace", field="includes")
        out.append(norm)
    return tuple(out)


def _compile_all(ctx: RuleContext, tc: CcToolchainInfo, deps: CcInfo, own_hdrs, own_incs, own_defines):
    srcs = ctx.files("srcs")
    private_hdrs = tuple(f for f in srcs if f.extension in HEADER_EXTS)
    headers = _unique(own_hdrs + private_hdrs + deps.headers)
    inc_flags = ["-iquote", ".", "-iquote", ctx.out_root]
    for d in _unique(own_incs + deps.include_dirs):
        inc_flags += ["-I", d, "-I", posixpath.join(ctx.out_root, d)]
    define_flags = [f"-D{d}" for d in _unique(own_defines + deps.defines + tuple(ctx.attrs.local_defines))]
    objs = []
    for src in srcs:
        if src.extension in HEADER_EXTS:
            continue
        if src.extension not in C_SOURCE_EXTS:
            raise AnalysisError(f"'{src.path}' is not a C source or header", field="srcs")
        rel = posixpath.relpath(src.path, ctx.package) if src.is_source and ctx.package else \
            (src.path if src.is_source else src.basename)
        obj = ctx.declare_output(f"_objs/{ctx.label.name}/{posixpath.splitext(rel)[0]}{tc.obj_suffix}")
        objs.append(compile_object(ctx, tc, src, obj, [*ctx.attrs.copts, *define_flags, *inc_flags], headers))
    return objs


def compile_object(ctx: RuleContext, tc: CcToolchainInfo, src: File, obj: File, flags, headers=(),
                   action=None, toolchain=None) -> File:
    """One compile action: `src` → `obj` with the toolchain's flags, then `flags`.
    `action` replaces `ctx.action` (e.g. to wrap the command); `toolchain` names a lane."""
    (action or ctx.action)(mnemonic="CcCompile", argv=[*tc.cc, *tc.compile_flags, *flags, "-c", src.path,
                                                       "-o", obj.path],
                           inputs=(src, *headers), outputs=[obj], progress=f"Compiling {ctx.label} {src.basename}",
                           toolchain=toolchain)
    return obj


def c_library(ctx: RuleContext):
    tc: CcToolchainInfo = ctx.toolchain[CcToolchainInfo]
    deps = _merge_deps(ctx)
    hdrs = ctx.files("hdrs")
    incs = _include_dirs(ctx)
    defines = tuple(ctx.attrs.defines)
    objs = _compile_all(ctx, tc, deps, hdrs, incs, defines)
    archives = deps.archives
    files = []
    if objs:
        lib = ctx.declare_output(f"lib{ctx.label.name}.a")
        ctx.action(mnemonic="CcArchive", argv=[*tc.ar, "rcsD", lib.path, *(o.path for o in objs)],
                   inputs=objs, outputs=[lib], progress=f"Archiving {ctx.label} {lib.basename}")
        archives = (lib,) + tuple(a for a in archives if a != lib)
        files.append(lib)
    info = CcInfo(headers=_unique(hdrs + deps.headers), include_dirs=_unique(incs + deps.include_dirs),
                  defines=_unique(defines + deps.defines), archives=archives, linkopts=deps.linkopts)
    return [DefaultInfo(files=tuple(files) + tuple(hdrs)), info]


def c_binary(ctx: RuleContext):
    tc: CcToolchainInfo = ctx.toolchain[CcToolchainInfo]
    deps = _merge_deps(ctx)
    objs = _compile_all(ctx, tc, deps, (), _include_dirs(ctx), tuple(ctx.attrs.defines))
    if not objs:
        raise AnalysisError("a c_binary needs at least one C source", field="srcs")
    exe = link_executable(ctx, tc, objs, deps.archives, (*deps.linkopts, *ctx.attrs.linkopts))
    return [DefaultInfo(files=(exe,), executable=exe)]


def link_executable(ctx: RuleContext, tc: CcToolchainInfo, objs, archives, linkopts, name: str | None = None,
                    action=None, toolchain=None) -> File:
    """Link objects and archives into the toolchain's executable; when the toolchain
    post-processes executables (e.g. Cranelift .wasm → .cwasm), add that step and
    return its output. `action` and `toolchain` as in `compile_object`."""
    action = action or ctx.action
    name = name or ctx.label.name
    exe = ctx.declare_output(name + tc.exe_suffix)
    argv = [*tc.cc, *tc.link_flags, *(o.path for o in objs), *(a.path for a in archives), *linkopts, *tc.link_libs,
            "-o", exe.path]
    action(mnemonic="CcLink", argv=argv, inputs=[*objs, *archives], outputs=[exe],
           progress=f"Linking {ctx.label} {exe.basename}", toolchain=toolchain, ram_mb=LINK_RAM_MB)
    if not tc.finalize:
        return exe
    final = ctx.declare_output(name + tc.final_suffix)
    action(mnemonic=tc.finalize_mnemonic, argv=[*tc.finalize.argv, exe.path, final.path], inputs=[exe],
           outputs=[final], progress=f"{tc.finalize_mnemonic} {ctx.label} {final.basename}", toolchain=toolchain,
           tools=[tc.finalize])
    return final


RULES = [
    Rule("c_library", CLibraryAttrs, c_library, doc="A C library: objects archived into lib<name>.a."),
    Rule("c_binary", CBinaryAttrs, c_binary, doc="A C program: compiled and linked.", executable=True),
]
