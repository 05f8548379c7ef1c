"""`moltb shutdown`: stop the workspace's server."""
from __future__ import annotations

import os
import sys

from molt_build.cli import app
from molt_build.cli.common import handles_errors


@app.command()
@handles_errors
def shutdown() -> None:
    """Stop this workspace's server (the next build or test starts a new one)."""
    from molt_build.workspace import load_workspace
    from molt_build.server_client import shutdown as stop
    ws = load_workspace(os.getcwd())
    pid = stop(ws.root)
    sys.stderr.write(f"INFO: server {pid} stopped\n" if pid else "INFO: no server was running\n")
