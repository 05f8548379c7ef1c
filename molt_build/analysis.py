"""Analysis: run each target's rule once per configuration (toolchain × profile) in
dependency order, collecting declared actions and providers. Rules never run anything."""
from __future__ import annotations

import dataclasses
import os
import posixpath
from dataclasses import dataclass, field

from molt_build.api import (Action, DefaultInfo, Dep, File, LaneInfo, Provider, RuleContext,
                            ToolchainContext, ToolchainInfo)
from molt_build.errors import (AnalysisError, EnvironmentProblem, InternalError, MoltbError, ToolchainUnavailable,
                               environment_problem)
from molt_build.labels import Label
from molt_build.loading import Target
from molt_build.packages import PackageTree
from molt_build.registry import Registry
from molt_build.layout import OUT_DIR
from molt_build.workspace import Workspace
from molt_build.workspace_lanes import HOST, WorkspaceLane

HOST_TOOLCHAIN = "native"      # what the host configuration builds with


@dataclass
class ConfiguredTarget:
    label: Label
    config: str
    providers: dict[type, Provider]
    actions: list[Action]
    out_root: str = ""
    outputs: dict[str, str | None] = field(default_factory=dict)   # declared path -> attribute


@dataclass
class AnalysisResult:
    configured: dict[tuple[str, Label], ConfiguredTarget] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    top_level: list[ConfiguredTarget] = field(default_factory=list)
    skipped: list[tuple[str, Label]] = field(default_factory=list)
    toolchains: dict[str, ToolchainInfo] = field(default_factory=dict)


class ToolchainResolver:
    """Resolves toolchains lazily (a genrule-only build never probes a compiler). A
    workspace lane is resolved by analysing its `toolchain` target (and the compiler it
    names) in the host configuration; `host` itself is the native toolchain."""

    def __init__(self, ws: Workspace, registry: Registry, profile: str):
        self.ws, self.registry, self.profile = ws, registry, profile
        self.resolved: dict[str, ToolchainInfo] = {}
        self.host: HostAnalysis | None = None
        self._resolving: set[str] = set()

    def get(self, name: str) -> ToolchainInfo:
        info = self.resolved.get(name)
        if info is not None:
            return info
        if name == HOST:
            info = dataclasses.replace(self.get(HOST_TOOLCHAIN), name=HOST)
        elif isinstance(self.registry.toolchains.get(name), WorkspaceLane):
            info = self._lane(self.registry.toolchains[name])
        else:
            info = self._plugin(name)
        self.resolved[name] = info
        return info

    def _lane(self, lane: WorkspaceLane) -> ToolchainInfo:
        if self.host is None:
            raise ToolchainUnavailable(f"lane '{lane.name}' cannot be resolved here")
        if lane.name in self._resolving:
            raise AnalysisError(f"lane '{lane.name}' needs itself to build its compiler", file=lane.file,
                                target=lane.label.name, field="compiler")
        self._resolving.add(lane.name)
        try:
            ct = self.host.analyze(lane.label)
        finally:
            self._resolving.discard(lane.name)
        declared = ct.providers.get(LaneInfo)
        if declared is None or declared.toolchain.name != lane.name:
            raise AnalysisError(f"{lane.label} does not declare lane '{lane.name}'", file=lane.file,
                                target=lane.label.name, field="lane")
        return with_environment(declared.toolchain)

    def _plugin(self, name: str) -> ToolchainInfo:
        tc = self.registry.toolchain(name)
        ctx = ToolchainContext(settings=self.ws.config.toolchain_settings.get(name, {}), profile=self.profile,
                               cache_dir=self.ws.cache_dir, workspace_root=self.ws.root)
        try:
            return tc.resolve(ctx)
        except ToolchainUnavailable as e:
            e.message = f"toolchain '{name}' is not available: {e.message}"
            raise
        except MoltbError:
            raise
        except Exception as e:  # a bug in the toolchain plugin: exit 37, naming it
            if environment_problem(e):
                raise environment_problem(e) from e
            origin = self.registry.origins.get(("toolchain", name), "?")
            raise InternalError(f"{type(e).__name__}: {e} (in toolchain '{name}' from {origin})") from e


