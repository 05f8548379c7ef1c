"""`moltb version` and `moltb toolchains`."""
from __future__ import annotations

import os
import platform
import sys
from typing import Annotated

import typer

from molt_build import __version__
from molt_build.cli import app
from molt_build.cli.common import handles_errors


@app.command()
def version() -> None:
    """Print moltb's version."""
    sys.stdout.write(f"moltb {__version__} (python {platform.python_version()})\n")


@app.command()
@handles_errors
def toolchains(profile: Annotated[str, typer.Option("--profile")] = "dev") -> None:
    """List toolchains: available or why not, version, fingerprint."""
    from molt_build.analysis import AnalysisResult, HostAnalysis, ToolchainResolver
    from molt_build.api import LaneInfo
    from molt_build.build import lane_targets
    from molt_build.errors import ToolchainUnavailable
    from molt_build.loading import Loader
    from molt_build.registry import build_registry
    from molt_build.workspace import load_workspace
    from molt_build.workspace_lanes import WorkspaceLane
    ws = load_workspace(os.getcwd())
    reg = build_registry(ws.root, ws.config.plugin_dirs, ws)
    resolver = ToolchainResolver(ws, reg, profile)
    result = AnalysisResult()
    targets, order = lane_targets(Loader(ws, reg), reg)
    resolver.host = HostAnalysis(targets, order, resolver, result, profile, None)
    for name in sorted(reg.toolchains):
        tc = reg.toolchains[name]
        try:
            info = resolver.get(name)
        except ToolchainUnavailable as e:
            why = e.message.removeprefix(f"toolchain '{name}' is not available: ")
            sys.stdout.write(f"{name}: unavailable: {why}" + (f" ({e.hint})" if e.hint else "") + "\n")
            continue
        sys.stdout.write(f"{name}: available\n  version: {info.version}\n  fingerprint: {info.fingerprint}\n")
        if isinstance(tc, WorkspaceLane):      # where the lane's identity comes from
            lane = result.configured[(resolver.host.config, tc.label)].providers[LaneInfo]
            files = [f.path for f in lane.identity_files]
            shown = ", ".join(files[:5]) + (f", ... ({len(files)} files)" if len(files) > 5 else "")
            sys.stdout.write(f"  declared by: {tc.label} in {tc.file}\n  compiler: {lane.compiler}\n"
                             f"  keyed files: {shown or 'none'}\n")
            if info.pass_env or info.private_pass_env:
                sys.stdout.write(f"  from the environment: keyed {', '.join(info.pass_env) or '-'}; "
                                 f"private state {', '.join(info.private_pass_env) or '-'}\n")


@app.command()
@handles_errors
def info() -> None:
    """Where things are and what runs actions here: workspace, cache, sandbox."""
    from molt_build.build_request import default_jobs
    from molt_build.namespace_sandbox import resolve_mode
    from molt_build.namespace_sandbox import version as bwrap_version
    from molt_build.sandbox import sandbox_base
    from molt_build.workspace import load_workspace
    ws = load_workspace(os.getcwd())
    requested = os.environ.get("MOLTB_SANDBOX") or "auto"
    mode, why = resolve_mode(requested)
    lines = [f"moltb: {__version__} (python {platform.python_version()})",
             f"workspace: {ws.root}",
             f"cache: {ws.cache_dir}",
             f"sandbox: {mode}" + (f" ({why})" if why else "") + (f" [requested: {requested}]"
                                                                   if requested != "auto" else ""),
             f"bubblewrap: {bwrap_version() or 'not installed (apt-get install bubblewrap)'}",
             f"exec roots: {sandbox_base(ws.cache_dir)}",
             f"jobs: {default_jobs()}"]
    sys.stdout.write("\n".join(lines) + "\n")
