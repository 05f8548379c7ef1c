"""`intrinsics_check`: the stdlib-intrinsic lint as a graph. One scan node per module
(so editing one module re-runs one scan), one audit report, and one gate: a test run
that fails, naming the module and the name, on unknown intrinsics, forbidden
fallbacks, or a broken ratchet. The checks live in rules/intrinsics_tool.py."""
from __future__ import annotations

from molt_build.api import AnalysisError, Attrs, DefaultInfo, Field, Rule, RuleContext, SourceFile, SourceList
from molt_build.rules.tests import RUN_AND_MARK
from molt_build.toolchains.host_python import python_lane

TOOL = "molt_build.rules.intrinsics_tool"
DEFAULT_CALLS = ("require_intrinsic", "_require_intrinsic", "_intrinsic", "load_intrinsic")


class IntrinsicsCheckAttrs(Attrs):
    srcs: SourceList = Field(description="The stdlib modules (.py; globs allowed).")
    manifest: SourceFile = Field(description="The known intrinsics: .pyi stubs (the def names) or TOML with an "
                                             "[intrinsics] table.")
    ratchet: SourceFile = Field(description="TOML or JSON with max_intrinsic_partial (may only go down).")
    intrinsic_calls: list[str] = Field(default_factory=lambda: list(DEFAULT_CALLS),
                                       description="The functions whose literal first argument names a required "
                                                   "intrinsic, e.g. [\"_require_intrinsic\"].")


def intrinsics_check(ctx: RuleContext):
    modules = [f for f in ctx.files("srcs") if f.extension == ".py"]
    if not modules:
        raise AnalysisError("no .py modules in srcs", field="srcs")
    (manifest,) = ctx.files("manifest")
    (ratchet,) = ctx.files("ratchet")
    host, py = python_lane(ctx)
    tool = ctx.tool(TOOL, py)
    calls = ",".join(ctx.attrs.intrinsic_calls)
    if not calls or any(not c.isidentifier() for c in ctx.attrs.intrinsic_calls):
        raise AnalysisError("intrinsic_calls must be function names", field="intrinsic_calls")
    if (manifest.extension, ratchet.extension) not in ((e, r) for e in (".pyi", ".toml") for r in (".json", ".toml")):
        raise AnalysisError("the manifest is .pyi or .toml, the ratchet .json or .toml",
                            field="manifest" if manifest.extension not in (".pyi", ".toml") else "ratchet")
    scans = []
    for m in modules:
        rel = m.path[len(ctx.package) + 1:] if ctx.package else m.path
        out = ctx.declare_output(f"_intrinsics/{ctx.label.name}/{rel}.json")
        ctx.action(mnemonic="IntrinsicScan", argv=[*tool.argv, "scan", "--calls", calls, m.path, out.path],
                   inputs=[m],
                   outputs=[out], progress=f"Scanning {ctx.label} {rel}", toolchain=host, tools=[tool])
        scans.append(out)
    audit = ctx.declare_output(f"{ctx.label.name}.audit.md")
    ctx.action(mnemonic="IntrinsicReport", argv=[*tool.argv, "report", audit.path, *(s.path for s in scans)],
               inputs=scans, outputs=[audit], progress=f"Reporting {ctx.label}", toolchain=host, tools=[tool])
    marker = ctx.declare_output(f"{ctx.label.name}.gate.passed")
    ctx.action(mnemonic="TestRun", argv=["/bin/sh", "-c", RUN_AND_MARK, marker.path, *tool.argv, "gate",
                                         manifest.path, ratchet.path, *(s.path for s in scans)],
               inputs=[manifest, ratchet, *scans], outputs=[marker], progress=f"Testing {ctx.label} (gate)",
               timeout=300.0, test=True, toolchain=host, tools=[tool])
    return [DefaultInfo(files=(audit, marker))]


RULES = [Rule("intrinsics_check", IntrinsicsCheckAttrs, intrinsics_check, test=True, uses_toolchain=False,
              doc="Stdlib-intrinsic lint: a scan per module, an audit report and a gate (manifest + ratchet).")]