def with_environment(info: ToolchainInfo) -> ToolchainInfo:
    """A lane with what it takes from the user's environment: `pass_env` values join
    its (keyed) env; `private_pass_env` ones its private env, not keyed, and, being a
    tool's own state, writable in the namespace sandbox. A passed PATH's directories
    are visible (read-only) there."""
    env = dict(info.env)
    env.update({k: os.environ[k] for k in info.pass_env if k in os.environ})
    private = dict(info.private_env)
    private.update({k: os.environ[k] for k in info.private_pass_env if k in os.environ})
    paths = list(info.sandbox_paths)
    if "PATH" in info.pass_env:
        paths += [d for d in os.environ.get("PATH", "").split(os.pathsep) if os.path.isabs(d) and os.path.isdir(d)]
    return dataclasses.replace(info, env=env, private_env=private, sandbox_paths=tuple(paths))


class HostAnalysis:
    """Targets a lane needs (its toolchain target, the compiler), analysed once each in
    the host configuration, in dependency order."""

    def __init__(self, targets: dict[Label, Target], order: list[Label], resolver: ToolchainResolver,
                 result: AnalysisResult, profile: str, options: dict | None):
        self.targets, self.order, self.resolver = targets, order, resolver
        self.result, self.profile, self.options = result, profile, options
        self.config = f"{HOST}-{profile}"
        self.out_root = f"{OUT_DIR}/{self.config}"

    def analyze(self, label: Label) -> ConfiguredTarget:
        needed, stack = set(), [label]
        while stack:
            l = stack.pop()
            if l not in needed and l in self.targets:
                needed.add(l)
                stack.extend(d for _, d in self.targets[l].dep_edges())
        for l in self.order:
            if l in needed and (self.config, l) not in self.result.configured:
                ct = _analyze_one(self.targets[l], self.config, self.out_root, self.profile, self.resolver, HOST,
                                  self.result, self.options)
                self.result.configured[(self.config, l)] = ct
                self.result.actions.extend(ct.actions)
        return self.result.configured[(self.config, label)]


def analyze(ws: Workspace, registry: Registry, targets: dict[Label, Target], order: list[Label],
            requested: list[Label], explicit: set[Label], toolchain_names: list[str],
            profile: str, options: dict | None = None, packages: PackageTree | None = None,
            errors: list[MoltbError] | None = None,
            lanes: tuple[dict[Label, Target], list[Label]] | None = None) -> AnalysisResult:
    """Analyse `order` (dependencies first) in each toolchain's configuration.

    `packages`: the package tree, so an output inside a subpackage is an error.
    `errors`: collecting mode (`moltb validate`): each target's error is recorded and
    analysis goes on; a target that cannot be analysed here (its toolchain is not
    available on this machine, a dependency broke or failed to load) is passed over,
    as are its dependents. Otherwise the first error raises."""
    result = AnalysisResult()
    resolver = ToolchainResolver(ws, registry, profile)
    if lanes is not None:   # the targets workspace lanes need: analysed on first use, in the host config
        resolver.host = HostAnalysis({**lanes[0], **targets}, lanes[1], resolver, result, profile, options)
    requested_set = set(requested)
    for tc_name in toolchain_names:
        registry.toolchain(tc_name)  # unknown name: a usage error before any work
        config = f"{tc_name}-{profile}"
        out_root = f"{OUT_DIR}/{config}"
        outputs = OutputMap(packages)
        skipped: set[Label] = set()
        passed_over: set[Label] = set()     # collecting mode: broken or not analysable here
        for label in order:
            t = targets[label]
            allowed = t.attrs.toolchains if not t.rule.lanes else ()
            if allowed and tc_name not in allowed:
                if label in explicit:
                    raise AnalysisError(f"cannot be built with toolchain '{tc_name}' (allowed: "
                                        f"{', '.join(allowed)})", file=t.file, target=label.name,
                                        field="toolchains")
                skipped.add(label)
                continue
            edges = t.dep_edges()
            if errors is not None and any(d in passed_over or d not in targets for _, d in edges):
                passed_over.add(label)
                continue
            bad = [d for _, d in edges if d in skipped]
            try:
                if bad:
                    if label in requested_set and label not in explicit:
                        skipped.add(label)
                        continue
                    raise AnalysisError(f"dependency '{bad[0]}' cannot be built with toolchain '{tc_name}'",
                                        file=t.file, target=label.name)
                ct = _analyze_one(t, config, out_root, profile, resolver, tc_name, result, options)
                outputs.add(t, ct)
            except MoltbError as e:
                if errors is None or isinstance(e, (InternalError, EnvironmentProblem)):
                    raise
                if not isinstance(e, ToolchainUnavailable):   # unavailable here is not invalid
                    errors.append(e)
                passed_over.add(label)
                continue
            result.configured[(config, label)] = ct
            result.actions.extend(ct.actions)
            if label in requested_set:
                result.top_level.append(ct)
        result.skipped.extend((config, l) for l in requested if l in skipped)
    result.toolchains = resolver.resolved
    return result


