"""After a successful build: what it depended on, recorded for the next one (the
snapshot of noop.py, and the analysis shared through the cache, shared_analysis.py)."""
from __future__ import annotations

import os
import sys

from molt_build import noop
from molt_build.build import request_sig


def record(plan, req, cwd: str, graph, sched) -> None:
    """Record what this build depended on, for the next one (see noop.py)."""
    from molt_build import analysis_cache
    snap = noop.load(plan.root, request_sig(req, plan.root, cwd)) if plan.loader is None else None
    if plan.shared is not None:
        # From the shared analysis: this checkout's snapshot records the same files.
        build_files = [rel for rel, _ in plan.shared["files"]]
        abs_files = [p for p, _ in plan.shared["abs"]]
        dirs = plan.shared["dir_mtimes"]        # as they were when the entry was checked
    elif plan.loader is not None:
        # The root BUILD.toml holds [workspace] (toolchain settings, plugin_dirs) even
        # when no target of the root package was loaded.
        build_files = [noop.BUILD_FILE, *plan.loader.build_files]
        dirs = plan.loader.dir_mtimes
        abs_files = [p for t in plan.toolchains.values() for p in t.tool_files]
        abs_files += [m.__file__ for name, m in list(sys.modules.items())
                      if name.startswith("molt_build") and getattr(m, "__file__", None)]
        abs_files += plan.plugin_files
        # Tool files (moltb's helper modules) were chosen by reading their imports: an
        # edit may change which files a tool needs, so it means a fresh analysis.
        abs_files += sorted({f.origin for a in plan.actions for f in a.inputs if f.origin})
    elif snap is not None:   # carried forward from the snapshot this build started from
        build_files = [p for p, _ in snap["analysis"] if not os.path.isabs(p)]
        abs_files = [p for p, _ in snap["analysis"] if os.path.isabs(p)]
        dirs = dict(snap["dirs"])
    else:
        return
    # What lanes took from the user's environment: a change means a fresh analysis.
    env = {k: os.environ.get(k) for t in plan.toolchains.values() for k in (*t.pass_env, *t.private_pass_env)}
    sources, outputs = [], []
    for a in plan.actions:
        sources.extend(f.locator for f in a.inputs if f.is_source)
        outputs.extend(o.path for o in a.outputs)
    finished = sched.finished_events
    lines = plan.delta.merged_lines(finished) if plan.delta is not None else \
        [finished.get(i) for i in range(len(graph.nodes))]
    known = files = None
    if snap is not None and plan.dirty is not None:   # files this build did not touch keep their stat
        moved = plan.dirty | sched.dirty | sched.materialized
        if plan.delta is not None:        # the same actions: the same files
            try:
                files = noop.carried_files(plan.root, snap["files"], moved, set(outputs))
            except OSError:
                return
        else:
            known = {rel: ident for rel, ident in snap["files"] if rel not in moved}
    try:
        noop.save(plan.root, request_sig(req, plan.root, cwd), cache_dir=plan.cache_dir,
                  build_files=build_files, abs_files=abs_files, dirs=dirs, sources=sources,
                  outputs=outputs, targets=[(t[0], t[1]) for t in plan.top_level], lines=lines,
                  graph=analysis_cache.encode(plan.analysis, sched.results), known=known, env=env,
                  target_lines=plan.target_lines, files=files)
    except OSError:
        pass
    if plan.loader is not None:      # a fresh analysis: share it with other checkouts of this cache
        from molt_build import shared_analysis
        shared_analysis.publish(plan.root, plan.cache_dir, request_sig(req, plan.root, cwd), build_files,
                                list(dirs), abs_files, sorted(plan.loader.source_files),
                                analysis_cache.encode(plan.analysis, {}), env)
