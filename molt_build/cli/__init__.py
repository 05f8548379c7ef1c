"""The typer CLI: one module per command, each calling the library and leaving
through one error path (`abort`)."""
from __future__ import annotations

import typer

app = typer.Typer(name="moltb", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="moltb: content-addressed, parallel builds with a shared local cache.")

from molt_build.cli import (build_cmd, cache_cmd, clean_cmd, explain_cmd, info_cmd,  # noqa: E402,F401
                            query_cmd, run_cmd, test_cmd, validate_cmd)


def run() -> None:
    app()
