"""Toolchains declared as data (`toolchains/declared/*.toml`) for compilers moltb
does not ship, such as Molt itself: which executables to find, how to ask their
version, and how they build a Python program. Each `[[variants]]` entry registers one
toolchain; it is available when every declared tool is found on PATH."""
from __future__ import annotations

import os
import shutil
import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from molt_build.api import Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, probe_tool
from molt_build.api import interpreter_paths, python_tool as python_module_tool
from molt_build.toolchains.py_toolchain_info import PyToolchainInfo
from molt_build.toolchains.wasm import RUNNER, python_tool

DECLARED_DIR = os.path.join(os.path.dirname(__file__), "declared")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ToolDecl(_Strict):
    find: list[str] = Field(description="Executable names searched on PATH, first found wins.")
    version_argv: list[str] = Field(default_factory=lambda: ["--version"])


class FrontendDecl(_Strict):
    build: list[str] = Field(description="argv building {src} into {out} for {target}.")


class CommandsDecl(_Strict):
    start: list[str] = Field(default_factory=list)
    stop: list[str] = Field(default_factory=list)
    build: list[str] = Field(default_factory=list)


class VariantDecl(_Strict):
    name: str
    target: str
    exe_suffix: str = ""
    runner: Literal["native", "wasm"] = "native"


class Declaration(_Strict):
    description: str = ""
    install_hint: str = ""
    tools: dict[str, ToolDecl]
    python_frontend: FrontendDecl | None = None
    daemon: CommandsDecl | None = None
    runtime: CommandsDecl | None = None
    variants: list[VariantDecl]


class DeclaredToolchain(Toolchain):
    def __init__(self, decl: Declaration, variant: VariantDecl, origin: str):
        self.decl = decl
        self.variant = variant
        self.origin = origin
        self.name = variant.name
        self.doc = f"{decl.description} (target {variant.target}; declared in {os.path.basename(origin)})"

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        found: dict[str, str] = {}
        for tool, t in self.decl.tools.items():
            path = next((p for p in map(shutil.which, t.find) if p), None)
            if path is None:
                raise ToolchainUnavailable(f"'{' or '.join(t.find)}' was not found on PATH",
                                           hint=self.decl.install_hint or None)
            found[tool] = path
        versions = []
        for tool, path in found.items():
            try:
                versions.append(f"{tool} {probe_tool(ctx, path, [path, *self.decl.tools[tool].version_argv]).splitlines()[0]}")
            except OSError as e:
                raise ToolchainUnavailable(f"{path} does not run: {e}", hint=self.decl.install_hint or None) from None
        providers = {}
        if self.decl.python_frontend:
            build = tuple(a.replace("{target}", self.variant.target) for a in self.decl.python_frontend.build)
            providers[PyToolchainInfo] = PyToolchainInfo(True, direct=build, exe_suffix=self.variant.exe_suffix,
                                                         version="; ".join(versions))
        run_prefix, run_tool = (), None
        dirs = tuple(sorted({os.path.dirname(p) for p in found.values()}))
        if self.variant.runner == "wasm":
            py, py_dir = python_tool()
            run_prefix = (py, "-P", "-m", RUNNER, "--")
            run_tool = python_module_tool(RUNNER, py, "--")
            dirs += (py_dir,)
        return ToolchainInfo(name=self.name, fingerprint=f"{self.name}|{self.variant.target}|{'|'.join(versions)}",
                             version="; ".join(versions), tool_files=tuple(found.values()), tool_dirs=dirs,
                             runner=self.variant.runner, run_prefix=run_prefix, run_tool=run_tool,
                             sandbox_paths=interpreter_paths() if run_tool else (),
                             providers=providers)


def load_declarations(directory: str = DECLARED_DIR) -> list[DeclaredToolchain]:
    out = []
    for fn in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
        if not fn.endswith(".toml"):
            continue
        path = os.path.join(directory, fn)
        with open(path, "rb") as f:
            data = tomllib.load(f)
        try:
            decl = Declaration.model_validate(data)
        except ValidationError as e:
            from molt_build.errors import BuildFileError
            raise BuildFileError(f"invalid toolchain declaration: {e.errors()[0]['msg']} at "
                                 f"{'.'.join(map(str, e.errors()[0]['loc']))}", file=path) from None
        out.extend(DeclaredToolchain(decl, v, path) for v in decl.variants)
    return out


TOOLCHAINS = load_declarations()
