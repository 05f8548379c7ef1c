"""`toolchain`: a lane declared as data in BUILD.toml, whose compiler may be a target of
the workspace (a compiler under development) or a program on PATH.

    [mc]
    rule = "toolchain"
    lane = "mc"                                   # what --toolchain and diff_test name
    compiler = ":mc_compiler"                     # a py_tool (or any tool target), or "molt"
    build = ["{compiler}", "build", "{src}", "--output", "{out}", "--build-profile", "{profile}"]

The compiler target is analysed in the host configuration; its files (a py_tool's
sources) and `fingerprint_inputs` are staged into every compile of the lane and keyed
by content, with the interpreter's identity in the lane's fingerprint. So editing the
compiler re-runs the lane's compiles, and early cutoff keeps every run and compare
whose program came out byte-identical. Templates: `{compiler}` (the argv that runs
the compiler), `{src}`, `{srcs}`, `{out}`, `{profile}` (through `profiles`), `{args}`.
"""
from __future__ import annotations

import json
import re
from typing import Literal

from molt_build.api import (AnalysisError, Attrs, Field, LaneInfo, Rule, RuleContext, SourceList, Tool, ToolInfo,
                            ToolchainInfo, ToolchainUnavailable, ToolRef, is_label_text)
from molt_build.toolchains.cpython import InterpreterMissing, python_of_version
from molt_build.toolchains.host_python import PythonInterpreterInfo, python_lane
from molt_build.toolchains.py_toolchain_info import PyToolchainInfo

LANE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
PLACEHOLDERS = ("{compiler}", "{src}", "{srcs}", "{out}", "{profile}", "{args}", "{stdlib_profile}")


class ToolchainAttrs(Attrs):
    lane: str = Field(description="The lane's name: what --toolchain and diff_test.toolchains name.")
    compiler: ToolRef = Field(description="The compiler: a label of a tool target (e.g. a py_tool, built "
                                          "first in the host configuration), or a program on PATH.")
    fingerprint_inputs: SourceList = Field(default_factory=list,
                                           description="Files (globs allowed) whose content is part of the "
                                                       "lane's identity, e.g. the sources a compiler builds itself.")
    build: list[str] = Field(description="argv that makes the program: {compiler} {src} {srcs} {out} "
                                         "{profile} {args}.")
    run: list[str] = Field(default_factory=list, description="argv that runs the program, ending with {out} "
                                                             "(default: run it directly, or under the wasm "
                                                             "runtime for platform = \"wasm\").")
    python: str = Field(default="", description="The CPython the compiler runs under and the lane's programs "
                                                "follow, e.g. \"3.12\" (default: the interpreter running moltb). "
                                                "Differential cases compare the lane with that version's run.")
    stdlib_profile: str = Field(default="", description="What {stdlib_profile} (a whole argument of `build`) "
                                                        "stands for when the case names none (a differential "
                                                        "case's `stdlib_profile=` wins), e.g. \"micro\".")
    opt_in: bool = Field(default=False, description="Only targets that name the lane in `toolchains` build "
                                                    "with it (not every diff_test that builds in all lanes).")
    platform: Literal["native", "wasm"] = Field(default="native", description="native, or wasm (programs "
                                                                               "run under the wasm runtime).")
    exe_suffix: str = Field(default="", description="Suffix of the programs it makes (default: .wasm for wasm).")
    profiles: dict[str, str] = Field(default_factory=dict,
                                     description="The compiler's name for each moltb profile ({profile}), "
                                                 "e.g. {dev = \"dev\", release = \"release\"}.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment set for the compiler (keyed).")
    pass_env: list[str] = Field(default_factory=list,
                                description="Variables taken from the user's environment (keyed).")
    private_env: list[str] = Field(default_factory=list,
                                   description="Variables naming the compiler's private state, taken from the "
                                               "user's environment, not keyed (e.g. its cache directory).")


def _check_template(argv: list[str], field: str, needs: tuple[str, ...]) -> None:
    for part in argv:
        for word in part.replace("}", "}\0").split("\0"):
            if "{" in word and word[word.index("{"):] not in PLACEHOLDERS:
                raise AnalysisError(f"unknown placeholder in '{part}' (known: {', '.join(PLACEHOLDERS)})",
                                    field=field)
    for need in needs:
        if not any(need in part for part in argv):
            raise AnalysisError(f"the {field} template needs {need}", field=field)


