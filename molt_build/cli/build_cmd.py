"""`moltb build`: its options are the flag table's (flags.py)."""
from __future__ import annotations

import typer

from molt_build.cli import app
from molt_build.cli.common import table_command


@app.command(context_settings={"allow_interspersed_args": True})
@table_command("build", "Targets or patterns: //pkg:t, //pkg/..., //...")
def build(patterns: list[str], **values) -> None:
    """Build targets."""
    from molt_build.build import run_build
    from molt_build.build_request import request
    raise typer.Exit(run_build(request("build", patterns, values)).exit_code)
