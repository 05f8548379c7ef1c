"""The scheduler on an in-process fake runner: no processes, no sleeps. Order by
critical path, failure propagation and keep-going, flaky and OOM-alone retries, the
RAM budget, cache hits and a lost input that reruns its producer, all through the
same Scheduler that `moltb build` uses with the local runner."""
import io
import os
from collections import deque

import pytest

from molt_build.action_cache import ActionCache
from molt_build.actiongraph import ActionGraph
from molt_build.cas import CAS
from molt_build.digests import DigestCache, hash_bytes
from molt_build.events import EventLog
from molt_build.executor import SpawnResult
from molt_build.labels import Label
from molt_build.model import Action, File
from molt_build.progress import Progress
from molt_build.resources import ResourcePool
from molt_build.scheduler import Scheduler, SchedulerConfig


class FakeRunner:
    """Runs an action by calling `behave(action, attempt)` in-process: it returns
    (exit code, {output: bytes}) or a SpawnResult; outputs go to the CAS as the local
    executor puts them."""

    def __init__(self, cas: CAS, behave, capacity: int = 2):
        self.cas, self.behave, self.capacity = cas, behave, capacity
        self.done: deque = deque()
        self.order: list[str] = []              # mnemonics, in submission order
        self.live: list = []                    # submitted, result not yet taken
        self.together: list[set] = []           # pairs that ran at the same time
        self.beside: list = []                  # (mnemonic, what else ran when it started)
        self.attempts: dict[str, int] = {}

    def submit(self, node, ready) -> None:
        a = node.action
        self.order.append(a.mnemonic)
        self.together += [{a.mnemonic, other} for other in self.live]
        self.beside.append((a.mnemonic, list(self.live)))
        self.live.append(a.mnemonic)
        n = self.attempts[a.mnemonic] = self.attempts.get(a.mnemonic, 0) + 1
        got = self.behave(a, n)
        if not isinstance(got, SpawnResult):
            code, files = got
            outs = []
            for path, data in files.items():
                d = hash_bytes(data)
                self.cas.put_bytes(data, d)
                outs.append((path, d, len(data), False))
            got = SpawnResult(code, outputs=outs if code == 0 else [])
        self.done.append((node, ready, got))

    def next_result(self, timeout):
        if not self.done:
            return None
        node, ready, res = self.done.popleft()
        self.live.remove(node.action.mnemonic)
        return node, ready, res

    def pending_results(self):
        out = list(self.done)
        self.done.clear()
        return out

    def cancel_all(self):
        self.done.clear()

    def close(self):
        pass


def act(name: str, inputs=(), test: bool = False, ram_mb: int = 0, retries: int = 0) -> Action:
    return Action(Label("", name), name, ("true",), tuple(File(f"out/{i}", False) for i in inputs),
                  (File(f"out/{name}", False),), uses_toolchain=False, config="native-dev", test=test,
                  ram_mb=ram_mb, retries=retries, progress=name)