class OutputMap:
    """The outputs declared in one configuration, so no two targets write one path, no
    output is a directory another output lives in, and none lies in a subpackage
    (Bazel's rule too: a package owns the output paths under it)."""

    def __init__(self, packages: PackageTree | None):
        self.packages = packages
        self.files: dict[str, Target] = {}
        self.dirs: dict[str, Target] = {}

    def add(self, t: Target, ct: ConfiguredTarget) -> None:
        pkg_dir = f"{ct.out_root}/{t.label.pkg}" if t.label.pkg else ct.out_root
        for path, attr in ct.outputs.items():
            rel = path[len(pkg_dir) + 1:] if path.startswith(pkg_dir + "/") else path

            def fail(why: str, other: Target | None = None) -> AnalysisError:
                if other is not None:
                    why += f" of '{other.label}'" + (f" ({other.file})" if other.file != t.file else "")
                return AnalysisError(f"output '{rel}' {why}", file=t.file, target=t.label.name, field=attr,
                                     hint="give each output its own path")

            if self.packages is not None:
                sub = self.packages.subpackage_of(t.label.pkg, rel, include_self=True)
                if sub is not None:
                    raise fail(f"lies in subpackage '//{sub}': a package's outputs stay out of its subpackages")
            other = self.files.get(path)
            if other is not None and other is not t:
                raise fail("is also an output", other)
            if path in self.dirs:
                raise fail("is a directory holding outputs", self.dirs[path])
            parent = posixpath.dirname(path)
            while parent and parent != ct.out_root:
                if parent in self.files:
                    raise fail(f"is inside '{parent[len(pkg_dir) + 1:] or parent}', an output",
                               self.files[parent])
                self.dirs.setdefault(parent, t)
                parent = posixpath.dirname(parent)
            self.files[path] = t


def _analyze_one(t: Target, config: str, out_root: str, profile: str, resolver: ToolchainResolver,
                 tc_name: str, result: AnalysisResult, options: dict | None = None) -> ConfiguredTarget:
    def dep_of(label: Label) -> ConfiguredTarget:
        return result.configured[(config, label)]

    sources: dict[str, tuple[File, ...]] = {}
    for attr, entries in t.sources.items():
        files: list[File] = []
        for e in entries:
            if isinstance(e, Label):
                files.extend(dep_of(e).providers.get(DefaultInfo, DefaultInfo()).files)
            else:
                files.append(File(e))
        sources[attr] = tuple(files)
    deps = {attr: tuple(Dep(l, dep_of(l).providers) for l in labels) for attr, labels in t.deps.items()}
    try:
        toolchain = resolver.get(tc_name) if t.rule.uses_toolchain else None
        ctx = RuleContext(t.label, t.attrs, t.rule, toolchain, profile, out_root, sources, deps, options,
                          resolver.get, tuple(resolver.registry.toolchains))
        provided = t.rule.impl(ctx) or ()
    except MoltbError as e:
        # A configuration's toolchain missing is not this target's fault; a lane it names is.
        if not isinstance(e, ToolchainUnavailable) or e.field:
            e.file = e.file or t.file
            e.target = e.target or t.label.name
        raise
    except Exception as e:  # a bug in the rule (or its plugin): exit 37, naming rule, origin and target
        if environment_problem(e):
            raise environment_problem(e) from e
        origin = resolver.registry.origins.get(("rule", t.rule.name), "?")
        raise InternalError(f"{type(e).__name__}: {e} (in rule '{t.rule.name}' from {origin}, analysing "
                            f"{t.label} in {t.file})", file=t.file, target=t.label.name) from e
    providers: dict[type, Provider] = {}
    for p in provided:
        if not isinstance(p, Provider):
            raise AnalysisError(f"rule '{t.rule.name}' returned {p!r}, which is not a Provider",
                                file=t.file, target=t.label.name)
        providers[type(p)] = p
    if DefaultInfo not in providers:
        providers[DefaultInfo] = DefaultInfo(files=tuple(ctx.declared.values()))
    return ConfiguredTarget(t.label, config, providers, ctx.actions, out_root, ctx.output_fields)
