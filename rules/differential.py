"""Differential cases: `diff_test` (one case) and `diff_suite` (one diff_test per file).

A `.py` case has a reference node (CPython runs the program; keyed by the source and
the interpreter's identity), a candidate build per lane (the lane's Python frontend, as
`py_binary` builds it) and one compare node, a test run. A `.c` case is built by every
C lane (native, wasm, cranelift) and the lanes must agree with each other and with the
`expected` file when there is one.

A candidate that fails to compile is a result, not a build failure: each build step
runs under a wrapper that records the compiler's error in place of its output (and
passes a recorded error on), so the compare node can tell "does not compile" from a
wrong answer, and a case that fails to compile on both sides passes. Only compiler
exits 1–125 are recorded; a compiler killed by a signal fails the build as usual.

The compare node (rules/difftool.py) reads the case's `# MOLT_META:` line and the
expected-failure manifest when it runs, so analysis stays pure."""
from __future__ import annotations

import functools
import json
import posixpath
from typing import Literal

from molt_build.api import (AnalysisError, Attrs, BoolOrReason, DefaultInfo, Field, File, MacroContext, Rule,
                            RuleContext,
                            SourceFile, SourceList, Timeout, ToolchainInfo, ToolchainUnavailable)
from molt_build.rules.c import compile_object, link_executable
from molt_build.rules.python import declare_py_program
from molt_build.rules.tests import timeout_seconds
from molt_build.toolchains.cc_toolchain_info import CcToolchainInfo
from molt_build.toolchains.cpython import VERSIONS, InterpreterMissing, python_of_version
from molt_build.toolchains.host_python import PythonInterpreterInfo, python_lane
from molt_build.toolchains.py_toolchain_info import PyToolchainInfo

TOOL = "molt_build.rules.difftool"
COMPILE_ERROR = "moltb-compile-error"      # first line of a recorded compile error
C_LANES = ("native", "wasm", "cranelift")
CASE_EXTS = (".py", ".c")
INTERPRETERS = {f"python{v}" for v in VERSIONS}      # reference interpreters, not lanes
# $0: the output; then the step's generated inputs up to `--`; then the command. A
# recorded error among the inputs is passed on; a failing command (exit 1-125) leaves
# its error in the output instead of failing the action.
CAPTURE = f"""out=$0
while [ "$1" != -- ]; do
  if [ "$(head -c {len(COMPILE_ERROR)} "$1")" = {COMPILE_ERROR} ]; then cp "$1" "$out"; exit 0; fi
  shift
done
shift
"$@" 2>"$TMPDIR/stderr"
code=$?
if [ $code -eq 0 ]; then cat "$TMPDIR/stderr" >&2; exit 0; fi
if [ $code -gt 125 ]; then cat "$TMPDIR/stderr" >&2; exit $code; fi
{{ echo {COMPILE_ERROR}; echo "exit $code: $*"; cat "$TMPDIR/stderr"; }} > "$out"
"""




class DiffAttrs(Attrs):
    expected_failures: SourceFile = Field(
        default="", description="Expected-failure manifest (TOML: [xfail] label = reason, or "
                                "label = {reason = ..., lanes = [...]}).")
    stderr: Literal["ignore", "exact", "match", "exception", "exception_signature", "traceback"] = Field(
        default="ignore", description="How stderr is compared: ignore, exact (or match), or exception "
                                      "(or exception_signature, traceback: the last `Type: message` line).")
    stdout: Literal["exact", "relaxed", "pyperformance"] = Field(
        default="exact", description="How stdout is compared: exact, relaxed (addresses and reference counts "
                                     "normalised) or pyperformance (numbers normalised).")
    xfail: BoolOrReason = Field(default=False, description="The case is expected to fail (true or a reason).")
    timeout: Timeout = Field(default="moderate", description="Seconds (at most a day), or short, moderate, long, "
                                                             "eternal (each run of the case).")
    args: list[str] = Field(default_factory=list, description="Arguments passed to every run.")
    data: SourceList = Field(default_factory=list, description="Files the case reads when it runs (globs "
                                                               "allowed), e.g. modules a MOLT_ENV PYTHONPATH "
                                                               "names: inputs of every run.")
    reference_pythons: list[str] = Field(
        default_factory=list,
        description="The CPython versions a .py case is compared with, e.g. [\"3.11\", \"3.12\", \"3.13\"]: "
                    "one reference run per interpreter found (default: [workspace.toolchains.python] "
                    "reference_pythons, else the interpreter running moltb). A case's min_py/max_py select "
                    "among them; a version not installed is reported unavailable.")


