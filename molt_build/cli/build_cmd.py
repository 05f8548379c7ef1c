"""`moltb build`."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from molt_build.cli import app
from molt_build.cli.common import (CacheDir, Color, Executor, LocalRamMb, Quiet, Remote, RemoteInstance, RemoteTimeout,
                                   RemoteUpload, Sandbox, Verbose, remote_options)


@app.command(context_settings={"allow_interspersed_args": True})
def build(
    patterns: Annotated[list[str], typer.Argument(help="Targets or patterns: //pkg:t, //pkg/..., //...")],
    jobs: Annotated[Optional[int], typer.Option("-j", "--jobs", help="Parallel actions (default: cores, env MOLTB_JOBS).")] = None,
    keep_going: Annotated[bool, typer.Option("-k", "--keep-going", help="Build as much as possible after a failure.")] = False,
    toolchain: Annotated[Optional[list[str]], typer.Option("--toolchain", help="Toolchain (repeatable).")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help="dev or release.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every action; do not read the cache.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Say why each executed action was not a cache hit.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--action-timeout", help="Seconds before an action is killed.")] = None,
    cache_dir: CacheDir = None,
    remote: Remote = None,
    executor: Executor = None,
    remote_instance: RemoteInstance = "",
    remote_upload: RemoteUpload = "yes",
    remote_timeout: RemoteTimeout = 10.0,
    sandbox: Sandbox = None,
    local_ram_mb: LocalRamMb = None,
    profile_out: Annotated[Optional[str], typer.Option("--profile-out", help="Write a Chrome trace JSON here.")] = None,
    color: Color = "auto",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Build targets."""
    from molt_build.build import BuildRequest, run_build
    if jobs is not None and jobs < 1:
        raise typer.BadParameter("must be at least 1", param_hint="-j")
    sig: dict[str, list[str]] = {}
    if toolchain:
        sig["--toolchain"] = list(toolchain)
    for name, value in (("--profile", profile), ("--cache-dir", cache_dir), ("--remote", remote)):
        if value is not None:
            sig[name] = [value]
    if no_cache:
        sig["--no-cache"] = ["1"]
    req = BuildRequest(patterns=patterns, jobs=jobs, keep_going=keep_going, toolchains=toolchain or [],
                       profile=profile, use_cache=not no_cache, cache_dir=cache_dir, quiet=quiet,
                       verbose=verbose, color=color, explain=explain, timeout=timeout, sig_options=sig,
                       profile_out=profile_out, sandbox=sandbox,
                       local_ram_mb=local_ram_mb, remote=remote, remote_instance=remote_instance,
                       remote_upload=remote_options(remote_upload), remote_timeout=remote_timeout,
                       executor=executor)
    outcome = run_build(req)
    raise typer.Exit(outcome.exit_code)
