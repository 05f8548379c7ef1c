"""The scheduler: runs the action graph through an action runner.

An action is ready when its inputs' digests are known (plan.py orders the ready ones by
critical path); its key is computed then. A cache hit materializes outputs from the CAS
(or finds them already in place); a miss is claimed against other moltb processes and
handed to the runner (runner.py: local processes in a sandbox, or another runner).
Failures are values: recorded, dependents marked unmet, and with `keep_going` the rest
goes on. Failed test runs follow retry_policy.py. Ctrl-C kills every running process
group and ends with exit 8.

While every slot is busy, the next actions are prepared (keyed, looked up, claimed)
ahead of time, and when an action succeeds the next prepared one starts before the
finished one's results are recorded: a slot idles only for the work a start itself
takes.
"""
from __future__ import annotations

import errno
import os
import signal
import threading
import time
from collections import deque

from molt_build.action_cache import ActionCache, ActionResult
from molt_build.action_status import MissingInput, compute_key, unchanged_since_last_run, unusable_hit
from molt_build.actiongraph import ActionGraph, Node
from molt_build.cache_healing import CacheHealing
from molt_build.cas import CAS, BlobMissing
from molt_build.digests import DigestCache
from molt_build.errors import Interrupted
from molt_build.machine_failures import exec_disk_full, machine_failed
from molt_build.events import EventLog
from molt_build.executor import Spawn, SpawnResult
from molt_build.failure_text import failure_reason, failure_text
from molt_build.key_claims import KeyClaims
from molt_build.model import ToolchainInfo
from molt_build.outputs import LostInput, Outputs
from molt_build.plan import Plan
from molt_build.progress import Progress
from molt_build.resources import ResourcePool
from molt_build.retry_policy import AGAIN, ALONE, RetryPolicy
from molt_build.run_reports import RunReports
from molt_build.run_state import BuildStats, Ready, SchedulerConfig, TestOutcome
from molt_build.runner import ActionRunner

__all__ = ["Scheduler", "SchedulerConfig", "BuildStats", "TestOutcome"]

FLUSH_EVERY_S = 0.5
RELEASE_EVERY_S = 0.05   # results other processes wait for are committed at least this often
LOCK_POLL_S = 0.02


