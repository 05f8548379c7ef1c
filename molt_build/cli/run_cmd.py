"""`moltb run LABEL [-- ARGS]`: build, then run the executable natively or under the
toolchain's runtime (wasmtime for wasm and cranelift); its exit code passes through."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Annotated, Optional

import typer

from molt_build.cli import app
from molt_build.cli.common import CacheDir, Color, Quiet, Verbose, handles_errors
from molt_build.errors import UsageError


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@handles_errors
def run(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="The executable target.")],
    toolchain: Annotated[Optional[str], typer.Option("--toolchain", help="Toolchain to build and run with.")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile")] = None,
    jobs: Annotated[Optional[int], typer.Option("-j", "--jobs")] = None,
    cache_dir: CacheDir = None,
    color: Color = "auto",
    quiet: Quiet = True,
    verbose: Verbose = False,
) -> None:
    """Build LABEL, then run it with ARGS (after `--`)."""
    from molt_build.build import BuildRequest, run_build
    args = list(ctx.args)
    if args and args[0] == "--":
        args = args[1:]
    sig: dict[str, list[str]] = {}
    if toolchain:
        sig["--toolchain"] = [toolchain]
    if profile:
        sig["--profile"] = [profile]
    if cache_dir:
        sig["--cache-dir"] = [cache_dir]
    req = BuildRequest(patterns=[label], toolchains=[toolchain] if toolchain else [], profile=profile,
                       jobs=jobs, cache_dir=cache_dir, quiet=quiet and not verbose, verbose=verbose,
                       color=color, sig_options=sig)
    outcome = run_build(req)
    if outcome.exit_code != 0:
        raise typer.Exit(outcome.exit_code)
    tops = outcome.plan.top_level
    if len(tops) != 1:
        raise UsageError(f"'{label}' names {len(tops)} targets; `moltb run` needs exactly one")
    _label, config, _paths, exe = tops[0]
    if not exe:
        raise UsageError(f"'{label}' is not executable (its rule produces no program)")
    tc = outcome.plan.toolchains[config.rsplit("-", 1)[0]]
    env = dict(os.environ)
    if tc.tool_dirs:
        env["PATH"] = os.pathsep.join((*tc.tool_dirs, env.get("PATH", "")))
    argv = [*tc.run_prefix, os.path.join(outcome.root, exe), *args]
    if argv[0] and os.sep not in argv[0]:
        argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]
    sys.stdout.flush()
    code = subprocess.run(argv, env=env).returncode
    raise typer.Exit(code if code >= 0 else 128 - code)