class DiffTestAttrs(DiffAttrs):
    src: SourceFile = Field(description="The case: one .py or .c file.")
    expected: SourceFile = Field(default="", description="Expected stdout (optional).")


class DiffSuiteAttrs(DiffAttrs):
    srcs: SourceList = Field(default_factory=list,
                             description="The cases (.py or .c files; globs allowed): one diff_test per file, "
                                         "named after the file's stem.")
    cases_from: SourceFile = Field(default="", description="A case list such as Molt's TESTS.txt: one path "
                                                           "per line (relative to the list), # comments, a "
                                                           "directory means every case file in it.")
    expected: SourceList = Field(default_factory=list,
                                 description="Expected-stdout files (globs allowed); a case takes the one "
                                             "with its stem (loops.c → loops.expected).")


# $0: the case, $1: the lane's default stdlib profile, then `--` and the command, in
# which an argument {stdlib_profile} becomes the case's MOLT_META stdlib_profile (the
# last one named), else the default.
STDLIB_PROFILE = """case=$0 profile=$1
shift 2
named=$(grep -E '^[[:space:]]*(#|//)[[:space:]]*MOLT_META[[:space:]]*:' "$case" |
  grep -oE '(^|[[:space:]])stdlib_profile=[^[:space:],]+' | tail -n 1 | sed 's/.*=//')
[ -n "$named" ] && profile=$named
for a do shift; [ "$a" = "{stdlib_profile}" ] && a=$profile; set -- "$@" "$a"; done
exec "$@"
"""


def _wrapped_action(ctx: RuleContext, case: File, stdlib_profile: str = ""):
    """ctx.action, with each step's command run under CAPTURE (and a compiler's
    {stdlib_profile} taken from the case)."""
    def action(*, argv, inputs, outputs, **kw):
        (out,) = outputs
        generated = [f.path for f in inputs if not f.is_source]
        if "{stdlib_profile}" in argv:
            argv = ["/bin/sh", "-c", STDLIB_PROFILE, case.path, stdlib_profile, "--", *argv]
        return ctx.action(argv=["/bin/sh", "-c", CAPTURE, out.path, *generated, "--", *argv], inputs=inputs,
                          outputs=outputs, **kw)
    return action


def _lanes(ctx: RuleContext, kind: str) -> tuple[list[ToolchainInfo], dict[str, str]]:
    """The candidate lanes: the target's `toolchains`, or every available one that can
    build the case (a listed lane that cannot is an error; an unlisted one is skipped);
    and the lanes whose CPython is not installed here, with why (the case says so)."""
    listed = list(ctx.attrs.toolchains)
    names = listed or [n for n in ctx.lane_names if n not in INTERPRETERS]
    provider = PyToolchainInfo if kind == "py" else CcToolchainInfo
    lanes = []
    missing: dict[str, str] = {}
    for name in names:
        try:
            tc = ctx.lane(name)
        except InterpreterMissing as e:
            if listed:          # an unlisted lane is skipped without a word, as below
                missing[name] = e.message
            continue
        except ToolchainUnavailable as e:
            if listed:      # unavailable on this machine, not a wrong BUILD file (validate passes it)
                raise ToolchainUnavailable(f"lane '{name}' is not available: {e.message}", field="toolchains",
                                           hint=e.hint) from None
            continue
        info = tc.get(provider)
        if kind == "py" and listed and info is not None and not info.available:
            missing[name] = info.reason          # e.g. its CPython is not installed here: the case says so
            continue
        usable = info is not None and (kind == "c" or (info.available and (listed or not info.opt_in)))
        if kind == "c" and not listed and name not in C_LANES:
            usable = False       # by default the C lanes are the three built-in ones
        if not usable:
            if listed:
                raise AnalysisError(f"lane '{name}' cannot build a .{kind} case", field="toolchains")
            continue
        lanes.append(tc)
    if not lanes and not missing:
        raise AnalysisError(f"no toolchain can build this .{kind} case", field="toolchains")
    return lanes, missing


def _run_argv(tc: ToolchainInfo, program: File) -> list[str]:
    return [*(tc.run_tool.argv if tc.run_tool else tc.run_prefix), program.path]


