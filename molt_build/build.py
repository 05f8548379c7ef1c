"""One build invocation, end to end: load → analyze → schedule → report.

When the BUILD files, plugins and tools have not moved since the last successful
build of the same request, loading and analysis are skipped: the action graph comes
from the snapshot, and actions whose files did not move are up to date without
hashing (see noop.py and analysis_cache.py). The event log always ends with
`build_finished`, whatever happened before it.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

from molt_build import crash, noop, server_state
from molt_build.errors import (EXIT_BUILD_FAILED, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_OK, EnvironmentProblem,
                               MoltbError, UsageError)
from molt_build.build_request import EMPTY_TESTS, BuildRequest, default_jobs
from molt_build.events import EventLog
from molt_build.layout import STATE_DIR

@dataclass
class BuildOutcome:
    exit_code: int
    stats: object = None
    analysis: object = None
    root: str = ""
    event_log: str = ""
    plan: object = None          # the _Plan that ran: top-level targets, toolchains
    tests: dict = field(default_factory=lambda: dict(EMPTY_TESTS))


def cwd_package(ws, cwd: str) -> str:
    return noop.cwd_package(ws.root, cwd)


@dataclass
class _Plan:
    """What to execute: from a fresh analysis or from the snapshot."""

    root: str
    cache_dir: str
    actions: list
    toolchains: dict
    top_level: list            # (label, config, output paths, executable path or "")
    skipped: list              # (config, label)
    analysis: object           # AnalysisResult or CachedAnalysis (for the next snapshot)
    prior: dict | None = None
    dirty: set | None = None
    loader: object = None
    plugin_files: list = field(default_factory=list)   # plugin modules and entry-point metadata
    shared: dict | None = None     # the shared analysis entry this plan came from (shared_analysis.py)
    lines: list | None = None      # the snapshot's action_finished line of each action (delta.py)
    target_lines: list | None = None   # the snapshot's target_configured lines
    delta: object = None           # what of the plan runs (delta.Delta), when not all of it


def run_build(req: BuildRequest, err=None) -> BuildOutcome:
    """Build the request; user errors are printed and turned into their exit code."""
    err = err or sys.stderr
    cwd = req.cwd or os.getcwd()
    if req.cache_dir:
        os.environ["MOLTB_CACHE_DIR"] = os.path.abspath(req.cache_dir)
    cached = _cached_plan(req, cwd) if req.use_cache and not req.explain else None
    ws = None
    if cached is None:
        from molt_build.workspace import load_workspace
        try:
            ws = load_workspace(cwd)
        except MoltbError as e:
            err.write(f"ERROR: {e}\n")
            return BuildOutcome(e.exit_code)
    root = cached.root if cached else ws.root
    try:
        events = EventLog(root)
    except OSError as e:
        err.write(f"ERROR: local environment problem: cannot write the event log under {root}: {e.strerror}\n")
        return BuildOutcome(EXIT_ENVIRONMENT, root=root)
    events.emit("build_started", command="build", patterns=req.patterns, cwd=cwd,
                toolchains=req.toolchains, profile=req.profile, cached_analysis=cached is not None,
                **server_state.event_fields())
    outcome = BuildOutcome(EXIT_OK, root=root, event_log=events.path)
    if req.verbose:
        err.write(f"INFO: event log: {events.path}\n")
    try:
        plan = cached or _analyze(ws, req, cwd)
        if req.command == "build":   # test targets are built, their runs are `moltb test`'s
            from molt_build.delta import build_view
            view = getattr(plan.analysis, "build_view", None)
            if view is not None and view[0] is plan.actions:
                plan.actions, plan.top_level = view[1], view[2]
            else:
                plan.actions, plan.top_level = build_view(plan.actions, plan.top_level)
        outcome.analysis = plan.analysis
        outcome.plan = plan
        if plan.target_lines is not None:     # from the snapshot, already encoded
            events.write_raw_events("target_configured", plan.target_lines)
        else:
            for label, config, *_ in plan.top_level:
                events.emit("target_configured", label=label, config=config)
        _execute(plan, req, events, cwd, err, outcome)
    except KeyboardInterrupt:
        err.write("\nERROR: interrupted\n")
        outcome.exit_code = EXIT_INTERRUPTED
    except Exception as e:      # user errors, the machine (36), or a bug (37): see crash.py
        outcome.exit_code = crash.handle(e, err, events, cwd, req.command)
    finally:
        # Always last, with the exit code the process ends with.
        s = outcome.stats
        actions = {"total": s.total, "executed": s.executed, "cached": s.cached, "failed": s.failed} \
            if s is not None else {"total": 0, "executed": 0, "cached": 0, "failed": 0}
        if s is not None and s.remote_cached:
            actions["remote_cached"] = s.remote_cached
        events.emit("build_finished", exit_code=outcome.exit_code, actions=actions, tests=outcome.tests)
        events.close()
    return outcome


def request_sig(req: BuildRequest, root: str, cwd: str) -> str:
    """The name of this request's snapshot (noop.py)."""
    return _signature(req, root, cwd)


