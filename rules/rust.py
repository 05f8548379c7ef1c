"""Rust rules, the Buck2 / rules_rust way: one rustc action per crate.

`rust_library` makes an rlib (dependents get it with `--extern`), or with
`crate_type = "staticlib"` an archive a `c_binary` links (it provides CcInfo with the
system libraries the Rust std needs); `rust_binary` a program; `rust_test` a test
binary (`rustc --test`) that `moltb test` runs. Editing one .rs file re-runs only its
crate's rustc and what links it. Crates are built for the host, or for wasm32-wasip1 in
the wasm and cranelift configurations (when that std is installed)."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Literal

from molt_build.api import (AnalysisError, Attrs, DefaultInfo, Field, File, Provider, Rule, RuleContext,
                            SourceList, ToolchainUnavailable)
from molt_build.rules.c import CcInfo
from molt_build.rules.tests import TestRunAttrs, declare_runs
from molt_build.toolchains.rust_toolchain_info import RustToolchainInfo

WASM_CONFIGS = ("wasm", "cranelift")
WASM_TARGET = "wasm32-wasip1"
RUSTC_RAM_MB = 1024          # a first estimate of a rustc's peak; the scheduler learns the real one


@dataclass(frozen=True)
class RustInfo(Provider):
    """A Rust library crate as its dependents see it."""

    crate_name: str
    rlib: File
    transitive: tuple[File, ...] = ()      # every rlib below it (for -L dependency= and as inputs)


class RustAttrs(Attrs):
    srcs: SourceList = Field(description="The crate's .rs files (globs allowed).")
    crate_root: str = Field(default="", description="The crate root, package-relative (default: lib.rs or "
                                                    "src/lib.rs for libraries, main.rs or src/main.rs for "
                                                    "binaries, the only source when there is one).")
    crate_name: str = Field(default="", description="Default: the target name, with - as _.")
    edition: Literal["2015", "2018", "2021", "2024"] = Field(default="2021", description="The Rust edition.")
    features: list[str] = Field(default_factory=list, description="Enabled as --cfg feature=\"...\".")
    rustc_flags: list[str] = Field(default_factory=list, description="Extra rustc flags.")


class RustLibraryAttrs(RustAttrs):
    crate_type: Literal["rlib", "staticlib"] = Field(default="rlib", description="rlib (for Rust dependents) "
                                                                                "or staticlib (for C).")


class RustTestAttrs(RustAttrs, TestRunAttrs):
    pass


def _rust(ctx: RuleContext) -> tuple:
    tc = ctx.lane("rust")
    info: RustToolchainInfo = tc[RustToolchainInfo]
    config = posixpath.basename(ctx.out_root).rsplit("-", 1)[0]
    target = WASM_TARGET if config in WASM_CONFIGS else info.host
    if target not in info.targets:
        raise ToolchainUnavailable(f"the Rust std for {target} is not installed",
                                   hint=f"rustup target add {target}")
    return tc, info, target


def _crate_root(ctx: RuleContext, srcs: tuple[File, ...], kind: str) -> File:
    by_path = {f.path: f for f in srcs}
    if ctx.attrs.crate_root:
        path = posixpath.join(ctx.package, ctx.attrs.crate_root) if ctx.package else ctx.attrs.crate_root
        if path not in by_path:
            raise AnalysisError(f"crate_root '{ctx.attrs.crate_root}' is not among srcs", field="crate_root")
        return by_path[path]
    names = ("lib.rs", "src/lib.rs") if kind == "lib" else ("main.rs", "src/main.rs")
    for name in names:
        path = posixpath.join(ctx.package, name) if ctx.package else name
        if path in by_path:
            return by_path[path]
    if len(srcs) == 1:
        return srcs[0]
    raise AnalysisError(f"cannot tell the crate root among {len(srcs)} sources (set crate_root)", field="crate_root")


def _compile(ctx: RuleContext, kind: str, crate_type: str, out: File, test: bool = False) -> list[File]:
    """One rustc action; returns the rlibs the crate was built against."""
    tc, info, target = _rust(ctx)
    a = ctx.attrs
    srcs = tuple(f for f in ctx.files("srcs") if f.extension == ".rs")
    if not srcs:
        raise AnalysisError("no .rs sources", field="srcs")
    root = _crate_root(ctx, srcs, kind)
    externs, rlibs = [], []
    for dep in ctx.deps():
        r = dep.get(RustInfo)
        if r is None:
            raise AnalysisError(f"dependency {dep.label} is not a Rust library (rlib)", field="deps")
        externs += ["--extern", f"{r.crate_name}={r.rlib.path}"]
        rlibs += [f for f in (r.rlib, *r.transitive) if f not in rlibs]
    opt = "3" if ctx.profile == "release" else "0"
    argv = [info.rustc, "--crate-name", a.crate_name or ctx.label.name.replace("-", "_"),
            "--crate-type", crate_type, "--edition", a.edition, "--target", target,
            "-C", f"opt-level={opt}", "-C", "debuginfo=0", "-C", "codegen-units=1", "--cap-lints", "warn",
            *(["--test"] if test else []),
            *(x for f in a.features for x in ("--cfg", f'feature="{f}"')),
            *dict.fromkeys(x for f in rlibs for x in ("-L", f"dependency={f.dirname}")),
            *externs, *a.rustc_flags, "-o", out.path, root.path]
    ctx.action(mnemonic="Rustc", argv=argv, inputs=[*srcs, *rlibs], outputs=[out], toolchain=tc,
               progress=f"Compiling Rust {ctx.label} {out.basename}", ram_mb=RUSTC_RAM_MB)
    return rlibs


def rust_library(ctx: RuleContext):
    a: RustLibraryAttrs = ctx.attrs
    crate = a.crate_name or ctx.label.name.replace("-", "_")
    if a.crate_type == "staticlib":
        lib = ctx.declare_output(f"lib{crate}.a")
        _compile(ctx, "lib", "staticlib", lib)
        _tc, info, _target = _rust(ctx)
        return [DefaultInfo(files=(lib,)), CcInfo(archives=(lib,), linkopts=info.native_static_libs)]
    rlib = ctx.declare_output(f"lib{crate}.rlib")
    deps = _compile(ctx, "lib", "rlib", rlib)
    return [DefaultInfo(files=(rlib,)), RustInfo(crate, rlib, tuple(deps))]


def rust_binary(ctx: RuleContext):
    _tc, _info, target = _rust(ctx)
    exe = ctx.declare_output(ctx.label.name + (".wasm" if target == WASM_TARGET else ""))
    _compile(ctx, "bin", "bin", exe)
    return [DefaultInfo(files=(exe,), executable=exe)]


def rust_test(ctx: RuleContext):
    tc, _info, target = _rust(ctx)
    if target == WASM_TARGET:
        raise AnalysisError("rust_test runs on the host configuration only", field="toolchains")
    exe = ctx.declare_output(f"{ctx.label.name}_test")
    _compile(ctx, "lib" if not ctx.attrs.crate_root else "bin", "bin", exe, test=True)
    markers = declare_runs(ctx, [f"./{exe.path}"], [exe], int(ctx.test_option("runs_per_test", 1)), toolchain=tc)
    return [DefaultInfo(files=tuple(markers))]


RULES = [
    Rule("rust_library", RustLibraryAttrs, rust_library, uses_toolchain=False,
         doc="A Rust library crate: an rlib, or a staticlib a c_binary links."),
    Rule("rust_binary", RustAttrs, rust_binary, uses_toolchain=False, executable=True,
         doc="A Rust program (one rustc action)."),
    Rule("rust_test", RustTestAttrs, rust_test, uses_toolchain=False, test=True,
         doc="A Rust test binary (rustc --test), run by moltb test."),
]
