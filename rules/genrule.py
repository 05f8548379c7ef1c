"""`genrule`: a shell command with declared sources and outputs, Bazel-style
`$(SRCS)`, `$(OUTS)`, `$<`, `$@`, `$(@D)`, `$(RULEDIR)` and `$$`."""
from __future__ import annotations

import re
import shlex

from molt_build.api import AnalysisError, Attrs, DefaultInfo, Field, Rule, RuleContext, SourceList

_VAR = re.compile(r"\$(\$|<|@|\([^)]*\))")


class GenruleAttrs(Attrs):
    srcs: SourceList = Field(default_factory=list, description="Input files (paths, globs or labels).")
    outs: list[str] = Field(description="Output files, relative to the package output directory.")
    cmd: str = Field(description="Command run by /bin/sh in the exec root.")
    tools: SourceList = Field(default_factory=list, description="Programs the command runs.")
    executable: bool = Field(default=False, description="The single output is runnable.")


def expand_cmd(cmd: str, srcs: list[str], outs: list[str], out_dir: str, label: str) -> str:
    def sub(m: re.Match) -> str:
        v = m.group(1)
        if v == "$":
            return "$"
        if v == "<":
            if len(srcs) != 1:
                raise AnalysisError(f"'$<' needs exactly one source, got {len(srcs)}", field="cmd")
            return shlex.quote(srcs[0])
        if v == "@":
            if len(outs) != 1:
                raise AnalysisError(f"'$@' needs exactly one output, got {len(outs)}", field="cmd")
            return shlex.quote(outs[0])
        name = v[1:-1].strip()
        if name == "SRCS":
            return " ".join(shlex.quote(s) for s in srcs)
        if name == "OUTS":
            return " ".join(shlex.quote(o) for o in outs)
        if name in ("@D", "RULEDIR"):
            return shlex.quote(out_dir)
        raise AnalysisError(f"unknown make variable '$({name})' (write '$$' for a literal '$')", field="cmd")
    return _VAR.sub(sub, cmd)


def genrule(ctx: RuleContext):
    a: GenruleAttrs = ctx.attrs
    if not a.outs:
        raise AnalysisError("a genrule needs at least one output", field="outs")
    outs = [ctx.declare_output(o, field="outs") for o in a.outs]
    srcs = list(ctx.files("srcs"))
    tools = list(ctx.files("tools"))
    cmd = expand_cmd(a.cmd, [s.path for s in srcs], [o.path for o in outs], ctx.out_dir, str(ctx.label))
    ctx.action(mnemonic="Genrule", argv=["/bin/sh", "-c", cmd], inputs=srcs + tools, outputs=outs,
               progress=f"Executing genrule {ctx.label}")
    exe = outs[0] if a.executable and len(outs) == 1 else None
    return [DefaultInfo(files=tuple(outs), executable=exe)]


RULES = [Rule("genrule", GenruleAttrs, genrule, doc="Run a shell command that produces declared outputs.",
              uses_toolchain=False)]


class FilegroupAttrs(Attrs):
    srcs: SourceList = Field(description="The files (paths, globs or labels).")


def filegroup(ctx: RuleContext):
    return [DefaultInfo(files=ctx.files("srcs"))]


RULES.append(Rule("filegroup", FilegroupAttrs, filegroup, uses_toolchain=False,
                  doc="Names a set of files, so other packages can use them by label."))