def _signature(req: BuildRequest, root: str, cwd: str) -> str:
    return noop.request_signature(req.patterns, req.sig_options, noop.cwd_package(root, cwd))


def _cached_plan(req: BuildRequest, cwd: str) -> _Plan | None:
    """The action graph without loading or analysis: from this checkout's snapshot when
    nothing it depends on moved, else from an analysis shared through the cache."""
    from molt_build import analysis_cache
    root = noop.find_root(cwd)
    if root is not None:
        sig = _signature(req, root, cwd)
        snap, hint, _ = noop.load_checked(root, sig)
        if snap is not None and noop.analysis_valid(snap, root, hint):
            cached = analysis_cache.load(noop.snapshot_file(root, "graph", sig))
            if cached is not None:
                return _Plan(root, snap["cache_dir"], cached.actions, cached.toolchains, cached.top_level,
                             cached.skipped, cached, prior=cached.prior,
                             dirty=noop.changed_files(snap, root, hint=hint), lines=snap["lines"],
                             target_lines=snap["targets"])
    from molt_build import shared_analysis
    found = shared_analysis.workspace_of(cwd)
    if found is None:
        return None
    root, cache_dir, skip = found
    entry = shared_analysis.lookup(root, cache_dir, skip, _signature(req, root, cwd))
    cached = analysis_cache.decode(entry["graph"]) if entry else None
    if cached is None:
        return None
    return _Plan(root, cache_dir, cached.actions, cached.toolchains, cached.top_level, cached.skipped, cached,
                 shared=entry)


def lane_targets(loader, registry):
    """The targets the workspace's lanes need (their toolchain targets and compilers),
    loaded so analysis can build a lane's compiler when something uses the lane."""
    from molt_build.workspace_lanes import WorkspaceLane
    labels = [t.label for t in registry.toolchains.values() if isinstance(t, WorkspaceLane)]
    return loader.closure(labels) if labels else ({}, [])


def _analyze(ws, req: BuildRequest, cwd: str) -> _Plan:
    from molt_build.analysis import analyze
    from molt_build.api import DefaultInfo
    from molt_build.labels import Label, parse_pattern
    from molt_build.loading import Loader
    from molt_build.registry import build_registry

    registry = build_registry(ws.root, ws.config.plugin_dirs, ws)
    loader = Loader(ws, registry)
    loader.check_workspace()
    cwd_pkg = noop.cwd_package(ws.root, cwd)
    labels = loader.expand(req.patterns, cwd_pkg)
    explicit = set()          # named one by one (not through a wildcard): must be buildable
    for text in req.patterns:
        if not text.startswith("-"):
            pat = parse_pattern(text, cwd_pkg)
            if pat.name is not None and not pat.recursive:
                explicit.add(Label(pat.pkg, pat.name))
    targets, order = loader.closure(labels)
    toolchain_names = list(dict.fromkeys(req.toolchains)) or [ws.config.default_toolchain]
    profile = req.profile or ws.config.default_profile
    if profile not in ("dev", "release"):
        raise UsageError(f"unknown profile '{profile}' (use dev or release)")
    result = analyze(ws, registry, targets, order, labels, explicit, toolchain_names, profile,
                     options={"runs_per_test": req.runs_per_test}, packages=loader.tree,
                     lanes=lane_targets(loader, registry))
    top = []
    for ct in result.top_level:
        info = ct.providers[DefaultInfo]
        top.append((str(ct.label), ct.config, [f.path for f in info.files if not f.is_source],
                    info.executable.path if info.executable else ""))
    return _Plan(ws.root, ws.cache_dir, result.actions, result.toolchains, top,
                 [(c, str(l)) for c, l in result.skipped], result, loader=loader,
                 plugin_files=list(registry.files))


