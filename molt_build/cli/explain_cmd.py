"""`moltb explain LABEL`: why each action of the target would (or would not) run."""
from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from molt_build.cli import app
from molt_build.cli.common import CacheDir, apply_cache_dir, handles_errors


@app.command()
@handles_errors
def explain(
    label: Annotated[str, typer.Argument(help="Target (or pattern) to explain.")],
    toolchain: Annotated[Optional[list[str]], typer.Option("--toolchain", help="Toolchain (repeatable).")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile")] = None,
    all_actions: Annotated[bool, typer.Option("--all", help="Also list up-to-date actions of dependencies.")] = False,
    test: Annotated[bool, typer.Option("--test", help="Include test runs, as `moltb test` would run them.")] = False,
    rlimit_mb: Annotated[int, typer.Option("--rlimit-mb", help="As `moltb test --rlimit-mb` (with --test).")] = 10240,
    cache_dir: CacheDir = None,
) -> None:
    """Say, per action, whether it would re-run and what changed: input, argv, env, toolchain."""
    from molt_build.action_cache import ActionCache
    from molt_build.actiongraph import ActionGraph
    from molt_build.build import BuildRequest, _analyze, key_policy
    from molt_build.digests import DigestCache
    from molt_build.explain import dry_run
    from molt_build.layout import STATE_DIR
    from molt_build.workspace import load_workspace
    apply_cache_dir(cache_dir)
    cwd = os.getcwd()
    ws = load_workspace(cwd)
    plan = _analyze(ws, BuildRequest(patterns=[label], toolchains=toolchain or [], profile=profile), cwd)
    # The actions `moltb build` would run (test runs only with --test, as `moltb test`).
    graph = ActionGraph([a for a in plan.actions if test or not a.test])
    cache = ActionCache(plan.cache_dir)
    try:
        verdicts = dry_run(plan.root, graph, plan.toolchains, cache,
                           DigestCache(os.path.join(plan.root, STATE_DIR, "digests.marshal")),
                           key_policy(rlimit_mb if test else 0))
    finally:
        cache.close()
    top = {t[0] for t in plan.top_level}
    runs = 0
    for node, verdict, reasons in verdicts:
        a = node.action
        own = str(a.owner) in top
        if verdict == "hit" and not (own or all_actions):
            continue
        what = {"hit": "up to date (cache hit)", "run": "would run", "maybe": "may run"}[verdict]
        runs += verdict != "hit"
        sys.stdout.write(f"{a.owner} {a.mnemonic} {a.outputs[0].path}: {what}\n")
        for r in reasons:
            sys.stdout.write(f"  - {r}\n")
    sys.stdout.write(f"{runs} of {len(verdicts)} actions would run\n")
