"""Analysis: run each target's rule once per configuration (toolchain × profile) in
dependency order, collecting declared actions and providers. Rules never run anything."""
from __future__ import annotations

from dataclasses import dataclass, field

from molt_build.api import (Action, DefaultInfo, Dep, File, Provider, RuleContext,
                            ToolchainContext, ToolchainInfo)
from molt_build.errors import AnalysisError, InternalError, MoltbError, ToolchainUnavailable
from molt_build.labels import Label
from molt_build.loading import Target
from molt_build.registry import Registry
from molt_build.layout import OUT_DIR
from molt_build.workspace import Workspace


@dataclass
class ConfiguredTarget:
    label: Label
    config: str
    providers: dict[type, Provider]
    actions: list[Action]


@dataclass
class AnalysisResult:
    configured: dict[tuple[str, Label], ConfiguredTarget] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    top_level: list[ConfiguredTarget] = field(default_factory=list)
    skipped: list[tuple[str, Label]] = field(default_factory=list)
    toolchains: dict[str, ToolchainInfo] = field(default_factory=dict)


class ToolchainResolver:
    """Resolves toolchains lazily (a genrule-only build never probes a compiler)."""

    def __init__(self, ws: Workspace, registry: Registry, profile: str):
        self.ws, self.registry, self.profile = ws, registry, profile
        self.resolved: dict[str, ToolchainInfo] = {}

    def get(self, name: str) -> ToolchainInfo:
        info = self.resolved.get(name)
        if info is None:
            tc = self.registry.toolchain(name)
            ctx = ToolchainContext(settings=self.ws.config.toolchains.get(name, {}), profile=self.profile,
                                   cache_dir=self.ws.cache_dir, workspace_root=self.ws.root)
            try:
                info = tc.resolve(ctx)
            except ToolchainUnavailable as e:
                e.message = f"toolchain '{name}' is not available: {e.message}"
                raise
            except MoltbError:
                raise
            except Exception as e:  # a bug in the toolchain plugin: exit 37, naming it
                origin = self.registry.origins.get(("toolchain", name), "?")
                raise InternalError(f"{type(e).__name__}: {e} (in toolchain '{name}' from {origin})") from e
            self.resolved[name] = info
        return info


def analyze(ws: Workspace, registry: Registry, targets: dict[Label, Target], order: list[Label],
            requested: list[Label], explicit: set[Label], toolchain_names: list[str],
            profile: str, options: dict | None = None) -> AnalysisResult:
    result = AnalysisResult()
    resolver = ToolchainResolver(ws, registry, profile)
    requested_set = set(requested)
    for tc_name in toolchain_names:
        registry.toolchain(tc_name)  # unknown name: a usage error before any work
        config = f"{tc_name}-{profile}"
        out_root = f"{OUT_DIR}/{config}"
        skipped: set[Label] = set()
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
            bad = [d for _, d in t.dep_edges() if d in skipped]
            if bad:
                if label in requested_set and label not in explicit:
                    skipped.add(label)
                    continue
                raise AnalysisError(f"dependency '{bad[0]}' cannot be built with toolchain '{tc_name}'",
                                    file=t.file, target=label.name)
            ct = _analyze_one(t, config, out_root, profile, resolver, tc_name, result, options)
            result.configured[(config, label)] = ct
            result.actions.extend(ct.actions)
            if label in requested_set:
                result.top_level.append(ct)
        result.skipped.extend((config, l) for l in requested if l in skipped)
    result.toolchains = resolver.resolved
    return result


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
        if not isinstance(e, ToolchainUnavailable):
            e.file = e.file or t.file
            e.target = e.target or t.label.name
        raise
    except Exception as e:  # a bug in the rule (or its plugin): exit 37, naming rule, origin and target
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
    return ConfiguredTarget(t.label, config, providers, ctx.actions)
