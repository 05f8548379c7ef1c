"""Loading: BUILD.toml files → validated `Target`s, pattern expansion and the
transitive closure of the requested targets (with cycle and visibility checks).

Loading reads only the packages a request needs. In collecting mode (`moltb
validate`) it records every error and carries on; otherwise the first error raises.
"""
from __future__ import annotations

import difflib
import graphlib
import os
from dataclasses import dataclass, field

from pydantic import ValidationError

from molt_build.build_file import read_build_file
from molt_build.build_file import read_text as read_build_text
from molt_build.api import LABELS, SOURCES, TOOLREF, Attrs, MacroContext, Rule, fields_of, is_label_text
from molt_build.errors import BuildFileError, CycleError, LabelError, MoltbError
from molt_build.labels import Label, Pattern, parse_label, parse_pattern
from molt_build.registry import Registry
from molt_build.layout import BUILD_FILE
from molt_build.packages import PackageTree
from molt_build.visibility import PRIVATE, PUBLIC, is_visible
from molt_build.workspace import Workspace, format_validation_error

RESERVED_TABLES = ("workspace", "package")
_GLOB_CHARS = frozenset("*?[")


@dataclass
class Target:
    """A loaded target: its rule, validated attributes, and resolved sources and deps."""

    label: Label
    rule: Rule
    attrs: Attrs
    file: str
    sources: dict[str, list[str | Label]] = field(default_factory=dict)
    deps: dict[str, list[Label]] = field(default_factory=dict)

    def dep_edges(self) -> list[tuple[str, Label]]:
        """(attribute, label) for every dependency, from label and source attributes."""
        out = [(a, l) for a, ls in self.deps.items() for l in ls]
        out += [(a, e) for a, es in self.sources.items() for e in es if isinstance(e, Label)]
        return out

    @property
    def tags(self) -> list[str]:
        return self.attrs.tags


