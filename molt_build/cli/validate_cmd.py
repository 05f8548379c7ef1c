"""`moltb validate`: check every BUILD.toml; exit 0 valid, 1 invalid, 2 cannot validate."""
from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from molt_build.cli import app
from molt_build.errors import BuildFileError, EnvironmentProblem, InternalError, MoltbError


def validate_workspace(start: str):
    """(errors, packages, targets); raises MoltbError when there is nothing to validate.

    The same checks as `moltb build //...` and more: every package is loaded, the whole
    graph closed (cycles, visibility, missing dependencies), and every target analysed
    in each configuration it can be built in (the default toolchain, and each one its
    `toolchains` names), so an error `build` would report at analysis is reported here
    too. A toolchain this machine lacks is no error: its targets are passed over."""
    from molt_build.loading import Loader
    from molt_build.registry import build_registry
    from molt_build.workspace import load_workspace
    ws = load_workspace(start)
    registry = build_registry(ws.root, ws.config.plugin_dirs, ws)
    loader = Loader(ws, registry, collect=True)
    loader.check_workspace()
    pkgs = loader.discover("")
    for p in pkgs:
        loader.load_package(p)
    labels = [t.label for p in pkgs for t in loader.packages.get(p, {}).values()]
    targets, order = loader.closure(labels)
    _analyze_everything(ws, registry, loader, targets, order)
    unique, seen = [], set()
    for e in loader.errors:
        k = str(e)
        if k not in seen:
            seen.add(k)
            unique.append(e)
    return unique, len(pkgs), len(labels)


def _analyze_everything(ws, registry, loader, targets: dict, order: list) -> None:
    """Analyse each target in its configurations, recording errors in `loader.errors`."""
    from molt_build.analysis import analyze
    default = ws.config.default_toolchain
    if default not in registry.toolchains:
        return                    # reported by check_workspace; nothing to analyse with
    wanted: dict[str, list] = {}     # toolchain -> the targets built with it
    for label in order:
        t = targets[label]
        names = [n for n in t.attrs.toolchains if n in registry.toolchains] if not t.rule.lanes else []
        for name in names or [default]:
            wanted.setdefault(name, []).append(label)
    for name, roots in wanted.items():
        sub_targets, sub_order = _closure_of(roots, targets, order)
        analyze(ws, registry, sub_targets, sub_order, roots, set(), [name], ws.config.default_profile,
                packages=loader.tree, errors=loader.errors)


def _closure_of(roots: list, targets: dict, order: list) -> tuple[dict, list]:
    """`roots` and what they depend on, in `order`'s dependency-first order."""
    seen, stack = set(), list(roots)
    while stack:
        label = stack.pop()
        if label in seen or label not in targets:
            continue
        seen.add(label)
        stack.extend(d for _, d in targets[label].dep_edges())
    return {l: targets[l] for l in seen}, [l for l in order if l in seen]


@app.command()
def validate(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False) -> None:
    """Check every BUILD.toml of the workspace."""
    try:
        errors, npkgs, ntargets = validate_workspace(os.getcwd())
    except BuildFileError as e:  # e.g. the root BUILD.toml itself does not parse
        errors, npkgs, ntargets = [e], 0, 0
    except (InternalError, EnvironmentProblem):
        raise                    # a bug (37) or the machine (36): crash.py reports it
    except MoltbError as e:
        if as_json:
            sys.stdout.write(json.dumps({"valid": False, "error": e.as_dict()}) + "\n")
        else:
            sys.stderr.write(f"ERROR: cannot validate: {e}\n")
        raise typer.Exit(2)
    if as_json:
        sys.stdout.write(json.dumps({"valid": not errors, "packages": npkgs, "targets": ntargets,
                                     "errors": [e.as_dict() for e in errors]}, indent=1) + "\n")
    else:
        for e in errors:
            sys.stderr.write(f"ERROR: {e}\n")
        if errors:
            sys.stderr.write(f"{len(errors)} error(s) in {npkgs} package(s)\n")
        else:
            sys.stderr.write(f"OK: {npkgs} package(s), {ntargets} target(s)\n")
    raise typer.Exit(1 if errors else 0)