def diff_test(ctx: RuleContext):
    a: DiffTestAttrs = ctx.attrs
    if ctx.deps("expanded"):          # `src` was a glob: the target stands for one case per file
        return diff_suite(ctx)
    (src,) = ctx.files("src")
    kind = {".py": "py", ".c": "c"}.get(src.extension)
    if kind is None:
        raise AnalysisError(f"'{src.path}' is not a .py or .c case", field="src")
    expected = ctx.files("expected")
    manifest = ctx.files("expected_failures")
    timeout = timeout_seconds(a.timeout)
    host, py = python_lane(ctx)
    compare = ctx.tool(TOOL, py)
    tools = [compare]
    base = f"_diff/{ctx.label.name}"
    spec: dict = {"label": str(ctx.label), "case": src.path, "kind": kind, "stderr": a.stderr, "stdout": a.stdout,
                  "xfail": (a.xfail if isinstance(a.xfail, str) else ("expected to fail" if a.xfail else "")),
                  "expected": expected[0].path if expected else "", "manifest": manifest[0].path if manifest else "",
                  "args": list(a.args), "references": [], "lanes": []}
    data = list(ctx.files("data"))
    inputs: list[File] = [src, *expected, *manifest, *data]
    lanes, missing = _lanes(ctx, kind)
    spec["unavailable"] = missing
    if kind == "py":
        spec["references"] = _references(ctx, src, lanes, compare, timeout, base, inputs)
    runtimes = []
    for tc in lanes:
        name = f"{base}/{tc.name}/{src.stem}"
        if kind == "py":
            capture = _wrapped_action(ctx, src, tc[PyToolchainInfo].stdlib_profile)
            program = declare_py_program(ctx, tc, src, name=name, action=capture, lane=True,
                                         stdlib_profile="{stdlib_profile}")
        else:
            capture = _wrapped_action(ctx, src)
            cc = tc[CcToolchainInfo]
            obj = compile_object(ctx, cc, src, ctx.declare_output(f"{name}{cc.obj_suffix}"), [], action=capture,
                                 toolchain=tc)
            program = link_executable(ctx, cc, [obj], (), (), name=name, action=capture, toolchain=tc)
        frontend = tc.get(PyToolchainInfo) if kind == "py" else None
        spec["lanes"].append({"name": tc.name, "fingerprint": tc.fingerprint, "program": program.path,
                              "run": _run_argv(tc, program), "platform": tc.runner,
                              "python": frontend.python_version if frontend else ""})
        if frontend is not None and frontend.runtime:
            runtimes.append(ctx.lane(frontend.runtime))
        inputs.append(program)
        if tc.run_tool is not None:
            tools.append(tc.run_tool)
    marker = ctx.declare_output(f"{ctx.label.name}.diff")
    ctx.action(mnemonic="DiffCompare", argv=[*compare.argv, marker.path, json.dumps(spec, sort_keys=True)],
               inputs=inputs, outputs=[marker], timeout=timeout * (1 + len(spec["lanes"])), test=True,
               toolchain=host, runtimes=runtimes, progress=f"Testing {ctx.label}", tools=tools,
               report={"case": src.path, "lanes": ",".join(lane["name"] for lane in spec["lanes"])})
    return [DefaultInfo(files=(marker,))]


def _references(ctx: RuleContext, src: File, lanes: list[ToolchainInfo], compare, timeout: float, base: str,
                inputs: list[File]) -> list[dict]:
    """One CPython run of the case per reference interpreter: each version of the
    matrix (`all`: every lane not tied to a version is compared with it), plus the
    version of each lane tied to one. A version not installed is an entry that says
    why, for the compare node to report."""
    a = ctx.attrs
    host = ctx.lane("python")
    info = host[PythonInterpreterInfo]
    matrix = list(a.reference_pythons) or list(info.matrix)
    field = "reference_pythons"
    for v in matrix:
        if v not in VERSIONS:
            raise AnalysisError(f"'{v}' is not a CPython version moltb knows (known: {', '.join(VERSIONS)})",
                                field=field)
    wanted: dict[str, bool] = {v: True for v in (matrix or [info.version])}
    for tc in lanes:
        tied = tc[PyToolchainInfo].python_version
        if tied:
            wanted.setdefault(tied, False)
    refs = []
    for version, every_lane in wanted.items():
        entry: dict = {"version": version, "name": f"cpython{version}" if matrix or version != info.version
                       else "cpython", "all": every_lane}
        refs.append(entry)
        try:
            tc = python_of_version(ctx, version)
        except ToolchainUnavailable as e:
            entry["unavailable"] = e.message
            continue
        suffix = "" if tc is host else f"-{version}"
        out = [ctx.declare_output(f"{base}/reference{suffix}{x}") for x in ("", ".stdout", ".stderr")]
        # The reference is a run of the case (a test run: capped, timed, and reported as
        # the case's TIMEOUT or OOM when it hangs or is killed). Whatever the program
        # does is its result, cached like any output: the exit status goes to $0,
        # stdout and stderr beside it.
        ctx.action(mnemonic="DiffReference", argv=[*compare.argv, "reference", out[0].path, src.path, version, "--",
                                                   tc[PythonInterpreterInfo].interpreter, src.path, *a.args],
                   inputs=[src, *ctx.files("data")], outputs=out, timeout=timeout, toolchain=tc, test=True,
                   tools=[compare],
                   report={"case": src.path, "lanes": entry["name"]},
                   progress=f"Running {ctx.label} under CPython {version}")
        entry.update(exit=out[0].path, stdout=out[1].path, stderr=out[2].path)
        inputs += out
    return refs