class Loader:
    def __init__(self, ws: Workspace, registry: Registry, collect: bool = False):
        self.ws = ws
        self.registry = registry
        self.collect = collect
        self.errors: list[MoltbError] = []
        self.packages: dict[str, dict[str, Target]] = {}
        self.build_files: list[str] = []        # BUILD.toml files read (root-relative)
        self.source_files: set[str] = set()     # source files named by loaded targets
        self.tree = PackageTree(ws)
        # What failed to load (collecting mode): its own error is already recorded, so a
        # dependent must not add a second, misleading "unknown dependency" for it.
        self._broken_pkgs: set[str] = set()
        self._broken_targets: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ errors
    def _fail(self, err: MoltbError) -> None:
        if not self.collect:
            raise err
        self.errors.append(err)

    # --------------------------------------------------------------- packages
    def package_exists(self, pkg: str) -> bool:
        return self.tree.package_exists(pkg)

    def discover(self, prefix: str = "") -> list[str]:
        """Every package at or below `prefix` (a root-relative directory)."""
        return self.tree.discover(prefix)

    @property
    def dir_mtimes(self) -> dict[str, int]:
        return self.tree.dir_mtimes

    def load_package(self, pkg: str) -> dict[str, Target]:
        if pkg in self.packages:
            return self.packages[pkg]
        targets: dict[str, Target] = {}
        self.packages[pkg] = targets
        display = f"{pkg}/{BUILD_FILE}" if pkg else BUILD_FILE
        self.build_files.append(display)
        try:
            data = self.ws.root_data if pkg == "" else read_build_file(os.path.join(self.tree.abs(pkg), BUILD_FILE), display)
        except MoltbError as e:
            self._broken_pkgs.add(pkg)
            self._fail(e)
            return targets
        defaults = data.get("package", {})
        if not isinstance(defaults, dict):
            self._fail(BuildFileError("[package] must be a table", file=display, target="package"))
            defaults = {}
        self._check_defaults(defaults, display)
        if "workspace" in data and pkg != "":
            self._fail(BuildFileError("[workspace] is only allowed in the root BUILD.toml", file=display,
                                      target="workspace"))
        for name, table in data.items():
            if name in RESERVED_TABLES:
                continue
            try:
                t = self._load_target(pkg, name, table, defaults, display)
            except MoltbError as e:
                self._broken_targets.add((pkg, name))
                self._fail(e)
                continue
            targets[name] = t
            if t.rule.expand is not None:
                self._expand_macro(t, data, targets, defaults, display)
        return targets

    def _expand_macro(self, t: Target, data: dict, targets: dict[str, Target], defaults: dict,
                      display: str) -> None:
        """A macro target (e.g. diff_suite) stands for the targets it expands to; it
        depends on them all, so building or testing it reaches every one."""
        pkg = t.label.pkg
        rel_sources = {attr: [e if isinstance(e, Label) else (e[len(pkg) + 1:] if pkg else e) for e in entries]
                       for attr, entries in t.sources.items()}
        try:
            generated = t.rule.expand(t.label.name, t.attrs, rel_sources, self._macro_context(pkg, display))
        except MoltbError as e:
            e.file, e.target = e.file or display, e.target or t.label.name
            self._fail(e)
            return
        made = []
        for gname, gtable in generated:
            if gname in data or gname in targets:
                self._fail(BuildFileError(f"it generates a target named '{gname}', which already exists in "
                                          f"this package", file=display, target=t.label.name, field="srcs",
                                          hint="rename one of them"))
                continue
            try:
                targets[gname] = self._load_target(pkg, gname, gtable, defaults, display)
            except MoltbError as e:
                self._broken_targets.add((pkg, gname))
                e.target = f"{t.label.name} (generated {gname})"
                self._fail(e)
                continue
            made.append(targets[gname].label)
        t.deps["expanded"] = made

    def _macro_context(self, pkg: str, display: str) -> MacroContext:
        base = self.tree.abs(pkg)
        strip = len(pkg) + 1 if pkg else 0

        def inside(rel: str) -> str:
            norm = os.path.normpath(rel)
            if os.path.isabs(rel) or norm == ".." or norm.startswith("../"):
                raise BuildFileError(f"'{rel}' is outside the package", file=display)
            return norm

        def read_text(rel: str) -> str:
            path = os.path.join(base, inside(rel))
            root_rel = os.path.relpath(path, self.ws.root)
            self.build_files.append(root_rel)     # an input of loading, like a BUILD file
            return read_build_text(path, root_rel)

        def glob(pattern: str) -> list[str]:
            return [p[strip:] for p in self.tree.glob(pkg, pattern)]

        return MacroContext(read_text, glob, lambda rel: os.path.isdir(os.path.join(base, inside(rel))),
                            lambda rel: os.path.isfile(os.path.join(base, inside(rel))))

    def _toolchain_hint(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self.registry.toolchains), n=1)
        return f"did you mean '{close[0]}'?" if close else f"known toolchains: {', '.join(sorted(self.registry.toolchains))}"

    def check_workspace(self) -> None:
        """The [workspace] fields that name toolchains name registered ones (plugins
        are known only now, after `plugin_dirs` loaded)."""
        cfg = self.ws.config
        if cfg.default_toolchain not in self.registry.toolchains:
            self._fail(BuildFileError(f"unknown toolchain '{cfg.default_toolchain}'", file=BUILD_FILE,
                                      target="workspace", field="default_toolchain",
                                      hint=self._toolchain_hint(cfg.default_toolchain)))
        for name in cfg.toolchain_settings:
            if name not in self.registry.toolchains:
                self._fail(BuildFileError(f"settings for unknown toolchain '{name}'", file=BUILD_FILE,
                                          target="workspace", field="toolchains", hint=self._toolchain_hint(name)))

    def _check_defaults(self, defaults: dict, display: str) -> None:
        """A [package] key that no rule has would be silently ignored (a typo such as
        `visibilty` would quietly leave every target public), so it is an error."""
        known = {f for r in self.registry.rules.values() for f in r.attrs.model_fields} - {"rule"}
        for key in defaults:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                self._fail(BuildFileError("unknown field in [package] (no rule has it)", file=display,
                                          target="package", field=key,
                                          hint=f"did you mean '{close[0]}'?" if close else None))

    def _load_target(self, pkg: str, name: str, table, defaults: dict, display: str) -> Target:
        if not isinstance(table, dict):
            raise BuildFileError(f"top-level key '{name}' is not a table; each target is a [table]",
                                 file=display, target=name)
        try:
            label = parse_label(f"//{pkg}:{name}")
        except LabelError as e:
            raise BuildFileError(e.message, file=display, target=name) from None
        rule_name = table.get("rule")
        if not isinstance(rule_name, str):
            raise BuildFileError("every target needs rule = \"<rule name>\"" if rule_name is None
                                 else f"must be a string, got {rule_name!r}",
                                 file=display, target=name, field="rule")
        rule = self.registry.rule(rule_name, file=display, target=name)
        merged = dict(table)
        for k, v in defaults.items():
            if k in rule.attrs.model_fields and k not in merged:
                merged[k] = v
        try:
            attrs = rule.attrs.model_validate(merged)
        except ValidationError as e:
            errs = [BuildFileError(msg, file=display, target=name, field=fld)
                    for fld, msg in format_validation_error(e)]
            if self.collect:  # report all, in the order they occur (the raised one is last)
                self.errors.extend(errs[:-1])
                raise errs[-1] from None
            raise errs[0] from None
        for v in attrs.visibility:
            if v not in (PUBLIC, PRIVATE):
                self._dep_label(v, pkg, display, name, "visibility")
        for tc in attrs.toolchains:
            if tc not in self.registry.toolchains:
                raise BuildFileError(f"unknown toolchain '{tc}'", file=display, target=name, field="toolchains",
                                     hint=self._toolchain_hint(tc))
        target = Target(label, rule, attrs, display)
        for attr in fields_of(rule.attrs, LABELS):
            target.deps[attr] = [self._dep_label(v, pkg, display, name, attr) for v in getattr(attrs, attr)]
        for attr in fields_of(rule.attrs, TOOLREF):
            value = getattr(attrs, attr)
            if value and is_label_text(value):
                target.deps[attr] = [self._dep_label(value, pkg, display, name, attr)]
        for attr in fields_of(rule.attrs, SOURCES):
            value = getattr(attrs, attr)
            if isinstance(value, str):   # a single-source attribute (SourceFile)
                value = [value] if value else []
            target.sources[attr] = self._sources(value, pkg, display, name, attr)
        return target

    def _dep_label(self, text, pkg, display, name, attr) -> Label:
        try:
            return parse_label(text, pkg)
        except LabelError as e:
            raise BuildFileError(e.message, file=display, target=name, field=attr) from None

    def _sources(self, entries: list[str], pkg: str, display: str, name: str, attr: str) -> list:
        out: list[str | Label] = []
        base = self.tree.abs(pkg)
        for entry in entries:
            if entry.startswith(":") or entry.startswith("//"):
                out.append(self._dep_label(entry, pkg, display, name, attr))
                continue
            norm = os.path.normpath(entry)
            if os.path.isabs(entry) or norm == ".." or norm.startswith("../"):
                raise BuildFileError(f"source '{entry}' must be a path inside the package",
                                     file=display, target=name, field=attr)
            if _GLOB_CHARS & set(entry):
                matches = self.tree.glob(pkg, entry)
                if not matches:
                    raise BuildFileError(f"glob '{entry}' matches no files", file=display,
                                         target=name, field=attr)
                out.extend(matches)
                continue
            path = f"{pkg}/{norm}" if pkg else norm
            sub = self.tree.subpackage_of(pkg, norm)
            if sub is not None:
                raise BuildFileError(f"source '{entry}' is inside subpackage '//{sub}'; refer to a "
                                     f"target of that package by label instead", file=display,
                                     target=name, field=attr)
            if not entry:
                raise BuildFileError("a source path is empty", file=display, target=name, field=attr)
            if os.path.isdir(os.path.join(base, norm)):
                raise BuildFileError(f"source '{entry}' is a directory, not a file", file=display, target=name,
                                     field=attr, hint=f"use a glob for its files, e.g. '{norm}/**'")
            if not os.path.isfile(os.path.join(base, norm)):
                hint = None
                try:
                    close = difflib.get_close_matches(os.path.basename(norm),
                                                      os.listdir(os.path.dirname(os.path.join(base, norm))), n=1)
                    if close:
                        hint = f"did you mean '{close[0]}'?"
                except OSError:
                    pass
                raise BuildFileError(f"source file '{entry}' does not exist", file=display, target=name,
                                     field=attr, hint=hint)
            out.append(path)
        self.source_files.update(e for e in out if isinstance(e, str))
        return out

    # --------------------------------------------------------------- patterns
    def expand(self, patterns: list[str], cwd_pkg: str = "") -> list[Label]:
        """Labels named by command-line patterns. As in Bazel, wildcards (`//pkg/...`,
        `//pkg:all`) skip 'manual' targets; naming one explicitly still selects it."""
        labels: dict[Label, None] = {}
        for text in patterns:
            negative = text.startswith("-")
            pat = parse_pattern(text[1:] if negative else text, cwd_pkg)
            matched = self._match(pat, text)
            for l in matched:
                if negative:
                    labels.pop(l, None)
                else:
                    labels[l] = None
        return list(labels)

    def _match(self, pat: Pattern, text: str) -> list[Label]:
        if pat.recursive:
            pkgs = self.discover(pat.pkg) if os.path.isdir(self.tree.abs(pat.pkg)) else []
            if not pkgs:
                raise LabelError(f"pattern '{text}' matches no packages")
            return [t.label for p in pkgs for t in self.load_package(p).values() if "manual" not in t.tags]
        if not self.package_exists(pat.pkg):
            raise LabelError(f"no package '{pat.pkg or '//'}' (no {BUILD_FILE} there) for pattern '{text}'",
                             hint=self.tree.suggest_package(pat.pkg))
        targets = self.load_package(pat.pkg)
        if pat.name is None:
            return [t.label for t in targets.values() if "manual" not in t.tags]
        if pat.name not in targets:
            raise LabelError(f"no target '{pat.name}' in package '//{pat.pkg}'",
                             hint=self._suggest_target(pat.pkg, pat.name))
        return [targets[pat.name].label]

    def _suggest_target(self, pkg: str, name: str) -> str | None:
        close = difflib.get_close_matches(name, list(self.packages.get(pkg, {})), n=1)
        return f"did you mean '//{pkg}:{close[0]}'?" if close else None

    # ---------------------------------------------------------------- closure
    def get(self, label: Label, referrer: Target | None = None, attr: str | None = None) -> Target | None:
        where = dict(file=referrer.file, target=referrer.label.name, field=attr) if referrer else {}
        if label.pkg in self._broken_pkgs or (label.pkg, label.name) in self._broken_targets:
            return None  # its own error is already recorded
        if not self.package_exists(label.pkg):
            self._fail(BuildFileError(f"unknown dependency '{label}': no package '//{label.pkg}'",
                                      hint=self.tree.suggest_package(label.pkg), **where))
            return None
        targets = self.load_package(label.pkg)
        t = targets.get(label.name)
        if t is None:
            self._fail(BuildFileError(f"unknown dependency '{label}': no target '{label.name}' in '//{label.pkg}'",
                                      hint=self._suggest_target(label.pkg, label.name), **where))
        return t

    def closure(self, roots: list[Label]) -> tuple[dict[Label, Target], list[Label]]:
        """The targets reachable from `roots` and a dependency-first order of them."""
        seen: dict[Label, Target] = {}
        graph: dict[Label, list[Label]] = {}
        stack = list(roots)
        while stack:
            label = stack.pop()
            if label in seen:
                continue
            t = self.get(label)
            if t is None:
                continue
            seen[label] = t
            edges = []
            for attr, dep in t.dep_edges():
                d = self.get(dep, t, attr)
                if d is None:
                    continue
                if not is_visible(d.label, d.attrs.visibility, t.label):
                    self._fail(BuildFileError(f"'{d.label}' is not visible to '{t.label}'", file=t.file,
                                              target=t.label.name, field=attr,
                                              hint=f"add '//{t.label.pkg}:__pkg__' to the visibility of "
                                                   f"'{d.label}' in {d.file}"))
                edges.append(dep)
                stack.append(dep)
            graph[label] = edges
        try:
            order = list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as e:
            cycle = e.args[1]
            first = seen.get(cycle[0])
            err = CycleError("dependency cycle: " + " -> ".join(str(l) for l in reversed(cycle)),
                             file=first.file if first else None, target=first.label.name if first else None)
            self._fail(err)
            order = []
        return seen, [l for l in order if l in seen]
