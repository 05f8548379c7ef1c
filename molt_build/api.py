"""The public plugin API: everything a rule or toolchain plugin may use.

A rule is a pure function of (attributes, dependency providers, toolchain) that declares
actions and returns providers; it never runs a process or reads a file. A toolchain
resolves, once per build, to a `ToolchainInfo` whose fingerprint enters the key of every
action that uses it. The core knows no language: C, wasm and Python live in plugins.
"""
from __future__ import annotations

import math
import os
import posixpath
from dataclasses import dataclass
from typing import Annotated, Any, Callable, ClassVar, Iterable, Mapping, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator
from pydantic_core import PydanticCustomError

from molt_build.errors import AnalysisError, ToolchainUnavailable  # noqa: F401  (re-exported)
from molt_build.labels import Label
from molt_build.model import Action, DefaultInfo, File, Provider, Tool, ToolchainInfo  # noqa: F401  (re-exported)
from molt_build.tools import interpreter_paths, python_tool, tools_env  # noqa: F401  (re-exported)

__all__ = [
    "Action", "AnalysisError", "Attrs", "MacroContext", "BoolOrReason", "DefaultInfo", "Dep", "EnvVars", "File", "Field", "Label",
    "LabelList", "Provider", "SourceFile", "Rule", "RuleContext", "SourceList", "TEST_TIMEOUTS", "Timeout", "Tool",
    "Toolchain", "ToolchainContext", "ToolchainInfo", "ToolchainUnavailable", "ToolInfo", "ToolRef", "LaneInfo",
    "interpreter_paths", "is_label_text", "probe_tool",
    "python_tool",
]


# ----------------------------------------------------------------------------- files

# ------------------------------------------------------------------------ attributes

class _LabelMarker:
    """Annotated marker: the field holds labels of dependencies."""


class _SourceMarker:
    """Annotated marker: the field holds source paths, globs or labels of generating targets."""


EXECUTION_TAGS = ("requires-network", "no-sandbox")   # tags that change how a target's actions run
class _ToolRefMarker:
    """Annotated marker: the field holds a label of a tool target, or a program name."""


LABELS = _LabelMarker()
SOURCES = _SourceMarker()
TOOLREF = _ToolRefMarker()

LabelList = Annotated[list[str], LABELS]
SourceList = Annotated[list[str], SOURCES]
SourceFile = Annotated[str, SOURCES]       # one source path or label (e.g. a test's `src`)
ToolRef = Annotated[str, TOOLREF]          # a label (a dependency) or the name of a program on PATH


def is_label_text(text: str) -> bool:
    return text.startswith(":") or text.startswith("//")


@dataclass(frozen=True)
class ToolInfo(Provider):
    """What a runnable tool target offers: the tool (argv, files, env) that actions
    declare with `ctx.action(tools=[...])` (e.g. a compiler written in Python)."""

    tool: Tool
    identity: str = ""           # what else names it (e.g. the interpreter that runs it)


@dataclass(frozen=True)
class LaneInfo(Provider):
    """What a `toolchain` target offers: the lane it declares, resolved. The core adds
    what it takes from the user's environment (`pass_env`, `private_pass_env`)."""

    toolchain: ToolchainInfo
    compiler: str = ""                 # the compiler target's label, or the program's name
    identity_files: tuple[File, ...] = ()   # files keyed into every compile (compiler, fingerprint_inputs)


class Resources(BaseModel):
    """What each action of a target needs to run (`resources = {ram_mb = 600, cpu = 1}`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    ram_mb: int = Field(default=0, ge=0, le=1 << 24, description="Peak RAM in MiB (0: learn it).")
    cpu: int = Field(default=1, ge=1, le=1024, description="CPU slots (of -j).")


class Attrs(BaseModel):
    """Base attribute model: the attributes every target has. Rules subclass it; each
    field's `description` is its help text. Unknown fields are errors. Validators are
    built on first use (`defer_build`): a build pays only for the rules it loads."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    rule: str = Field(description="The rule that builds this target.")
    deps: LabelList = Field(default_factory=list, description="Targets this one depends on.")
    data: SourceList = Field(default_factory=list, description="Files needed at run time.")
    toolchains: list[str] = Field(default_factory=list,
                                  description="Toolchains this target may be built with (empty: any).")
    tags: list[str] = Field(default_factory=list, description="Free-form tags (e.g. 'manual').")
    visibility: list[str] = Field(default_factory=list,
                                  description="Who may depend on this target: '//visibility:public' "
                                              "(default), '//visibility:private', '//pkg:__pkg__', "
                                              "'//pkg:__subpackages__'.")
    description: str = Field(default="", description="A human description.")
    resources: Resources | None = Field(default=None, description="What each of its actions needs to run: "
                                                                  "{ram_mb = N, cpu = N} (the scheduler starts an "
                                                                  "action only when they fit; see --local-ram-mb).")