@pytest.fixture
def build(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    cache_dir = str(tmp_path / "cache")
    made: list[Scheduler] = []

    def run(actions, behave, use_cache=False, capacity=2, ram_mb=1 << 20, **config):
        cache, cas = ActionCache(cache_dir), CAS(cache_dir)
        runner = FakeRunner(cas, behave, capacity)
        graph = ActionGraph(actions, {a.mnemonic: 1.0 for a in actions})
        sched = Scheduler(str(root), graph, {}, cache, cas, DigestCache(str(tmp_path / "digests")), runner,
                          EventLog(str(root)), Progress(len(actions), quiet=True, stream=io.StringIO()),
                          SchedulerConfig(jobs=capacity, use_cache=use_cache, **config),
                          resources=ResourcePool(capacity, ram_mb, {}))
        stats = sched.run()
        cache.close()
        made.append(sched)
        return sched, runner, stats
    run.root = root
    return run


def ok(action, attempt):
    return 0, {action.outputs[0].path: f"{action.mnemonic}\n".encode()}


def test_the_longest_path_starts_first_and_outputs_reach_the_workspace(build):
    # chain a -> b -> c (long) beside lone d (short): a starts before d.
    actions = [act("d"), act("a"), act("b", ["a"]), act("c", ["b"])]
    sched, runner, stats = build(actions, ok, capacity=1)
    assert runner.order[0] == "a" and runner.order.index("b") < runner.order.index("c")
    assert stats.executed == 4 and stats.failed == 0
    assert (build.root / "out/c").read_text() == "c\n"


def test_a_failure_stops_its_dependents_and_without_keep_going_the_rest(build):
    actions = [act("a"), act("b", ["a"]), act("c", ["b"]), act("x"), act("y")]
    fail_a = lambda a, n: (1, {}) if a.mnemonic == "a" else ok(a, n)   # noqa: E731
    _, runner, stats = build(actions, fail_a, capacity=1, keep_going=True)
    assert stats.failed == 1 and stats.skipped == 2 and stats.failures == ["//:a"]
    assert set(runner.order) == {"a", "x", "y"}
    _, runner, stats = build(actions, fail_a, capacity=1, keep_going=False)
    assert runner.order == ["a"] and stats.executed == 0


def test_a_flaky_test_passes_on_a_retry_and_is_reported_flaky(build):
    flaky = lambda a, n: (1, {}) if n == 1 else ok(a, n)      # noqa: E731
    sched, runner, stats = build([act("t", test=True)], flaky, flaky_retries=2)
    (outcome,) = sched.tests.values()
    assert outcome.status == "FLAKY" and outcome.attempts == 2 and runner.attempts["t"] == 2
    sched, _, _ = build([act("t", test=True)], flaky, flaky_retries=0)
    (outcome,) = sched.tests.values()
    assert outcome.status == "FAILED"


def test_a_test_killed_for_memory_runs_again_alone(build):
    def oom_when_crowded(a, n):
        if a.mnemonic == "big" and n == 1:
            return SpawnResult(137, status="OOM")
        return ok(a, n)
    actions = [act("s1"), act("big", test=True), act("s2"), act("s3")]
    sched, runner, stats = build(actions, oom_when_crowded)
    (outcome,) = sched.tests.values()
    assert outcome.status == "PASSED"                 # a pass alone after an OOM is not a flake
    first, second = [others for name, others in runner.beside if name == "big"]
    assert first and second == []                     # crowded the first time, alone the second


def test_the_ram_budget_keeps_two_big_actions_apart(build):
    actions = [act("m1", ram_mb=600), act("m2", ram_mb=600), act("s", ram_mb=100)]
    _, runner, stats = build(actions, ok, capacity=2, ram_mb=1000)
    assert stats.executed == 3 and {"m1", "m2"} not in runner.together
    _, runner, _ = build(actions, ok, capacity=2, ram_mb=2000)
    assert {"m1", "m2"} in runner.together


def test_cached_results_are_not_run_again_and_a_lost_input_reruns_its_producer(build):
    actions = [act("a"), act("b", ["a"])]
    build(actions, ok, use_cache=True)
    _, runner, stats = build(actions, ok, use_cache=True)
    assert runner.order == [] and stats.cached == 2
    # The blob of a's output is gone from the cache and from the workspace: a runs
    # again before b can be staged; nothing wrong reaches the workspace.
    cas = CAS(str(build.root.parent / "cache"))
    d = hash_bytes(b"a\n")
    os.unlink(cas.path(d, False))
    os.unlink(build.root / "out/a")
    actions_b_changed = [act("a"), Action(Label("", "b"), "b", ("true", "v2"), (File("out/a", False),),
                                          (File("out/b", False),), uses_toolchain=False, config="native-dev",
                                          progress="b")]
    _, runner, stats = build(actions_b_changed, ok, use_cache=True)
    assert (build.root / "out/a").read_text() == "a\n" and (build.root / "out/b").read_text() == "b\n"
    assert stats.failed == 0
