"""Options shared by commands, and the single error exit."""
from __future__ import annotations

import functools
import os
import sys
from typing import Annotated, Optional

import typer

from molt_build.errors import MoltbError, environment_problem

CacheDir = Annotated[Optional[str], typer.Option("--cache-dir", help="Cache directory (env MOLTB_CACHE_DIR).")]
Remote = Annotated[Optional[str], typer.Option(
    "--remote", help="REAPI remote cache: grpc://host:port or grpcs://host:port (env MOLTB_REMOTE, "
                     "[workspace] remote).")]
Executor = Annotated[Optional[str], typer.Option(
    "--executor", help="Where actions run: dask://host:port (a Dask cluster; env MOLTB_EXECUTOR, "
                       "[workspace] executor). Default: here.")]
RemoteInstance = Annotated[str, typer.Option("--remote-instance", help="REAPI instance name.")]
RemoteUpload = Annotated[str, typer.Option("--remote-upload", help="yes, or no: read the remote cache only.")]
RemoteTimeout = Annotated[float, typer.Option("--remote-timeout", min=0.001, help="Seconds per remote call.")]


def remote_options(remote_upload: str) -> bool:
    if remote_upload not in ("yes", "no"):
        raise typer.BadParameter("must be yes or no", param_hint="--remote-upload")
    return remote_upload == "yes"
Color = Annotated[str, typer.Option("--color", help="auto, yes or no.")]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Only errors and the summary.")]
Sandbox = Annotated[Optional[str], typer.Option(
    "--sandbox", help="auto (namespace where bubblewrap works, else light), namespace, light or none "
                      "(env MOLTB_SANDBOX).")]
LocalRamMb = Annotated[Optional[int], typer.Option(
    "--local-ram-mb", min=1, help="RAM budget (MiB) of running actions; each starts only when its estimate fits "
                                  "(default: 67% of MemAvailable).")]
Verbose = Annotated[bool, typer.Option("-v", "--verbose", help="More detail (event log path, ...).")]


def abort(err: MoltbError) -> None:
    from molt_build import crash
    raise typer.Exit(crash.handle(err, sys.stderr, command=" ".join(sys.argv[1:2])))


def handles_errors(fn):
    """Turn user errors into their message and exit code, and an OS error saying the
    machine cannot take what moltb writes into exit 36; never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MoltbError as e:
            abort(e)
        except OSError as e:
            env = environment_problem(e)
            if env is None:
                raise
            abort(env)
    return wrapper


def apply_cache_dir(cache_dir: str | None) -> None:
    if cache_dir:
        os.environ["MOLTB_CACHE_DIR"] = os.path.abspath(cache_dir)
