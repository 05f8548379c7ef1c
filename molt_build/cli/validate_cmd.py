"""`moltb validate`: check every BUILD.toml; exit 0 valid, 1 invalid, 2 cannot validate."""
from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from molt_build.cli import app
from molt_build.errors import BuildFileError, InternalError, MoltbError


def validate_workspace(start: str):
    """(errors, packages, targets); raises MoltbError when there is nothing to validate."""
    from molt_build.loading import Loader
    from molt_build.registry import build_registry
    from molt_build.workspace import load_workspace
    ws = load_workspace(start)
    registry = build_registry(ws.root, ws.config.plugin_dirs)
    loader = Loader(ws, registry, collect=True)
    pkgs = loader.discover("")
    for p in pkgs:
        loader.load_package(p)
    labels = [t.label for p in pkgs for t in loader.packages.get(p, {}).values()]
    loader.closure(labels)
    unique, seen = [], set()
    for e in loader.errors:
        k = str(e)
        if k not in seen:
            seen.add(k)
            unique.append(e)
    return unique, len(pkgs), len(labels)


@app.command()
def validate(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False) -> None:
    """Check every BUILD.toml of the workspace."""
    try:
        errors, npkgs, ntargets = validate_workspace(os.getcwd())
    except BuildFileError as e:  # e.g. the root BUILD.toml itself does not parse
        errors, npkgs, ntargets = [e], 0, 0
    except InternalError:
        raise                    # a bug: crash.py reports it (exit 37)
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
