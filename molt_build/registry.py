"""The plugin registry: rules and toolchains by name, from built-ins, entry points
(`molt_build.rules`, `molt_build.toolchains`) and the workspace's `plugin_dirs`.

A plugin module exposes what it registers in one place: a `RULES` list of `Rule` and/or
a `TOOLCHAINS` list of `Toolchain` instances. A duplicate name fails loudly, naming both
origins.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field

from molt_build.api import Rule, Toolchain
from molt_build.errors import BuildFileError, UsageError

BUILTIN_MODULES = (
    "molt_build.rules.genrule",
    "molt_build.rules.c",
    "molt_build.rules.python",
    "molt_build.rules.tests",
    "molt_build.rules.intrinsics",
    "molt_build.rules.differential",
    "molt_build.rules.py_tool",
    "molt_build.rules.lanes",
    "molt_build.rules.rust",
    "molt_build.rules.cargo",
    "molt_build.toolchains.native",
    "molt_build.toolchains.wasm",
    "molt_build.toolchains.cranelift",
    "molt_build.toolchains.host_python",
    "molt_build.toolchains.cpython",
    "molt_build.toolchains.rust",
)


@dataclass
class Registry:
    rules: dict[str, Rule] = field(default_factory=dict)
    toolchains: dict[str, Toolchain] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)   # what plugins were loaded from (for snapshots)
    _modules: set[int] = field(default_factory=set)

    def add_module(self, module, origin: str) -> None:
        if id(module) in self._modules:   # e.g. one module listed in both entry-point groups
            return
        self._modules.add(id(module))
        if getattr(module, "__file__", None) and not module.__name__.startswith("molt_build."):
            self.files.append(module.__file__)
        found = False
        for r in getattr(module, "RULES", ()):
            self._add("rule", r.name, r, origin, self.rules)
            found = True
        for t in getattr(module, "TOOLCHAINS", ()):
            self._add("toolchain", t.name, t, origin, self.toolchains)
            found = True
        if not found:
            raise BuildFileError("plugin module registers nothing (define RULES or TOOLCHAINS)", file=origin)

    def add_toolchain(self, toolchain, origin: str) -> None:
        """A toolchain registered by other means than a plugin module (a workspace lane)."""
        self._add("toolchain", toolchain.name, toolchain, origin, self.toolchains)

    def _add(self, kind, name, obj, origin, table):
        if not name:
            raise BuildFileError(f"{kind} without a name", file=origin)
        if name in table:
            raise BuildFileError(f"duplicate {kind} '{name}': registered by {self.origins[(kind, name)]} "
                                 f"and by {origin}", file=origin)
        table[name] = obj
        self.origins[(kind, name)] = origin

    def rule(self, name: str, file: str | None = None, target: str | None = None) -> Rule:
        r = self.rules.get(name)
        if r is None:
            close = difflib.get_close_matches(name, self.rules, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known rules: {', '.join(sorted(self.rules))}"
            raise BuildFileError(f"unknown rule '{name}'", file=file, target=target, field="rule", hint=hint)
        return r

    def toolchain(self, name: str) -> Toolchain:
        t = self.toolchains.get(name)
        if t is None:
            close = difflib.get_close_matches(name, self.toolchains, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known toolchains: {', '.join(sorted(self.toolchains))}"
            raise UsageError(f"unknown toolchain '{name}'", hint=hint)
        return t


def _load_plugin_file(path: str):
    name = "moltb_plugin_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a broken plugin is a user error, named by file
        raise BuildFileError(f"plugin failed to import: {type(e).__name__}: {e}", file=path) from None
    return module


def build_registry(root: str, plugin_dirs: list[str], ws=None) -> Registry:
    """Built-in plugins, entry points, `plugin_dirs`, and (given the workspace) the lanes
    its BUILD files declare with `toolchain` targets."""
    reg = Registry()
    for modname in BUILTIN_MODULES:
        reg.add_module(importlib.import_module(modname), modname)
    from importlib.metadata import entry_points
    for group in ("molt_build.rules", "molt_build.toolchains"):
        for ep in entry_points(group=group):
            if ep.dist is not None and getattr(ep.dist, "_path", None):
                meta = os.path.join(str(ep.dist._path), "entry_points.txt")
                if os.path.exists(meta):
                    reg.files.append(meta)
            try:
                module = ep.load()
            except Exception as e:
                raise BuildFileError(f"entry point {ep.name} failed to load: {e}", file=ep.value) from None
            reg.add_module(module, f"entry point {ep.value}")
    for d in plugin_dirs:
        full = os.path.normpath(os.path.join(root, d))
        if not os.path.isdir(full):
            raise BuildFileError(f"plugin directory '{d}' does not exist", file="BUILD.toml",
                                 target="workspace", field="plugin_dirs")
        for fn in sorted(os.listdir(full)):
            if fn.endswith(".py") and not fn.startswith("_"):
                reg.add_module(_load_plugin_file(os.path.join(full, fn)), os.path.join(d, fn))
    if ws is not None:
        from molt_build.workspace_lanes import register
        register(reg, ws)
    return reg
