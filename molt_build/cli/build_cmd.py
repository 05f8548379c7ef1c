"""`moltb build`: its options are the flag table's (flags.py)."""
from __future__ import annotations

import typer

from molt_build.cli import app
from molt_build.cli.common import table_command


@app.command(context_settings={"allow_interspersed_args": True})
@table_command("build", "Targets or patterns: //pkg:t, //pkg/..., //...")
def build(patterns: list[str], **values) -> None:
    """Build targets."""
    from molt_build.build_request import request
    from molt_build.entry import run_request
    raise typer.Exit(run_request(request("build", patterns, values)))
