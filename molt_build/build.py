"""One build invocation, end to end: load → analyze → schedule → report.

The event log always ends with `build_finished`, whatever happened before it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from molt_build.errors import EXIT_BUILD_FAILED, EXIT_OK, MoltbError, UsageError
from molt_build.events import EventLog
from molt_build.workspace import STATE_DIR, Workspace, load_workspace

EMPTY_TESTS = {"passed": 0, "failed": 0, "cached": 0, "flaky": 0, "xfail": 0, "skipped": 0}


@dataclass
class BuildRequest:
    patterns: list[str]
    jobs: int | None = None
    keep_going: bool = False
    toolchains: list[str] = field(default_factory=list)
    profile: str | None = None
    use_cache: bool = True
    cache_dir: str | None = None
    quiet: bool = False
    verbose: bool = False
    color: str = "auto"
    explain: bool = False
    timeout: float | None = None
    cwd: str = ""
    sig_options: dict[str, list[str]] = field(default_factory=dict)
    profile_out: str | None = None


@dataclass
class BuildOutcome:
    exit_code: int
    stats: object = None
    analysis: object = None
    workspace: Workspace | None = None
    event_log: str = ""


def default_jobs() -> int:
    env = os.environ.get("MOLTB_JOBS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise UsageError(f"MOLTB_JOBS must be a number, got {env!r}") from None
    return os.cpu_count() or 2


def cwd_package(ws: Workspace, cwd: str) -> str:
    rel = os.path.relpath(cwd, ws.root)
    if rel == "." or rel.startswith(".."):
        return ""
    return rel.replace(os.sep, "/")


def run_build(req: BuildRequest, err=None) -> BuildOutcome:
    """Build the request; user errors are printed and turned into their exit code."""
    err = err or sys.stderr
    cwd = req.cwd or os.getcwd()
    if req.cache_dir:
        os.environ["MOLTB_CACHE_DIR"] = os.path.abspath(req.cache_dir)
    try:
        ws = load_workspace(cwd)
    except MoltbError as e:
        err.write(f"ERROR: {e}\n")
        return BuildOutcome(e.exit_code)
    try:
        events = EventLog(ws.root)
    except OSError as e:
        err.write(f"ERROR: cannot write the event log under {ws.root}: {e.strerror}\n")
        return BuildOutcome(36, workspace=ws)
    events.emit("build_started", command="build", patterns=req.patterns, cwd=cwd,
                toolchains=req.toolchains, profile=req.profile)
    outcome = BuildOutcome(EXIT_OK, workspace=ws, event_log=events.path)
    if req.verbose:
        err.write(f"INFO: event log: {events.path}\n")
    try:
        outcome = _build(ws, req, events, cwd, err, outcome)
    except MoltbError as e:
        err.write(f"ERROR: {e}\n")
        outcome.exit_code = e.exit_code
    except OSError as e:
        import errno
        if e.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
            err.write(f"ERROR: local environment problem: {e}\n")
            outcome.exit_code = 36
        else:
            raise
    finally:
        s = outcome.stats
        actions = {"total": s.total, "executed": s.executed, "cached": s.cached, "failed": s.failed} \
            if s is not None else {"total": 0, "executed": 0, "cached": 0, "failed": 0}
        events.emit("build_finished", exit_code=outcome.exit_code, actions=actions, tests=dict(EMPTY_TESTS))
        events.close()
    return outcome


def _build(ws: Workspace, req: BuildRequest, events: EventLog, cwd: str, err, outcome: BuildOutcome):
    from molt_build.action_cache import ActionCache
    from molt_build.actiongraph import ActionGraph
    from molt_build.analysis import analyze
    from molt_build.cas import CAS
    from molt_build.digests import DigestCache
    from molt_build.executor import LocalExecutor
    from molt_build.loading import Loader
    from molt_build.progress import Progress
    from molt_build.registry import build_registry
    from molt_build.sandbox import clean_stale
    from molt_build.scheduler import Scheduler

    registry = build_registry(ws.root, ws.config.plugin_dirs)
    loader = Loader(ws, registry)
    cwd_pkg = cwd_package(ws, cwd)
    labels = loader.expand(req.patterns, cwd_pkg)
    explicit = {l for p, l in zip(req.patterns, labels) if ":" in p and not p.endswith((":all", ":*", "..."))}
    targets, order = loader.closure(labels)
    toolchain_names = list(dict.fromkeys(req.toolchains)) or [ws.config.default_toolchain]
    profile = req.profile or ws.config.default_profile
    if profile not in ("dev", "release"):
        raise UsageError(f"unknown profile '{profile}' (use dev or release)")
    result = analyze(ws, registry, targets, order, labels, explicit, toolchain_names, profile)
    outcome.analysis = result
    for ct in result.top_level:
        events.emit("target_configured", label=str(ct.label), config=ct.config)

    cache_dir = ws.cache_dir
    try:
        cache = ActionCache(cache_dir)
        cas = CAS(cache_dir)
    except OSError as e:
        from molt_build.errors import EnvironmentProblem
        raise EnvironmentProblem(f"cannot use the cache directory {cache_dir}: {e.strerror}") from None
    graph = ActionGraph(result.actions, cache.last_durations() if len(result.actions) > 1 else None)
    sandbox_base = os.path.join(cache_dir, "sandbox")
    clean_stale(sandbox_base)
    digests = DigestCache(os.path.join(ws.root, STATE_DIR, "digests.marshal"))
    progress = Progress(len(graph.nodes), quiet=req.quiet, color=req.color, stream=err)
    explain = None
    if req.explain:
        from molt_build.explain import Explainer
        explain = Explainer(cache, progress).on_miss
    sched = Scheduler(ws.root, graph, result.toolchains, cache, cas, digests,
                      LocalExecutor(sandbox_base, cas), events, progress, req.jobs or default_jobs(),
                      keep_going=req.keep_going, use_cache=req.use_cache, timeout=req.timeout,
                      explain=explain)
    try:
        stats = sched.run()
    finally:
        progress.finish()
        digests.save()
        cache.close()
    outcome.stats = stats
    ok = stats.failed == 0
    outcome.exit_code = EXIT_OK if ok else EXIT_BUILD_FAILED
    if not req.quiet:
        if ok and len(result.top_level) <= 10:
            for ct in result.top_level:
                from molt_build.api import DefaultInfo
                files = ct.providers[DefaultInfo].files
                shown = " ".join(f.path for f in files if not f.is_source)
                err.write(f"Target {ct.label} ({ct.config}) up-to-date{': ' + shown if shown else ''}\n")
        for config, label in result.skipped:
            err.write(f"INFO: skipped {label} ({config}): not compatible with this toolchain\n")
        err.write(f"INFO: {stats.total} actions: {stats.executed} executed, {stats.cached} cached, "
                  f"{stats.failed} failed\n")
        if stats.corrupt:
            err.write(f"WARNING: {stats.corrupt} corrupt cache entr{'y' if stats.corrupt == 1 else 'ies'} "
                      f"found and rebuilt\n")
        err.write("INFO: Build completed successfully\n" if ok else
                  f"FAILED: Build did NOT complete successfully ({stats.failed} failed, "
                  f"{stats.skipped} not run)\n")
    if ok and req.use_cache:
        _snapshot(ws, req, loader, result, graph, sched, cwd_pkg)
    return outcome


def _snapshot(ws, req, loader, result, graph, sched, cwd_pkg) -> None:
    """Record what this build depended on for the no-op fast path."""
    from molt_build import noop
    sources = list(loader.build_files)
    outputs = []
    lines = []
    import json
    for n in graph.nodes:
        a = n.action
        sources.extend(f.path for f in a.inputs if f.is_source)
        outputs.extend(o.path for o in a.outputs)
    for rec in sched.finished_events:
        lines.append(json.dumps(rec, separators=(",", ":"))[1:])
    abs_files = [t.tool_files for t in result.toolchains.values()]
    abs_files = [p for group in abs_files for p in group]
    abs_files += [m.__file__ for name, m in list(sys.modules.items())
                  if (name.startswith("molt_build") or name.startswith("moltb_plugin_"))
                  and getattr(m, "__file__", None)]
    targets = [(str(ct.label), ct.config) for ct in result.top_level]
    sig = noop.request_signature(req.patterns, req.sig_options, cwd_pkg)
    try:
        noop.write_snapshot(ws.root, sig, sources, outputs, loader.dir_mtimes, abs_files, targets, lines)
    except OSError:
        pass