def _splice(argv: list[str], compiler: tuple[str, ...], profile: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in argv:
        if part == "{compiler}":
            out.extend(compiler)
        elif part == "{args}":
            continue                    # a run's arguments follow the program; a compile has none
        else:
            out.append(part.replace("{profile}", profile))
    return tuple(out)


def _interpreter(ctx: RuleContext, a: ToolchainAttrs) -> ToolchainInfo:
    """The CPython the lane's compiler runs under: the host's, or `python`'s version."""
    host, _py = python_lane(ctx)
    if not a.python:
        return host
    try:
        return python_of_version(ctx, a.python)
    except ToolchainUnavailable as e:
        if isinstance(e, InterpreterMissing):
            raise
        raise ToolchainUnavailable(f"lane '{a.lane}' needs CPython {a.python}: {e.message}", field="python",
                                   hint=e.hint) from None
    except AnalysisError as e:
        raise AnalysisError(e.message, field="python") from None


def toolchain(ctx: RuleContext):
    a: ToolchainAttrs = ctx.attrs
    if not LANE_NAME.fullmatch(a.lane):
        raise AnalysisError(f"lane name '{a.lane}' may hold letters, digits, '_', '-' and '.'", field="lane")
    host, host_py = python_lane(ctx)
    try:
        interp = _interpreter(ctx, a)
    except InterpreterMissing as e:
        # Declared, but not usable on this machine: a case that lists the lane says so.
        return [LaneInfo(ToolchainInfo(name=a.lane, fingerprint=f"lane|{ctx.label}|unavailable",
                                       providers={PyToolchainInfo: PyToolchainInfo(
                                           False, f"lane '{a.lane}' needs CPython {a.python}: {e.message}",
                                           e.hint or "")}), compiler=a.compiler)]
    if is_label_text(a.compiler):
        (dep,) = ctx.deps("compiler")
        info = dep.get(ToolInfo)
        if info is None:
            raise AnalysisError(f"compiler {dep.label} is not a runnable tool (e.g. a py_tool)", field="compiler")
        compiler, identity = info.tool, f"{dep.label} ({info.identity})"
        if interp is not host and compiler.argv[:1] == (host_py,):     # a py_tool: run it under that python
            compiler = Tool(argv=(interp[PythonInterpreterInfo].interpreter, *compiler.argv[1:]),
                            files=compiler.files, env=compiler.env)
            identity = f"{dep.label} ({interp.fingerprint})"
    else:
        compiler, identity = Tool(argv=(a.compiler,)), f"program {a.compiler}"
    inputs = ctx.files("fingerprint_inputs")
    tool = Tool(argv=compiler.argv, files=(*compiler.files, *inputs), env=compiler.env)
    _check_template(a.build, "build", ("{out}",))
    if not any("{src" in part for part in a.build):
        raise AnalysisError("the build template needs {src} or {srcs}", field="build")
    if "{stdlib_profile}" in a.build and not a.stdlib_profile:
        raise AnalysisError("the build template uses {stdlib_profile}: set stdlib_profile, the profile of "
                            "programs that name none", field="stdlib_profile")
    if any("{stdlib_profile}" in part and part != "{stdlib_profile}" for part in a.build):
        raise AnalysisError("{stdlib_profile} must be a whole argument of the build template", field="build")
    profile = a.profiles.get(ctx.profile, ctx.profile)
    build = _splice(a.build, tool.argv, profile)
    run_tool = None
    if a.run:
        _check_template(a.run, "run", ("{out}",))
        if a.run[-1] != "{out}":
            raise AnalysisError("the run template must end with {out}", field="run")
        uses_compiler = "{compiler}" in a.run
        run_tool = Tool(argv=_splice(a.run[:-1], tool.argv, profile), files=tool.files if uses_compiler else (),
                        env=tool.env if uses_compiler else ())
    elif a.platform == "wasm":
        run_tool = ctx.lane("wasm").run_tool
    suffix = a.exe_suffix or (".wasm" if a.platform == "wasm" else "")
    fingerprint = "|".join(["lane", str(ctx.label), a.platform, json.dumps(a.build), json.dumps(a.run),
                            json.dumps(sorted(a.env.items())), f"fingerprint_inputs {len(inputs)}",
                            f"compiler {identity}", interp.fingerprint])
    frontend = PyToolchainInfo(True, direct=build, exe_suffix=suffix, tool=tool, version=identity,
                               python_version=a.python, runtime=interp.name if interp is not host else "",
                               opt_in=a.opt_in, stdlib_profile=a.stdlib_profile)
    info = ToolchainInfo(name=a.lane, fingerprint=fingerprint, env=dict(a.env),
                         version=f"compiler {a.compiler}, {len(tool.files)} keyed files",
                         tool_dirs=interp.tool_dirs, sandbox_paths=interp.sandbox_paths, runner=a.platform,
                         run_prefix=run_tool.argv if run_tool else (), run_tool=run_tool,
                         pass_env=tuple(a.pass_env), private_pass_env=tuple(a.private_env),
                         providers={PyToolchainInfo: frontend})
    return [LaneInfo(info, compiler=a.compiler, identity_files=tool.files)]


RULES = [Rule("toolchain", ToolchainAttrs, toolchain, uses_toolchain=False,
              doc="A lane declared as data: its compiler (a workspace target or a program) and argv templates.")]
