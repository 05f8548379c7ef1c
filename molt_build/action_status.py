"""Whether an action is up to date, and why not: computed here and nowhere else.

The scheduler, `moltb explain` and `moltb build --explain` all call these functions
(doit's `get_status`, Ninja's dirty check), so what explain predicts is what a build
does. Cheapest check first:

1. stat: nothing the action read or wrote moved since its last successful run in
   this checkout (`unchanged_since_last_run`; the no-op path applies the same check
   to the whole graph at once);
2. key: the action key (argv, declared env, every input's content digest, outputs,
   the toolchain fingerprint) is looked up in the action cache, and the entry must be
   usable (`unusable_hit`);
3. otherwise it runs, and `explain_miss` names what changed since the last key
   recorded for the same action.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

from molt_build.keys import action_key, declared_env, key_components
from molt_build.model import Action, ToolchainInfo


@dataclass(frozen=True)
class KeyPolicy:
    """Request-level conditions that enter the keys of test runs."""

    rlimit_mb: int = 0            # a test's memory cap is one of its conditions
    test_runner: str = ""         # identity of the executor's test wrappers (see tools.helper_digest)


@dataclass(slots=True)
class KeyedAction:
    """An action with its key computed, and what running it needs."""

    key: str
    components: str                                  # canonical encoding (for explain)
    env: dict[str, str]                              # the declared (keyed) environment
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # (exec path, host path, digest)
    blobs: list[tuple[str, str, bool]] = field(default_factory=list)   # (exec path, digest, executable)
    toolchain: ToolchainInfo | None = None
    fingerprint: str = ""                            # the toolchain's, and the test policy's


@dataclass(frozen=True)
class Status:
    """`hit` (up to date in the cache), `run` (must run), `maybe` (an input is rebuilt
    first; early cutoff decides) or `unchanged` (nothing moved since its last run)."""

    kind: str
    reasons: tuple[str, ...] = ()


class MissingInput(Exception):
    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def toolchain_of(action: Action, toolchains: Mapping[str, ToolchainInfo]) -> ToolchainInfo | None:
    """The toolchain whose fingerprint keys the action: its lane, else its configuration's.
    An action declared with runtimes (`lane+other+...`) runs with all of them: their
    fingerprints, environments, tool directories and sandbox paths, in that order."""
    if not action.uses_toolchain:
        return None
    name = action.toolchain or action.config.rsplit("-", 1)[0]
    if "+" not in name:
        return toolchains.get(name)
    parts = [toolchains.get(n) for n in name.split("+")]
    if any(p is None for p in parts):
        return None
    first = parts[0]
    return dataclasses.replace(
        first, name=name, fingerprint="+".join(p.fingerprint for p in parts),
        env={k: v for p in parts for k, v in p.env.items()},
        private_env={k: v for p in parts for k, v in p.private_env.items()},
        tool_files=tuple(dict.fromkeys(f for p in parts for f in p.tool_files)),
        tool_dirs=tuple(dict.fromkeys(d for p in parts for d in p.tool_dirs)),
        sandbox_paths=tuple(dict.fromkeys(d for p in parts for d in p.sandbox_paths)))


def compute_key(action: Action, toolchains: Mapping[str, ToolchainInfo], root: str, digest_of: Callable,
                generated: Mapping[str, tuple[str, bool]], policy: KeyPolicy) -> KeyedAction:
    """The action's key from the content of its inputs. `digest_of(locator, host path)`
    gives a source's digest; `generated` maps a generated file to (digest, executable).
    Raises MissingInput naming a source that is gone or a generated input not known."""
    tc = toolchain_of(action, toolchains)
    inputs: list[tuple[str, str]] = []
    sources: list[tuple[str, str, str]] = []
    blobs: list[tuple[str, str, bool]] = []
    for f in action.inputs:
        if f.is_source:
            host = f.origin or os.path.join(root, f.path)
            try:
                digest = digest_of(f.locator, host)
            except OSError:
                raise MissingInput(f.locator) from None
            inputs.append((f.path, digest))
            sources.append((f.path, host, digest))
        else:
            known = generated.get(f.path)
            if known is None:
                raise MissingInput(f.path)
            inputs.append((f.path, known[0]))
            blobs.append((f.path, known[0], known[1]))
    env = declared_env(action.env, tc.env if tc else None)
    fingerprint = tc.fingerprint if tc else ""
    if action.test:
        if policy.rlimit_mb:
            env["TEST_RLIMIT_MB"] = str(policy.rlimit_mb)
        if policy.test_runner:
            fingerprint += f"|test-runner {policy.test_runner}"
    key, text = action_key(key_components(action.argv, env, inputs, [o.path for o in action.outputs], fingerprint))
    return KeyedAction(key, text, env, sources, blobs, tc, fingerprint)


def unusable_hit(action: Action, hit, measure_rss: bool = False) -> str:
    """Why a cache entry found under the action's key cannot be used ('' if it can)."""
    if action.test and measure_rss and not hit.max_rss_kb:
        return "recorded without a peak RSS measurement (--measure-rss)"
    if {p for p, _d, _s, _x in hit.outputs} != {o.path for o in action.outputs}:
        return "the cache entry names other outputs than the action declares"
    return ""


def unchanged_since_last_run(action: Action, prior: Mapping | None, dirty: set[str], identity: str):
    """The last (key, outputs) when nothing the action read or wrote moved since its
    last successful run in this checkout, else None. Test runs always look further:
    their report needs the cached log."""
    if prior is None or action.test:
        return None
    prev = prior.get(identity)
    if prev is None:
        return None
    if any(f.locator in dirty for f in action.inputs) or any(o.path in dirty for o in action.outputs):
        return None
    return prev


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


def explain_miss(cache, identity: str, components_text: str) -> list[str]:
    last = cache.last_key(identity)
    if last is None:
        return ["never built before (no recorded key for this action)"]
    return diff_components(json.loads(last[1]), json.loads(components_text))