class Scheduler(CacheHealing):
    def __init__(self, root: str, graph: ActionGraph, toolchains: dict[str, ToolchainInfo], cache: ActionCache,
                 cas: CAS, digests: DigestCache, runner: ActionRunner, events: EventLog, progress: Progress,
                 config: SchedulerConfig, *, explain=None, trace=None, prior: dict | None = None,
                 dirty: set[str] | None = None, locks=None, resources: ResourcePool | None = None, remote=None):
        self.root, self.graph, self.toolchains = root, graph, toolchains
        self.cache, self.cas, self.digests = cache, cas, digests
        self.runner, self.events, self.progress = runner, events, progress
        self.config = config
        self.explain, self.trace = explain, trace
        self.remote = remote                            # a RemoteCache (remote_cache.py), or None
        self.resources = resources or ResourcePool(config.jobs, 1 << 30)   # CPU slots and the RAM budget
        self.plan = Plan(graph)
        self.outputs = Outputs(root, cas, digests)
        self.retries = RetryPolicy(config.flaky_retries, config.retry_oom)
        self._deferred: tuple[Node, Ready] | None = None       # ready to run, waiting for room
        self._solo: list[tuple[Node, Ready]] = []      # test runs waiting to run with nothing else
        self._solo_running: int | None = None          # the node running alone
        self.tests: dict[int, TestOutcome] = {}         # node id -> result of a test run
        self._runnable: list[tuple[Node, Ready]] = []  # claimed after a wait, or retried: run next
        self._prepared: deque[tuple[Node, Ready]] = deque()   # prepared while the slots were busy
        self._held: list[str] | None = None            # action_started lines held back (see run)
        self._expect_hit = True                         # the last lookup hit (see _prepare)
        # Incremental mode: each action's last key and outputs, and the files whose stat
        # moved since then. Outputs that came out different this time join `dirty`.
        self.prior = prior
        self.dirty = dirty if dirty is not None else set()
        self.results: dict[str, tuple[str, list]] = {}   # identity -> (key, outputs), for the snapshot
        self.stats = BuildStats(total=len(graph.nodes), builds=sum(not n.action.test for n in graph.nodes))
        self.claims = KeyClaims(locks if config.use_cache else None, cache, events, self.stats)
        self._stop = False
        self._last_flush = time.monotonic()
        self.reports = RunReports(events)
        self.finished_events = self.reports.finished_lines      # for the no-op snapshot
        self._lost_output: set[int] = set()             # actions whose fresh output vanished once
        self._lost_output_tries: dict[int, int] = {}    # actions re-run after their inputs vanished

    @property
    def materialized(self) -> set[str]:
        return self.outputs.materialized

    # ---------------------------------------------------------------- run loop
    def run(self) -> BuildStats:
        running = 0
        old_term = _install_sigterm()
        try:
            while True:
                if self.claims.waiting and running < self.runner.capacity and not self._stop:
                    self._runnable.extend(self.claims.poll(self._claimed_hit))
                running += self._start_ready()
                if self._solo and running == 0 and not self._stop:
                    # A run killed for memory goes again with nothing else running.
                    node, ready = self._solo.pop(0)
                    self._solo_running = node.id
                    ready.need = self.resources.need(node)
                    running += 1
                    self._submit(node, ready, solo=True)
                if running == 0 and not (self.claims.waiting and not self._stop):
                    break
                wait = LOCK_POLL_S if self.claims.waiting else \
                    RELEASE_EVERY_S if self.claims.awaiting_commit else FLUSH_EVERY_S
                if running == 0:
                    time.sleep(wait)
                    self._maybe_flush()
                    continue
                self._prepare_ahead()
                done = self.runner.next_result(wait)
                if done is None:
                    self._maybe_flush()
                    continue
                running -= 1
                node, ready, res = done
                self.resources.give(ready.need)
                if isinstance(res, SpawnResult) and res.ok:
                    self._held = []         # its action_started line goes after this one's action_finished
                    running += self._start_ready(prepared_only=True)
                try:
                    self._finished(node, ready, res)
                finally:
                    if self._held is not None:
                        held, self._held = self._held, None
                        for tail in held:
                            self.events.emit_raw("action_started", tail)
                self._maybe_flush()
        except KeyboardInterrupt:
            self.runner.cancel_all()
            for node, ready, res in self.runner.pending_results():
                if isinstance(res, SpawnResult) and res.ok:
                    self._finish_executed(node, ready, res)
            self._flush()
            raise Interrupted("interrupted: running actions were killed") from None
        finally:
            signal.signal(signal.SIGTERM, old_term)
            self.runner.close()
            try:
                self._flush()
            finally:
                self.claims.release_all()
        self._flush()
        return self.stats

    def _start_ready(self, prepared_only: bool = False) -> int:
        """Start what is ready while CPU slots and RAM allow; how many started.
        `prepared_only`: only what is prepared already."""
        started = 0
        while (self._deferred or self._runnable or self._prepared or
               (self.plan.has_ready() and not prepared_only)) and self.resources.has_cpu() \
                and not self._stop and not self._solo and self._solo_running is None:
            if self._deferred:
                (node, ready), self._deferred = self._deferred, None
            elif self._runnable:
                node, ready = self._runnable.pop()
            elif self._prepared:
                node, ready = self._prepared.popleft()
                ready = self.claims.claim(node, ready, self._claimed_hit)     # claimed only now
            else:
                node = self.plan.pop()
                ready = self._prepare(node)
            if ready is None:
                continue  # finished from cache, failed, or waiting for another process
            ready.need = self.resources.need(node)
            if not self.resources.fits(ready.need):
                self._deferred = (node, ready)     # first in line when RAM or CPU frees up
                break
            started += 1
            self._submit(node, ready)
        return started

    def _prepare_ahead(self) -> None:
        """Prepare up to one action per slot before waiting for a slot to free. They are
        claimed when they start: another process may run what this one cannot yet."""
        while len(self._prepared) < self.runner.capacity and self.plan.has_ready() and not self._stop \
                and not self._solo and self._solo_running is None and self._deferred is None:
            node = self.plan.pop()
            ready = self._prepare(node, claim=False)
            if ready is not None:
                self._prepared.append((node, ready))

    def _finished(self, node: Node, ready: Ready, res: SpawnResult | BaseException) -> None:
        """Record a result (the resources it held are given back already)."""
        if self.trace is not None:
            self.trace.counter("RAM in use (MiB)", time.monotonic(), self.resources.ram_used)
        if node.id == self._solo_running:
            self._solo_running = None
        if isinstance(res, BaseException):
            if machine_failed(res, os.path.dirname(self.cas.root)):
                raise res                       # disk full, unwritable cache: exit 36, not a failed action
            res = SpawnResult(-1, error=f"{type(res).__name__}: {res}")
        self._finish_executed(node, ready, res)

    def _submit(self, node: Node, ready: Ready, **extra) -> None:
        self.resources.take(ready.need)
        ready.started = time.monotonic()
        self.runner.submit(node, ready)
        tail = self.reports.started_tail(node, ready.key, ready.need.ram_mb, self.resources.ram_used, extra)
        if self._held is not None:
            self._held.append(tail)
        else:
            self.events.emit_raw("action_started", tail)
        if self.trace is not None:
            self.trace.counter("RAM in use (MiB)", ready.started, self.resources.ram_used)

    def _flush(self) -> None:
        """Commit pending cache rows, then release the locks of the actions they record."""
        self.cache.flush()
        self.claims.committed()

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= (RELEASE_EVERY_S if self.claims.awaiting_commit else FLUSH_EVERY_S):
            self._flush()
            self.events.flush()
            self.progress.flush()
            self._last_flush = now

    # ------------------------------------------------------------- preparation
    def _up_to_date(self, node: Node) -> bool:
        """Nothing the action read or wrote moved since its last successful run."""
        prev = unchanged_since_last_run(node.action, self.prior, self.dirty, node.identity)
        if prev is None:
            return False
        key, outputs = prev
        for path, digest, _size, exe in outputs:
            self.outputs.generated[path] = (digest, exe)
        self.stats.cached += 1
        self.results[node.identity] = prev
        self.reports.success(node, key, "cached", 0.0)
        self.progress.advance(None)
        self.plan.complete(node)
        return True

    def _note_outputs(self, node: Node, key: str, outputs: list) -> None:
        """Remember the result; outputs that differ from last time make dependents look."""
        if self.prior is not None:
            prev = self.prior.get(node.identity)
            old = {p: d for p, d, _s, _x in prev[1]} if prev else {}
            for path, digest, _size, _exe in outputs:
                if old.get(path) != digest:
                    self.dirty.add(path)
        self.results[node.identity] = (key, [list(o) for o in outputs])

    def _prepare(self, node: Node, claim: bool = True) -> Ready | None:
        """Compute the key; finish from the cache when possible, else build the spawn
        (and claim its key, unless `claim` is False)."""
        cfg = self.config
        if self.prior is not None and cfg.use_cache and self._up_to_date(node):
            return None
        a = node.action
        try:
            keyed = compute_key(a, self.toolchains, self.root, self.digests.digest, self.outputs.generated,
                                cfg.policy)
            blobs = [(path, self.outputs.blob_for(path, digest, exe), digest) for path, digest, exe in keyed.blobs]
        except MissingInput as e:
            producer = self.graph.producer.get(e.path)
            if producer is not None and self.plan.rerun_state(producer) == "running":
                self.plan.wait_for_rerun(node, producer)     # its producer is running again: wait
                return None
            self._fail(node, "", f"missing input file: {e.path}")
            return None
        except LostInput as e:
            self._lost_input(node, e.path, e.digest, e.corrupt)
            return None
        key, text, env, tc = keyed.key, keyed.components, keyed.env, keyed.toolchain
        prepared = None
        # Once lookups miss (a cold build), the one after the claim's lock is enough.
        lock_first = self.claims.locks is not None and self.remote is None and not self._expect_hit
        if cfg.use_cache and not lock_first:
            hit = self.cache.lookup(key)
            self._expect_hit = hit is not None
            if hit is not None and self._take_hit(node, key, hit):
                self.cache.remember(node.identity, key, text, hit.duration, hit.peak_kb)
                return None
            prepared = self.remote.prepare(a, keyed) if self.remote is not None else None
            hit = self.remote.lookup(prepared) if prepared is not None else None
            if hit is not None and self._take_hit(node, key, hit, "remote_cached"):
                self.cache.put(key, hit)                # the local cache has it from now on
                self.cache.remember(node.identity, key, text, hit.duration, hit.peak_kb)
                return None
        if self.explain is not None:
            self.explain(node, key, text)
        if tc is not None and (tc.private_env or tc.tool_dirs):
            env = {**env, **tc.private_env}
            if tc.tool_dirs:
                env["PATH"] = os.pathsep.join((*tc.tool_dirs, env["PATH"]))
        spawn = Spawn(a.argv, env, keyed.sources, blobs, [o.path for o in a.outputs], a.timeout or cfg.timeout,
                      test=a.test, rlimit_mb=cfg.rlimit_mb if a.test else 0,
                      measure_rss=cfg.measure_rss and a.test,
                      network="requires-network" in a.requirements, sandboxed="no-sandbox" not in a.requirements)
        if tc is not None:
            spawn.read_only = (*tc.sandbox_paths, *tc.tool_dirs)
            spawn.writable = tuple(v for v in tc.private_env.values() if os.path.isabs(v))
        ready = Ready(key, text, spawn, remote=prepared, keyed=keyed)
        return self.claims.claim(node, ready, self._claimed_hit) if claim else ready

    def _claimed_hit(self, node: Node, key: str, hit: ActionResult | None, components: str) -> bool:
        """The lookup once the key's lock is held (after another process ran it, or
        the only one: see _prepare)."""
        self._expect_hit = hit is not None
        if hit is None or not self._take_hit(node, key, hit):
            return False
        self.cache.remember(node.identity, key, components, hit.duration, hit.peak_kb)
        return True

    def _take_hit(self, node: Node, key: str, hit: ActionResult, status: str = "cached") -> bool:
        why = unusable_hit(node.action, hit, self.config.measure_rss)
        if why:
            # E.g. an entry that names other paths than the action declares (a poisoned
            # or foreign cache) is never materialized: treat it as a miss.
            if not why.startswith("recorded without"):
                self.events.emit("cache_mismatch", label=str(node.action.owner), key=key)
            return False
        try:
            for path, digest, _size, exe in hit.outputs:
                self.outputs.materialize(path, digest, exe, verify=True)
        except BlobMissing as c:
            self._bad_entry(node, key, c)
            return False
        self.stats.cached += 1
        if status == "remote_cached":
            self.stats.remote_cached += 1
        if node.action.test:
            outcome = TestOutcome(str(node.action.owner), node.action, hit.status or "PASSED", True, hit.duration,
                                  stdout_digest=hit.stdout, stderr_digest=hit.stderr, max_rss_kb=hit.max_rss_kb)
            self.tests[node.id] = self.reports.test(node, outcome)
        self._note_outputs(node, key, hit.outputs)
        self.reports.success(node, key, status, 0.0)
        self.progress.advance(None)
        self.plan.complete(node)
        return True

    # ---------------------------------------------------------------- results
    def _finish_executed(self, node: Node, ready: Ready, res: SpawnResult) -> None:
        a = node.action
        if self.trace is not None and not res.cancelled:
            self.trace.action(str(a.owner), a.mnemonic, ready.started, time.monotonic(),
                              "executed" if res.ok else "failed")
        if not res.ok and res.lost and not res.cancelled and self._retry_lost(node, ready, res):
            return
        if not res.ok:
            self.claims.release(ready.key)      # nothing to wait for: a failure is never cached
            if res.cancelled:
                return
            if a.test and not res.error and not res.missing:
                self._test_failed(node, ready, res)
                return
            if res.modified and not res.timed_out:
                self.outputs.discard_modified(res.modified, self.cache.drop_naming)
            if exec_disk_full(res, os.path.dirname(self.cas.root)):
                # Its exec root (beside the cache) ran out of room: the machine's problem, exit 36.
                raise OSError(errno.ENOSPC, "No space left on device", os.path.dirname(self.cas.root))
            self._fail(node, ready.key, failure_reason(res, ready.spawn.timeout), res, ready.spawn)
            return
        try:
            for path, digest, _size, exe in res.outputs:
                self.outputs.materialize(path, digest, exe, verify=False)
        except BlobMissing:
            # Its output left the cache (cache clear) before it reached the workspace.
            if node.id not in self._lost_output:
                self._lost_output.add(node.id)
                self._runnable.append((node, ready))
                return
            self._fail(node, ready.key, "its outputs were removed from the cache while it ran (twice)", res)
            return
        so, se = self.outputs.store_text(res.stdout), self.outputs.store_text(res.stderr)
        status = res.status if a.test and res.status in ("XFAIL", "SKIPPED") else ""
        result = ActionResult(res.outputs, 0, so, se, res.duration, status, res.max_rss_kb, res.peak_kb)
        self.cache.put(ready.key, result)
        if ready.remote is not None:
            self.remote.upload(ready.remote, result)
        self.claims.release_after_commit(ready.key)
        self.cache.remember(node.identity, ready.key, ready.components, res.duration, res.peak_kb)
        self.stats.executed += 1
        if a.test:
            outcome = TestOutcome(str(a.owner), a, status or self.retries.passed_status(node.id), False,
                                  res.duration, self.retries.failures(node.id) + 1, res.stdout, res.stderr,
                                  max_rss_kb=res.max_rss_kb)
            self.tests[node.id] = self.reports.test(node, outcome)
        else:
            self.stats.builds_executed += 1
        self._note_outputs(node, ready.key, res.outputs)
        self.reports.success(node, ready.key, "executed", round(res.duration, 4), res.worker)
        self.progress.advance(a.progress)
        if res.stderr.strip() and not a.test and not self.progress.quiet:   # test output: see testing.py
            self.progress.print(f"INFO: From {a.progress}:\n{res.stderr.decode(errors='replace').rstrip()}")
        self.plan.complete(node)

    def _test_failed(self, node: Node, ready: Ready, res: SpawnResult) -> None:
        """A test run failed: retried alone or again as the retry policy says, else
        recorded. A test failure is a result, not a build failure: the build goes on."""
        decision, status = self.retries.on_failure(node.id, node.action.retries, res)
        if decision == ALONE:
            self.events.emit("test_retry_alone", label=str(node.action.owner), run=node.action.outputs[0].path,
                             max_rss_kb=res.max_rss_kb or None)
            self._solo.append((node, ready))
            return
        if decision == AGAIN:
            self._runnable.append((node, ready))
            return
        a = node.action
        self.events.emit("action_finished", label=str(a.owner), mnemonic=a.mnemonic, key=ready.key,
                         status="failed", duration=round(res.duration, 4), reason=status.lower())
        self.progress.advance(None)
        self.stats.failed += 1
        self.stats.test_failed += 1
        outcome = TestOutcome(str(a.owner), a, status, False, res.duration, self.retries.failures(node.id),
                              res.stdout, res.stderr, max_rss_kb=res.max_rss_kb)
        self.tests[node.id] = self.reports.test(node, outcome)
        self.plan.failed.add(node.id)

    def _fail(self, node: Node, key: str, why: str, res: SpawnResult | None = None,
              spawn: Spawn | None = None) -> None:
        a = node.action
        self.stats.failed += 1
        self.stats.failures.append(str(a.owner))
        self.events.emit("action_finished", label=str(a.owner), mnemonic=a.mnemonic, key=key,
                         status="failed", duration=round(res.duration, 4) if res else 0.0, reason=why)
        self.progress.advance(None)
        self.progress.print(failure_text(self.progress, self.root, a, why, res, spawn))
        self.stats.skipped += self.plan.fail(node)     # its dependents can never run
        if not self.config.keep_going:
            self._stop = True


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _install_sigterm():
    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    return signal.getsignal(signal.SIGTERM)