def _execute(plan: _Plan, req: BuildRequest, events: EventLog, cwd: str, err, outcome: BuildOutcome) -> None:
    from molt_build.action_cache import ActionCache
    from molt_build.actiongraph import ActionGraph
    from molt_build.cas import CAS
    from molt_build.digests import DigestCache
    from molt_build.executor import LocalExecutor
    from molt_build.locks import KeyLocks
    from molt_build.namespace_sandbox import resolve_mode
    from molt_build.resources import ResourcePool, default_ram_mb
    from molt_build.progress import Progress
    from molt_build.sandbox import clean_stale, legacy_base, sandbox_base
    from molt_build.remote_setup import open_remote, open_runner
    from molt_build.scheduler import Scheduler, SchedulerConfig

    trace = None
    if req.profile_out:
        from molt_build.trace import Trace
        trace = Trace()
        trace.phase("execution")
    try:
        def cache_warning(text: str) -> None:
            err.write(f"WARNING: {text}\n")
            events.emit("cache_recovered", message=text)
        cache = ActionCache(plan.cache_dir, on_warning=cache_warning)
        cas = CAS(plan.cache_dir)
    except OSError as e:
        raise EnvironmentProblem(f"cannot use the cache directory {plan.cache_dir}: {e.strerror}") from None
    weights = cache.last_durations() if plan.prior is None and len(plan.actions) > 1 else None
    if req.command == "build" and req.use_cache and not req.explain:
        from molt_build.delta import narrow
        plan.delta = narrow(plan.actions, plan.prior, plan.dirty, plan.lines,
                            getattr(plan.analysis, "build_index", None))
    delta = plan.delta
    graph = ActionGraph(plan.actions if delta is None else [plan.actions[i] for i in delta.run], weights,
                        prebuilt=delta.generated if delta is not None else ())
    sandbox_dir = sandbox_base(plan.cache_dir)
    clean_stale(sandbox_dir)
    clean_stale(legacy_base())      # exec roots an older moltb left on tmpfs
    digests = DigestCache(os.path.join(plan.root, STATE_DIR, "digests.marshal"))
    progress = Progress(len(graph.nodes), quiet=req.quiet, color=req.color, stream=err)
    explain = None
    if req.explain:
        from molt_build.explain import Explainer
        explain = Explainer(cache, progress).on_miss
    requested = req.sandbox or os.environ.get("MOLTB_SANDBOX") or "auto"
    if requested != "auto":
        resolve_mode(requested)     # a sandbox asked for by name that cannot run: exit now

    def chosen(mode: str, why: str) -> None:     # auto is settled when the first action runs
        events.emit("sandbox", mode=mode, requested=requested, reason=why or None)
        if why and req.verbose:
            progress.print(f"INFO: sandbox: {mode} ({why})")
    executor = LocalExecutor(sandbox_dir, cas, plan.root, requested, on_mode=chosen)
    locks = KeyLocks(plan.cache_dir) if req.use_cache else None
    policy = key_policy(req.rlimit_mb if req.command == "test" else 0)
    remote = open_remote(req, plan.root, plan.cache_dir, cas, progress, events) if req.use_cache else None
    runner = open_runner(req, plan.root, plan.cache_dir, executor, req.jobs or default_jobs(), remote, progress,
                         events)
    remote = remote or getattr(runner, "remote", None)      # a REAPI executor's server is the remote cache too
    jobs = req.jobs or runner.capacity
    config = SchedulerConfig(jobs=jobs, keep_going=req.keep_going, use_cache=req.use_cache, timeout=req.timeout,
                             flaky_retries=req.flaky_retries,
                             rlimit_mb=req.rlimit_mb if req.command == "test" else 0, retry_oom=req.retry_oom,
                             measure_rss=req.measure_rss and req.command == "test", policy=policy)
    sched = Scheduler(plan.root, graph, plan.toolchains, cache, cas, digests, runner, events,
                      progress, config, explain=explain, trace=trace, prior=plan.prior, dirty=plan.dirty,
                      locks=locks, resources=ResourcePool(jobs, req.local_ram_mb or default_ram_mb(),
                                                          _peaks(cache, graph)), remote=remote)
    if delta is not None:       # the actions nothing reached: their last results stand
        sched.outputs.generated.update(delta.generated)
        sched.results.update(delta.results)
    started = time.monotonic()
    stats = None
    try:
        stats = sched.run()
        if delta is not None:   # (their lines after the run's: the first action starts sooner)
            events.write_raw_events("action_finished", delta.carried_lines())
            n = len(delta.outside)
            stats.total, stats.cached, stats.builds = stats.total + n, stats.cached + n, stats.builds + n
    finally:
        if remote is not None:
            remote.close()
        executor.close()
        progress.finish()
        server_state.after_reply(digests.save)
        try:
            s = stats or sched.stats
            cache.record_build(plan.root, "build", 0 if s.failed == 0 and stats else 1, s,
                               time.monotonic() - started)
        finally:
            cache.close()
        if trace:
            trace.write(req.profile_out)
    outcome.stats = stats
    ok = stats.failed == stats.test_failed      # failed test runs are test results, not build failures
    outcome.exit_code = EXIT_OK if ok else EXIT_BUILD_FAILED
    if not req.quiet:   # -q keeps errors and the summary line
        if ok and len(plan.top_level) <= 10 and req.command == "build":
            for label, config, paths, _exe in plan.top_level:
                shown = " ".join(paths)
                err.write(f"Target {label} ({config}) up-to-date{': ' + shown if shown else ''}\n")
        for config, label in plan.skipped:
            err.write(f"INFO: skipped {label} ({config}): not compatible with this toolchain\n")
    err.write(f"INFO: {stats.total} actions: {stats.executed} executed, {stats.cached} cached, "
              f"{stats.failed} failed\n")
    if remote is not None:
        err.write(f"INFO: remote cache {remote.settings.url}: {stats.remote_cached} hits, {remote.uploads} "
                  f"results uploaded{'' if remote.enabled else ' (switched off after a failure)'}\n")
    if not req.quiet:
        if stats.corrupt:
            err.write(f"WARNING: {stats.corrupt} corrupt cache entr{'y' if stats.corrupt == 1 else 'ies'} "
                      f"found and rebuilt\n")
        if cache.dropped_rows:
            err.write(f"WARNING: {cache.dropped_rows} damaged action cache row(s) dropped\n")
        err.write("INFO: Build completed successfully\n" if ok else
                  f"FAILED: Build did NOT complete successfully ({stats.failed - stats.test_failed} failed, "
                  f"{stats.skipped} not run)\n")
    if req.command == "test":
        from molt_build import testing
        tests = testing.collect(sched.tests.values(), cas, req.measure_rss)
        limits = {"rlimit_mb": req.rlimit_mb, "retry_oom": req.retry_oom, "measure_rss": req.measure_rss,
                  "keep_pass_logs": req.keep_pass_logs, "runs_per_test": req.runs_per_test,
                  "flaky_retries": req.flaky_retries}
        run_id = os.path.splitext(os.path.basename(events.path))[0]
        outcome.tests = testing.write_reports(plan.root, tests, req.jobs or default_jobs(), req.junit, limits,
                                              req.keep_pass_logs, req.report_format, run_id)
        testing.print_results(tests, plan.root, req.test_output, err)
        c = outcome.tests
        extra = "".join(f", {c[k]} {k}" for k in ("xfail", "skipped") if c[k])
        err.write(f"INFO: {len(tests)} test targets: {c['passed']} passed ({c['cached']} cached), "
                  f"{c['failed']} failed, {c['flaky']} flaky{extra}; {stats.builds_executed} of "
                  f"{stats.builds} build actions ran\n")
        if req.measure_rss and outcome.tests and tests:
            rss = testing.rss_summary(tests)
            if rss:
                err.write(f"INFO: peak RSS {rss['max_kb'] / 1024:.1f} MiB ({rss['max_label']}), "
                          f"median {rss['median_kb'] / 1024:.1f} MiB over {rss['measured']} tests\n")
        outcome.exit_code = testing.exit_code(ok, tests)
    if ok and req.use_cache:
        from molt_build.build_snapshot import record
        server_state.after_reply(lambda: record(plan, req, cwd, graph, sched))


def _peaks(cache, graph):
    """The RAM estimates' source: every recorded peak (read when first needed), or for
    a build of a few actions just theirs."""
    if len(graph.nodes) > 100:
        return cache.last_peaks
    return lambda: cache.last_peaks([n.identity for n in graph.nodes])


def key_policy(rlimit_mb: int):
    """What a request adds to the keys of test runs: the memory cap and the identity of
    the helper that wraps test processes (see action_status.KeyPolicy)."""
    import xxhash

    from molt_build.action_status import KeyPolicy
    from molt_build.executor import RLIMIT_SH
    from molt_build.namespace_sandbox import COUNT_LEFTOVERS
    from molt_build.tools import helper_digest
    wrappers = xxhash.xxh3_128_hexdigest("\0".join((RLIMIT_SH, COUNT_LEFTOVERS)).encode())
    return KeyPolicy(rlimit_mb=rlimit_mb, test_runner=f"{helper_digest('molt_build.rss_exec')}/{wrappers}")
