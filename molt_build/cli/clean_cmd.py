"""`moltb clean [--expunge]`."""
from __future__ import annotations

import os
import shutil
import sys
from typing import Annotated

import typer

from molt_build.cli import app
from molt_build.cli.common import CacheDir, apply_cache_dir, handles_errors


@app.command()
@handles_errors
def clean(
    expunge: Annotated[bool, typer.Option("--expunge", help="Also delete the cache and the event logs.")] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Delete moltb-out/ (and with --expunge the cache and logs)."""
    from molt_build.layout import LOG_DIR, OUT_DIR
    from molt_build.workspace import load_workspace
    apply_cache_dir(cache_dir)
    ws = load_workspace(os.getcwd())
    from molt_build.server_client import shutdown
    shutdown(ws.root)            # its state lives under moltb-out/
    victims = [os.path.join(ws.root, OUT_DIR)]
    if expunge:
        victims += [ws.cache_dir, os.path.join(ws.root, LOG_DIR)]
    for v in victims:
        if os.path.isdir(v):
            if os.path.abspath(v) == os.path.join(ws.root, "cache"):
                for name in os.listdir(v):
                    if name != "README.md":
                        p = os.path.join(v, name)
                        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
            else:
                shutil.rmtree(v)
            sys.stderr.write(f"INFO: removed {v}\n")
