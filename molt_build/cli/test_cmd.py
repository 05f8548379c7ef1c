"""`moltb test`: its options are the flag table's (flags.py)."""
from __future__ import annotations

import typer

from molt_build.cli import app
from molt_build.cli.common import table_command


@app.command()
@table_command("test", "Test targets or patterns: //pkg:t, //pkg/..., //...")
def test(patterns: list[str], **values) -> None:
    """Build what the tests need, run them (passing results are cached) and report."""
    from molt_build.build_request import request
    from molt_build.entry import run_request
    raise typer.Exit(run_request(request("test", patterns, values)))
