"""`py_tool`: a program written in Python from workspace sources, run with the `python`
toolchain's interpreter, e.g. a compiler under development that a `toolchain` target
names. It has no actions of its own: its sources are the tool, staged into the exec
root of every action that runs it and keyed by content (with the interpreter's
identity), so editing one re-runs exactly those actions."""
from __future__ import annotations

import posixpath
import re

from molt_build.api import (AnalysisError, Attrs, DefaultInfo, Field, Rule, RuleContext, SourceList, Tool,
                            ToolInfo)
from molt_build.toolchains.host_python import python_lane

_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class PyToolAttrs(Attrs):
    srcs: SourceList = Field(description="The tool's Python sources (globs allowed).")
    main: str = Field(description="The entry point: a script among srcs (package-relative path), or "
                                  "module:function (modules resolve from `imports`, the package directory, "
                                  "then the workspace root).")
    imports: list[str] = Field(default_factory=list,
                               description="Package-relative directories modules are imported from, e.g. "
                                           "[\"src\"] for a src/ layout (Bazel's py_binary.imports).")


def _search_path(ctx: RuleContext) -> list[str]:
    own = []
    for d in ctx.attrs.imports:
        norm = posixpath.normpath(posixpath.join(ctx.package, d)) if ctx.package else posixpath.normpath(d)
        if posixpath.isabs(d) or norm.startswith(".."):
            raise AnalysisError(f"import directory '{d}' escapes the workspace", field="imports")
        own.append(norm)
    own.append(ctx.package or ".")
    for dep in ctx.deps():
        info = dep.get(ToolInfo)
        if info is None:
            raise AnalysisError(f"dependency {dep.label} is not a py_tool", field="deps")
        own += dict(info.tool.env).get("PYTHONPATH", "").split(":")
    return list(dict.fromkeys(p for p in [*own, "."] if p))


def py_tool(ctx: RuleContext):
    host, py = python_lane(ctx)
    srcs = ctx.files("srcs")
    files = list(srcs)
    for dep in ctx.deps():
        files += [f for f in dep.files if f not in files]
    main = ctx.attrs.main
    if ":" in main:
        module, _, func = main.partition(":")
        if not _MODULE.fullmatch(module) or not func.isidentifier():
            raise AnalysisError(f"'{main}' is not module:function", field="main")
        argv = (py, "-P", "-c", f"import importlib, sys; sys.exit(importlib.import_module({module!r}).{func}())")
    else:
        path = f"{ctx.package}/{main}" if ctx.package else main
        if path not in {f.path for f in srcs}:
            raise AnalysisError(f"main script '{main}' is not among srcs", field="main")
        argv = (py, "-P", path)
    tool = Tool(argv=argv, files=tuple(files), env=(("PYTHONPATH", ":".join(_search_path(ctx))),))
    return [DefaultInfo(files=tuple(files)), ToolInfo(tool, identity=host.fingerprint)]


RULES = [Rule("py_tool", PyToolAttrs, py_tool, uses_toolchain=False,
              doc="A program written in Python from workspace sources (e.g. a compiler a toolchain names).")]
