"""Why an action re-runs: compare its key components with the last ones recorded for
the same action identity (label + mnemonic + first output) and name what changed:
an input (path, old/new digest), an argv element, an env var or the toolchain."""
from __future__ import annotations

import json

from molt_build.action_cache import ActionCache


def diff_components(old: list, new: list) -> list[str]:
    """Human reasons, most specific first. Components: [version, argv, env, inputs, outputs, fp]."""
    reasons = []
    if old[0] != new[0]:
        return ["the action key format changed (moltb upgraded)"]
    old_argv, new_argv = old[1], new[1]
    if old_argv != new_argv:
        removed = [a for a in old_argv if a not in new_argv]
        added = [a for a in new_argv if a not in old_argv]
        if removed or added:
            reasons.append("argv changed: " + ", ".join([f"removed {a!r}" for a in removed] +
                                                        [f"added {a!r}" for a in added]))
        else:
            reasons.append("argv changed: same arguments in a different order")
    old_env, new_env = dict(old[2]), dict(new[2])
    for k in sorted(set(old_env) | set(new_env)):
        if old_env.get(k) != new_env.get(k):
            reasons.append(f"env {k} changed: {old_env.get(k)!r} -> {new_env.get(k)!r}")
    old_in, new_in = dict(old[3]), dict(new[3])
    for p in sorted(set(old_in) | set(new_in)):
        if p not in old_in:
            reasons.append(f"input added: {p}")
        elif p not in new_in:
            reasons.append(f"input removed: {p}")
        elif old_in[p] != new_in[p]:
            reasons.append(f"input changed: {p} ({old_in[p][:12]} -> {new_in[p][:12]})")
    if old[4] != new[4]:
        reasons.append(f"declared outputs changed: {old[4]} -> {new[4]}")
    if old[5] != new[5]:
        reasons.append(f"toolchain changed: {old[5]!r} -> {new[5]!r}")
    return reasons or ["no recorded difference (the cache entry was pruned or never stored)"]


def explain_miss(cache: ActionCache, identity: str, components_text: str) -> list[str]:
    last = cache.last_key(identity)
    if last is None:
        return ["never built before (no recorded key for this action)"]
    return diff_components(json.loads(last[1]), json.loads(components_text))


class Explainer:
    """Prints, for each action about to run, why it is not a cache hit."""

    def __init__(self, cache: ActionCache, progress):
        self.cache = cache
        self.progress = progress
        self.explained: list[tuple[str, list[str]]] = []

    def on_miss(self, node, key: str, components_text: str) -> None:
        reasons = explain_miss(self.cache, node.identity, components_text)
        self.explained.append((node.identity, reasons))
        a = node.action
        self.progress.print(f"EXPLAIN: {a.owner} {a.mnemonic} {a.outputs[0].path}:\n" +
                            "\n".join(f"  - {r}" for r in reasons))


def dry_run(root: str, graph, toolchains: dict, cache: ActionCache, digests) -> list[tuple[object, str, list[str]]]:
    """For each action, in dependency order: ("hit" | "run" | "maybe", reasons), without
    running anything. "maybe": an input is rebuilt first, and early cutoff decides."""
    import os

    from molt_build.keys import action_key, declared_env, key_components
    known: dict[str, str] = {}
    rebuilt: set[str] = set()
    out = []
    order = _topological(graph)
    for node in order:
        a = node.action
        tc = toolchains.get(a.config.rsplit("-", 1)[0]) if a.uses_toolchain else None
        pending = [f.path for f in a.inputs if not f.is_source and f.path in rebuilt]
        if pending:
            out.append((node, "maybe", [f"input rebuilt first: {p}" for p in pending]))
            rebuilt.update(o.path for o in a.outputs)
            continue
        inputs = []
        missing = []
        for f in a.inputs:
            if f.is_source:
                try:
                    inputs.append((f.path, digests.digest(f.path, os.path.join(root, f.path))))
                except OSError:
                    missing.append(f.path)
            elif f.path in known:
                inputs.append((f.path, known[f.path]))
            else:
                missing.append(f.path)
        if missing:
            out.append((node, "run", [f"input missing: {p}" for p in missing]))
            rebuilt.update(o.path for o in a.outputs)
            continue
        env = declared_env(a.env, tc.env if tc else None)
        key, text = action_key(key_components(a.argv, env, inputs, [o.path for o in a.outputs],
                                              tc.fingerprint if tc else ""))
        hit = cache.lookup(key)
        if hit is not None:
            for path, digest, _s, _x in hit.outputs:
                known[path] = digest
            out.append((node, "hit", []))
            continue
        out.append((node, "run", explain_miss(cache, node.identity, text)))
        rebuilt.update(o.path for o in a.outputs)
    return out


def _topological(graph):
    import graphlib
    ts = graphlib.TopologicalSorter({n.id: [d.id for d in n.deps] for n in graph.nodes})
    return [graph.nodes[i] for i in ts.static_order()]