# ----------------------------------------------------------------------- diff_suite

SHARED = ("expected_failures", "stderr", "stdout", "xfail", "timeout", "args", "data", "reference_pythons",
          "toolchains", "tags", "visibility", "description")


@functools.cache
def _shared_defaults(model: type) -> dict:
    return {f: model.model_fields[f].get_default(call_default_factory=True) for f in SHARED}


def expand_glob_case(name: str, attrs: DiffTestAttrs, sources: dict, macro=None) -> list[tuple[str, dict]]:
    """A diff_test whose `src` is a glob is a suite of the files it matches."""
    if not any(c in attrs.src for c in "*?["):
        return []
    return expand_suite(name, attrs, {"srcs": sources.get("src", ()), "expected": sources.get("expected", ())},
                        macro, field="src")


def listed_cases(listing: str, macro: MacroContext) -> list[str]:
    """The case files a TESTS.txt names (package-relative): one path per line, relative
    to the list's directory; `#` starts a comment line; a directory stands for every
    case file under it; a missing entry is an error naming it."""
    base = posixpath.dirname(listing)
    cases: list[str] = []
    for n, line in enumerate(macro.read_text(listing).splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        rel = posixpath.normpath(posixpath.join(base, entry))
        if rel.startswith("../") or rel == ".." or posixpath.isabs(entry):
            raise AnalysisError(f"{listing}:{n}: '{entry}' is outside the package", field="cases_from")
        if macro.is_dir(rel):
            found = [p for p in macro.glob(f"{rel}/**/*") if posixpath.splitext(p)[1] in CASE_EXTS]
            cases.extend(p for p in found if p not in cases)
        elif macro.is_file(rel):
            if posixpath.splitext(rel)[1] not in CASE_EXTS:
                raise AnalysisError(f"{listing}:{n}: '{entry}' is not a .py or .c case", field="cases_from")
            if rel not in cases:
                cases.append(rel)
        else:
            raise AnalysisError(f"{listing}:{n}: '{entry}' does not exist", field="cases_from")
    return cases


def expand_suite(name: str, attrs: DiffAttrs, sources: dict, macro=None, field: str = "srcs") -> list[tuple[str, dict]]:
    """One diff_test table per case file, named after its stem (or per case of the
    `cases_from` list)."""
    if sources.get("cases_from"):
        (listing,) = sources["cases_from"]
        sources = {**sources, "srcs": [*sources.get("srcs", ()), *listed_cases(listing, macro)]}
    expected = {posixpath.splitext(posixpath.basename(p))[0]: p for p in sources.get("expected", ())
                if isinstance(p, str)}
    tables: dict[str, dict] = {}
    origin: dict[str, str] = {}
    defaults = _shared_defaults(type(attrs))
    for path in sources.get("srcs", ()):
        if not isinstance(path, str):
            raise AnalysisError(f"'{path}' is a label; a suite takes case files", field=field)
        stem = posixpath.splitext(posixpath.basename(path))[0]
        if posixpath.splitext(path)[1] not in CASE_EXTS:
            continue              # e.g. a glob that also matches expected files
        if stem in tables:
            raise AnalysisError(f"two cases are named '{stem}': {origin[stem]} and {path}", field=field,
                                hint="rename one of the files")
        table: dict = {"rule": "diff_test", "src": path}
        for f in SHARED:
            value = getattr(attrs, f)
            if value != defaults[f]:
                table[f] = value
        if stem in expected:
            table["expected"] = expected[stem]
        tables[stem] = table
        origin[stem] = path
    if not tables:
        raise AnalysisError(f"no .py or .c cases in {field}", field=field)
    return list(tables.items())


def diff_suite(ctx: RuleContext):
    files = tuple(f for d in ctx.deps("expanded") for f in d.files)
    return [DefaultInfo(files=files)]


RULES = [
    Rule("diff_test", DiffTestAttrs, diff_test, test=True, uses_toolchain=False, lanes=True, expand=expand_glob_case,
         doc="A differential case: CPython (for .py) against a candidate built and run on each lane."),
    Rule("diff_suite", DiffSuiteAttrs, diff_suite, uses_toolchain=False, lanes=True, expand=expand_suite,
         doc="One diff_test per case file, named after its stem."),
]
