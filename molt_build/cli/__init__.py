"""The typer CLI: one module per command, each calling the library and leaving
through one error path (`abort`)."""
from __future__ import annotations

import typer

app = typer.Typer(name="moltb", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="moltb: content-addressed, parallel builds with a shared local cache.")

from molt_build.cli import (build_cmd, cache_cmd, clean_cmd, explain_cmd, info_cmd,  # noqa: E402,F401
                            query_cmd, run_cmd, server_cmd, test_cmd, validate_cmd)


def run() -> None:
    """Run the CLI. What escapes a command is reported by crash.handle: one line and
    exit 36 for the machine, 37 for a bug (traceback in the event log)."""
    import sys
    try:
        app()
    except Exception as e:
        from molt_build import crash
        sys.exit(crash.handle(e, command=" ".join(sys.argv[1:2])))
