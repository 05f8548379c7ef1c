"""`moltb query`."""
from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from molt_build.cli import app
from molt_build.cli.common import handles_errors


@app.command()
@handles_errors
def query(
    expr: Annotated[str, typer.Argument(help="e.g. 'deps(//examples:hello)', 'rdeps(//..., //lib:x)'")],
    output: Annotated[str, typer.Option("--output", help="label, json or dot.")] = "label",
) -> None:
    """Query the target graph."""
    from molt_build.build import cwd_package
    from molt_build.loading import Loader
    from molt_build.query import Query
    from molt_build.registry import build_registry
    from molt_build.workspace import load_workspace
    ws = load_workspace(os.getcwd())
    q = Query(Loader(ws, build_registry(ws.root, ws.config.plugin_dirs, ws)), cwd_package(ws, os.getcwd()))
    sys.stdout.write(q.render(q.evaluate(expr), output))