# Test timeouts: a number of seconds or Bazel's names for them.
TEST_TIMEOUTS = {"short": 60.0, "moderate": 300.0, "long": 900.0, "eternal": 3600.0}
MAX_TIMEOUT_S = 86400.0


def _timeout(value: Any) -> Any:
    if isinstance(value, str) and value in TEST_TIMEOUTS:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and 0 < value <= MAX_TIMEOUT_S:
        return value
    raise PydanticCustomError("timeout", f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g} "
                                         f"(a day), or one of {', '.join(TEST_TIMEOUTS)}")


def _env_names(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not name or "=" in name:
            raise PydanticCustomError("env_name", f"environment variable name {name!r} is empty or holds '='")
    return env


def _bool_or_reason(value: Any) -> Any:
    if isinstance(value, (bool, str)):
        return value
    raise PydanticCustomError("bool_or_reason", "must be true, false or a reason (a string)")


BoolOrReason = Annotated[Union[bool, str], PlainValidator(_bool_or_reason)]  # e.g. xfail = true / "why"
Timeout = Annotated[Union[float, int, str], PlainValidator(_timeout)]    # seconds or short/moderate/long/eternal
EnvVars = Annotated[dict[str, str], AfterValidator(_env_names)]           # environment variables for a process


@dataclass(frozen=True)
class Rule:
    """A rule plugin: a name, an attribute model and the implementation function."""

    name: str
    attrs: type[Attrs]
    impl: Callable[["RuleContext"], Iterable[Provider] | None]
    doc: str = ""
    test: bool = False
    executable: bool = False
    uses_toolchain: bool = True
    # The target's `toolchains` attribute names the lanes it builds for within one
    # configuration (through `ctx.lane`), instead of restricting its configurations.
    lanes: bool = False
    # A macro: `expand(name, attrs, sources, macro)` returns the targets it stands for,
    # as (name, table) pairs loaded like any BUILD.toml table (e.g. one test per file).
    # `macro` (a MacroContext) reads the files a macro's expansion depends on.
    expand: Callable[[str, "Attrs", dict, "MacroContext"], list[tuple[str, dict]]] | None = None


class MacroContext:
    """What a macro may read while its package loads: package files (e.g. a list of
    cases) and globs. Everything read becomes an input of loading, so an edit to it
    means a fresh analysis."""

    def __init__(self, read_text: Callable[[str], str], glob: Callable[[str], list[str]],
                 is_dir: Callable[[str], bool], is_file: Callable[[str], bool]):
        self.read_text = read_text          # package-relative path -> text
        self.glob = glob                    # package-relative pattern -> package-relative files
        self.is_dir = is_dir
        self.is_file = is_file


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class ToolchainContext:
    """What a toolchain sees when it resolves: its settings from
    `[workspace.toolchains.<name>]`, the build profile, the shared cache directory (for
    tool-private caches such as zig's) and a place to memoise probes."""

    settings: Mapping[str, Any]
    profile: str
    cache_dir: str
    workspace_root: str


class Toolchain:
    """Base of toolchain plugins. `resolve` returns a `ToolchainInfo` or raises
    `ToolchainUnavailable` with the reason and what to install."""

    name: ClassVar[str] = ""
    doc: ClassVar[str] = ""

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:  # pragma: no cover - abstract
        raise NotImplementedError


def probe_tool(ctx: ToolchainContext, path: str, argv: list[str]) -> str:
    """Run `argv` once per tool identity (path, inode, size, mtime) and memoise its
    stdout in the cache directory: toolchains fingerprint a compiler without paying a
    subprocess on every build."""
    from molt_build.probes import cached_probe
    return cached_probe(ctx.cache_dir, path, argv)


# ------------------------------------------------------------------- rule context

class Dep:
    """A dependency as a rule sees it: its label and its providers."""

    __slots__ = ("label", "providers")

    def __init__(self, label: Label, providers: Mapping[type, Provider]):
        self.label = label
        self.providers = providers

    def __getitem__(self, provider_type: type) -> Any:
        try:
            return self.providers[provider_type]
        except KeyError:
            raise AnalysisError(f"dependency {self.label} does not provide {provider_type.__name__}") from None

    def get(self, provider_type: type, default: Any = None) -> Any:
        return self.providers.get(provider_type, default)

    @property
    def files(self) -> tuple[File, ...]:
        info = self.providers.get(DefaultInfo)
        return info.files if info else ()


class RuleContext:
    """The only door a rule has to the build: its attributes, its dependencies'
    providers, the toolchain, and a factory for outputs and actions."""

    def __init__(self, label: Label, attrs: Attrs, rule: Rule, toolchain: ToolchainInfo | None,
                 profile: str, out_root: str, sources: Mapping[str, tuple[File, ...]],
                 deps: Mapping[str, tuple[Dep, ...]], options: Mapping[str, Any] | None = None,
                 resolve_toolchain: Callable[[str], ToolchainInfo] | None = None,
                 toolchain_names: tuple[str, ...] = ()):
        self.label = label
        self.attrs = attrs
        self.rule = rule
        self.toolchain = toolchain
        self.profile = profile
        self.out_root = out_root                    # e.g. moltb-out/native-dev
        self.out_dir = posixpath.join(out_root, label.pkg) if label.pkg else out_root
        self._sources = sources
        self._deps = deps
        self.actions: list[Action] = []
        self.declared: dict[str, File] = {}
        self.output_fields: dict[str, str | None] = {}     # declared path -> the attribute naming it
        self._produced: set[str] = set()
        self._options = dict(options or {})
        self._resolve = resolve_toolchain
        self._toolchain_names = toolchain_names

    @property
    def lane_names(self) -> tuple[str, ...]:
        """Every registered toolchain, for rules that build in several lanes."""
        return self._toolchain_names

    def lane(self, name: str) -> ToolchainInfo:
        """Another toolchain than the configuration's, resolved once per build (e.g. the
        wasm lane of a differential case). Raises `ToolchainUnavailable` with the reason;
        its fingerprint keys the actions declared with `toolchain=`."""
        if self._resolve is None:
            raise AnalysisError(f"toolchain '{name}' cannot be resolved here")
        if name not in self._toolchain_names:
            raise AnalysisError(f"unknown toolchain '{name}' (known: {', '.join(self._toolchain_names)})",
                                field="toolchains")
        return self._resolve(name)

    def _resources(self, ram_mb: int, cpu: int) -> dict:
        declared = getattr(self.attrs, "resources", None)
        if declared is None:
            return {"ram_mb": ram_mb, "cpu": cpu}
        return {"ram_mb": declared.ram_mb or ram_mb, "cpu": declared.cpu, "ram_declared": bool(declared.ram_mb)}

    def tool(self, module: str, interpreter: str, *args: str) -> Tool:
        """One of moltb's Python helper modules as a tool: run with `interpreter`,
        staged with every molt_build module it imports, and keyed by their content, so
        editing the helper re-runs exactly the actions that use it."""
        return python_tool(module, interpreter, *args)

    def test_option(self, name: str, default: Any = None) -> Any:
        """A request-level option for test rules (e.g. `runs_per_test`)."""
        return self._options.get(name, default)

    @property
    def package(self) -> str:
        return self.label.pkg

    def files(self, attr: str = "srcs") -> tuple[File, ...]:
        """The files of a source attribute: sources in the package and the default
        outputs of any labels listed there."""
        return self._sources.get(attr, ())

    def deps(self, attr: str = "deps") -> tuple[Dep, ...]:
        return self._deps.get(attr, ())

    def declare_output(self, relpath: str, field: str | None = None) -> File:
        """Declare an output file under this target's package output directory
        (`field` names the attribute it came from, for error messages)."""
        norm = posixpath.normpath(relpath)
        if os.path.isabs(relpath) or norm == ".." or norm.startswith("../") or norm in (".", ""):
            raise AnalysisError(f"output path '{relpath}' escapes the output directory" if relpath.strip()
                                else "an output path is empty", field=field,
                                hint="outputs are paths relative to the package's output directory")
        if any(len(part.encode()) > 255 for part in norm.split("/")):
            raise AnalysisError(f"output path '{norm[:60]}...' has a part longer than 255 bytes, more than "
                                "a file name can hold", field=field)
        path = posixpath.join(self.out_dir, norm)
        if path in self.declared:
            if field is not None and self.output_fields.get(path) is not None:   # listed twice by the user
                raise AnalysisError(f"output '{norm}' is listed twice", field=field)
            return self.declared[path]
        f = File(path, is_source=False, owner=self.label)
        self.declared[path] = f
        self.output_fields[path] = field
        return f

    def action(self, *, mnemonic: str, argv: Iterable[str], inputs: Iterable[File],
               outputs: Iterable[File], env: Mapping[str, str] | None = None,
               progress: str = "", timeout: float | None = None,
               uses_toolchain: bool | None = None, test: bool = False, retries: int = 0,
               toolchain: ToolchainInfo | None = None, tools: Iterable[Tool] = (), ram_mb: int = 0,
               cpu: int = 1, report: Mapping[str, str] | None = None,
               runtimes: Iterable[ToolchainInfo] = ()) -> Action:
        """Declare an action. `tools`: programs it runs that are not plain inputs (e.g.
        from `ctx.tool`); their files become inputs and their environment is added.
        `ram_mb` and `cpu`: the rule's estimate for this kind of action (the target's
        `resources` attribute wins). `report`: what test reports say about a test run
        (`case`: its file; `lanes`: the lanes it compares), not keyed. `runtimes`: other
        toolchains (from `ctx.lane`) the action also runs with, e.g. the lanes whose
        programs it runs: keyed by their fingerprints, their tool directories on PATH and
        their paths visible in the sandbox."""
        argv_t = tuple(argv)
        if not argv_t or not all(isinstance(a, str) for a in argv_t):
            raise AnalysisError(f"action {mnemonic}: argv must be a non-empty list of strings")
        outs = tuple(outputs)
        if not outs:
            raise AnalysisError(f"action {mnemonic} declares no outputs")
        for o in outs:
            if self.declared.get(o.path) is not o:
                raise AnalysisError(f"action {mnemonic}: output '{o.path}' was not declared by this "
                                    "target (use ctx.declare_output)")
            if o.path in self._produced:
                raise AnalysisError(f"action {mnemonic}: output '{o.path}' is already produced by another "
                                    "action of this target", field=self.output_fields.get(o.path))
            self._produced.add(o.path)
        tools = tuple(t for t in tools if t is not None)
        ins = tuple(dict.fromkeys([*inputs, *(f for t in tools for f in t.files)]))
        merged_env = tools_env(tools, f"action {mnemonic}")
        merged_env.update(env or {})
        for f in ins:
            if not isinstance(f, File):
                raise AnalysisError(f"action {mnemonic}: input {f!r} is not a File")
        extra = [t.name for t in runtimes if toolchain is None or t.name != toolchain.name]
        if extra and toolchain is None:
            raise AnalysisError(f"action {mnemonic}: runtimes need a toolchain")
        if toolchain is not None:      # a lane: keyed by (and run with) that toolchain
            use_tc, lane = True, "+".join(dict.fromkeys([toolchain.name, *extra]))
        else:
            use_tc = (self.rule.uses_toolchain if uses_toolchain is None else uses_toolchain) \
                and self.toolchain is not None
            lane = ""
        act = Action(owner=self.label, mnemonic=mnemonic, argv=argv_t, inputs=ins, outputs=outs,
                     env=tuple(sorted(merged_env.items())), progress=progress or f"{mnemonic} {self.label}",
                     timeout=timeout, uses_toolchain=use_tc, config=posixpath.basename(self.out_root),
                     test=test, retries=retries, toolchain=lane,
                     requirements=tuple(t for t in getattr(self.attrs, "tags", ()) if t in EXECUTION_TAGS),
                     report=tuple(sorted((report or {}).items())), **self._resources(ram_mb, cpu))
        self.actions.append(act)
        return act


def fields_of(model: type[Attrs], marker: object) -> list[str]:
    """Names of the attribute fields annotated with `marker` (LABELS or SOURCES)."""
    return [name for name, f in model.model_fields.items() if any(m is marker for m in f.metadata)]

