"""Why an action re-runs: compare its key components with the last ones recorded for
the same action identity (label + mnemonic + first output) and name what changed:
an input (path, old/new digest), an argv element, an env var or the toolchain.

Every verdict comes from `action_status`, the one place that decides whether an
action is up to date, so `moltb explain` predicts what `moltb build` does."""
from __future__ import annotations

from molt_build.action_cache import ActionCache
from molt_build.action_status import KeyPolicy, MissingInput, compute_key, explain_miss, unusable_hit


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


def dry_run(root: str, graph, toolchains: dict, cache: ActionCache, digests,
            policy: KeyPolicy = KeyPolicy()) -> list[tuple[object, str, list[str]]]:
    """For each action, in dependency order: ("hit" | "run" | "maybe", reasons), without
    running anything. "maybe": an input is rebuilt first, and early cutoff decides."""
    known: dict[str, tuple[str, bool]] = {}
    rebuilt: set[str] = set()
    out = []
    for node in _topological(graph):
        a = node.action
        pending = [f.path for f in a.inputs if not f.is_source and f.path in rebuilt]
        if pending:
            out.append((node, "maybe", [f"input rebuilt first: {p}" for p in pending]))
            rebuilt.update(o.path for o in a.outputs)
            continue
        try:
            keyed = compute_key(a, toolchains, root, digests.digest, known, policy)
        except MissingInput as e:
            out.append((node, "run", [f"input missing: {e.path}"]))
            rebuilt.update(o.path for o in a.outputs)
            continue
        hit = cache.lookup(keyed.key)
        why = unusable_hit(a, hit) if hit is not None else "miss"
        if not why:
            for path, digest, _s, exe in hit.outputs:
                known[path] = (digest, exe)
            out.append((node, "hit", []))
            continue
        reasons = explain_miss(cache, node.identity, keyed.components) if hit is None else [why]
        out.append((node, "run", reasons))
        rebuilt.update(o.path for o in a.outputs)
    return out


def _topological(graph):
    import graphlib
    ts = graphlib.TopologicalSorter({n.id: [d.id for d in n.deps] for n in graph.nodes})
    return [graph.nodes[i] for i in ts.static_order()]
