"""The scheduler: runs the action graph with `jobs` parallel local executions.

An action is ready when its inputs' digests are known; its key is computed then. A
cache hit materializes outputs from the CAS (or finds them already in place); a miss
runs in a sandbox. The ready queue is ordered by critical path. Failures are values:
recorded, dependents marked unmet, and with `keep_going` the rest goes on. Ctrl-C
kills every running process group and ends with exit 8.
"""
from __future__ import annotations

import errno
import heapq
import json
import os
import queue
import shlex
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from molt_build.action_cache import ActionCache, ActionResult
from molt_build.action_status import KeyPolicy, MissingInput, compute_key, unchanged_since_last_run, unusable_hit
from molt_build.actiongraph import ActionGraph, Node
from molt_build.model import ToolchainInfo
from molt_build.cas import CAS, BlobMissing
from molt_build.digests import DigestCache, hash_file
from molt_build.errors import Interrupted, environment_problem
from molt_build.events import EventLog
from molt_build.executor import LocalExecutor, Spawn, SpawnResult
from molt_build.progress import Progress
from molt_build.resources import Need, ResourcePool

FLUSH_EVERY_S = 0.5
RELEASE_EVERY_S = 0.05   # results other processes wait for are committed at least this often
LOCK_POLL_S = 0.02


@dataclass
class BuildStats:
    total: int = 0
    executed: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    corrupt: int = 0
    test_failed: int = 0         # failed test runs (counted in `failed` too; not build failures)
    lock_waits: int = 0          # actions another process was running when we needed them
    lock_wait_s: float = 0.0
    builds: int = 0              # actions that are not test runs
    builds_executed: int = 0     # ... of which ran (for `moltb test`'s summary)
    failures: list[str] = field(default_factory=list)


@dataclass
class TestOutcome:
    """One test run's result: PASSED, FAILED, FLAKY, TIMEOUT, XFAIL, XPASS, SKIPPED or OOM."""

    label: str
    action: object
    status: str
    cached: bool
    duration: float
    attempts: int = 1
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_digest: str = ""
    stderr_digest: str = ""
    max_rss_kb: int = 0


@dataclass(slots=True)
class _Ready:
    """Per-node state known once the node is ready."""

    key: str = ""
    components: str = ""
    spawn: Spawn | None = None
    started: float = 0.0
    waiting_since: float = 0.0
    need: Need | None = None          # its RAM and CPU (see resources.py)


class Scheduler:
    def __init__(self, root: str, graph: ActionGraph, toolchains: dict[str, ToolchainInfo],
                 cache: ActionCache, cas: CAS, digests: DigestCache, executor: LocalExecutor,
                 events: EventLog, progress: Progress, jobs: int, keep_going: bool = False,
                 use_cache: bool = True, timeout: float | None = None, explain=None, trace=None,
                 prior: dict | None = None, dirty: set[str] | None = None, locks=None,
                 flaky_retries: int = 0, rlimit_mb: int = 0, retry_oom: bool = True,
                 measure_rss: bool = False, policy: KeyPolicy = KeyPolicy(), resources: ResourcePool | None = None):
        self.root = root
        self.graph = graph
        self.toolchains = toolchains
        self.cache = cache
        self.cas = cas
        self.digests = digests
        self.executor = executor
        self.events = events
        self.progress = progress
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.use_cache = use_cache
        self.timeout = timeout
        self.explain = explain
        self.trace = trace
        self.locks = locks                              # KeyLocks, or None: no cross-process dedupe
        self.flaky_retries = flaky_retries
        self.rlimit_mb = rlimit_mb                      # address-space cap of each test process
        self.measure_rss = measure_rss
        self.policy = policy
        self.resources = resources or ResourcePool(jobs, 1 << 30)   # CPU slots and the RAM budget
        self._deferred: tuple[Node, _Ready] | None = None       # ready to run, waiting for room
        self.retry_oom = retry_oom                      # rerun a test killed for memory once, alone
        self._solo: list[tuple[Node, _Ready]] = []      # test runs waiting to run with nothing else
        self._solo_running: int | None = None          # the node running alone
        self._solo_tried: set[int] = set()
        self.tests: dict[int, TestOutcome] = {}         # node id -> result of a test run
        self._attempts: dict[int, int] = {}
        self._waiting: list[tuple[Node, _Ready]] = []  # keys another process holds
        self._runnable: list[tuple[Node, _Ready]] = []  # claimed after a wait: run next
        self._to_release: list[str] = []                # keys whose result awaits commit
        # Incremental mode: each action's last key and outputs, and the files whose stat
        # moved since then. Outputs that came out different this time join `dirty`.
        self.prior = prior
        self.dirty = dirty if dirty is not None else set()
        self.results: dict[str, tuple[str, list]] = {}   # identity -> (key, outputs), for the snapshot
        self.stats = BuildStats(total=len(graph.nodes), builds=sum(not n.action.test for n in graph.nodes))
        # path -> (digest, executable) for every generated file known so far
        self.generated: dict[str, tuple[str, bool]] = {}
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._heap: list[tuple[float, int]] = []
        self._failed: set[int] = set()
        self._stop = False
        self._last_flush = time.monotonic()
        self.finished_events: dict[int, str] = {}   # node id -> its line, for the no-op snapshot
        self.materialized: set[str] = set()     # outputs (re)written in the workspace by this build
        self._mnemonics: dict[str, str] = {}
        self._redo: dict[int, str] = {}                 # producer run again for a lost input: running | done
        self._rewait: dict[int, list[Node]] = {}        # producer id -> actions waiting for its new run
        self._lost_output: set[int] = set()             # actions whose fresh output vanished once
        self._lost_output_tries: dict[int, int] = {}    # actions re-run after their inputs vanished

    # ---------------------------------------------------------------- run loop
    def run(self) -> BuildStats:
        for n in self.graph.nodes:
            if n.pending == 0:
                heapq.heappush(self._heap, (-n.prio, n.id))
        running = 0
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="moltb-exec")
        old_term = _install_sigterm()
        try:
            while True:
                if self._waiting and running < self.jobs and not self._stop:
                    self._poll_waiting()
                while (self._deferred or self._heap or self._runnable) and self.resources.has_cpu() \
                        and not self._stop and not self._solo and self._solo_running is None:
                    if self._deferred:
                        (node, ready), self._deferred = self._deferred, None
                    elif self._runnable:
                        node, ready = self._runnable.pop()
                    else:
                        _, nid = heapq.heappop(self._heap)
                        node = self.graph.nodes[nid]
                        ready = self._prepare(node)
                    if ready is None:
                        continue  # finished from cache, failed, or waiting for another process
                    ready.need = self.resources.need(node)
                    if not self.resources.fits(ready.need):
                        self._deferred = (node, ready)     # first in line when RAM or CPU frees up
                        break
                    running += 1
                    self._submit(pool, node, ready)
                if self._solo and running == 0 and not self._stop:
                    # A run killed for memory goes again with nothing else running.
                    node, ready = self._solo.pop(0)
                    self._solo_running = node.id
                    ready.need = self.resources.need(node)
                    running += 1
                    self._submit(pool, node, ready, solo=True)
                if running == 0 and not (self._waiting and not self._stop):
                    break
                try:
                    wait = LOCK_POLL_S if self._waiting else RELEASE_EVERY_S if self._to_release else FLUSH_EVERY_S
                    if running == 0:
                        time.sleep(wait)
                        self._maybe_flush()
                        continue
                    node, ready, fut = self._results.get(timeout=wait)
                except queue.Empty:
                    self._maybe_flush()
                    continue
                running -= 1
                self.resources.give(ready.need)
                if self.trace is not None:
                    self.trace.counter("RAM in use (MiB)", time.monotonic(), self.resources.ram_used)
                if node.id == self._solo_running:
                    self._solo_running = None
                exc = fut.exception()
                if exc is not None and self._machine_failed(exc):
                    raise exc                       # disk full, unwritable cache: exit 36, not a failed action
                res = fut.result() if exc is None else SpawnResult(-1, error=f"{type(exc).__name__}: {exc}")
                self._finish_executed(node, ready, res)
                self._maybe_flush()
        except KeyboardInterrupt:
            self.executor.cancel_all()
            pool.shutdown(wait=True, cancel_futures=True)
            self._drain()
            self._flush()
            raise Interrupted("interrupted: running actions were killed") from None
        finally:
            signal.signal(signal.SIGTERM, old_term)
            pool.shutdown(wait=True)
            if self.locks is not None:
                try:
                    self._flush()
                finally:
                    self.locks.release_all()
        self._flush()
        return self.stats

    def _machine_failed(self, exc: BaseException) -> bool:
        """An error storing an action's results that is the machine's (a full disk, a
        read-only or unwritable cache), not the action's."""
        if not isinstance(exc, OSError) or environment_problem(exc) is None:
            return False
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            return True
        cache_dir = os.path.dirname(self.cas.root)
        return bool(exc.filename) and os.path.abspath(str(exc.filename)).startswith(cache_dir + os.sep)

    def _submit(self, pool, node: Node, ready: _Ready, **extra) -> None:
        self.resources.take(ready.need)
        ready.started = time.monotonic()
        fut = pool.submit(self.executor.execute, ready.spawn)
        fut.add_done_callback(lambda f, node=node, ready=ready: self._results.put((node, ready, f)))
        self.events.emit("action_started", label=str(node.action.owner), mnemonic=node.action.mnemonic,
                         key=ready.key, ram_mb=ready.need.ram_mb, ram_in_use_mb=self.resources.ram_used, **extra)
        if self.trace is not None:
            self.trace.counter("RAM in use (MiB)", ready.started, self.resources.ram_used)

    def _drain(self) -> None:
        while True:
            try:
                node, ready, fut = self._results.get_nowait()
            except queue.Empty:
                return
            if fut.exception() is None and fut.result().ok:
                self._finish_executed(node, ready, fut.result())

    def _flush(self) -> None:
        """Commit pending cache rows, then release the locks of the actions they record."""
        self.cache.flush()
        if self._to_release:
            for key in self._to_release:
                self.locks.release(key)
            self._to_release = []

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= (RELEASE_EVERY_S if self._to_release else FLUSH_EVERY_S):
            self._flush()
            self.events.flush()
            self._last_flush = now

    # ------------------------------------------------------- cross-process locks
    def _claim(self, node: Node, ready: _Ready) -> _Ready | None:
        """Take the key's lock to run the action; if another process holds it, wait
        (without blocking other work). Once held, the cache is checked again: the
        other process may have just stored the result."""
        if self.locks is None or not self.use_cache:
            return ready
        if not self.locks.try_acquire(ready.key):
            ready.waiting_since = time.monotonic()
            self._waiting.append((node, ready))
            return None
        hit = self.cache.lookup(ready.key)
        if hit is not None and self._take_hit(node, ready.key, hit):
            self.locks.release(ready.key)
            return None
        return ready

    def _poll_waiting(self) -> None:
        still = []
        for node, ready in self._waiting:
            if not self.locks.try_acquire(ready.key):
                still.append((node, ready))
                continue
            waited = time.monotonic() - ready.waiting_since
            self.stats.lock_waits += 1
            self.stats.lock_wait_s += waited
            hit = self.cache.lookup(ready.key)
            if hit is not None and self._take_hit(node, ready.key, hit):
                self.locks.release(ready.key)
                outcome = "cached"
            else:
                self._runnable.append((node, ready))
                outcome = "run here"
            self.events.emit("lock_wait", label=str(node.action.owner), mnemonic=node.action.mnemonic,
                             key=ready.key, waited_s=round(waited, 4), outcome=outcome)
        self._waiting = still

    # ------------------------------------------------------------- preparation
    def _blob_for(self, path: str, digest: str, exe: bool) -> str:
        """The CAS blob of a generated input, checked against its digest the first time
        this process stages it. When the cache lost it (cleared, pruned) or it was bad,
        the workspace copy is put back if it still has the content; else LostInput."""
        try:
            blob = self.cas.checked(digest, exe)
            # The checked blob, by a name `cache clear` and `prune` leave alone: the
            # workspace's materialized output when it is the same file (a hard link).
            local = os.path.join(self.root, path)
            try:
                if os.stat(local).st_ino == os.stat(blob).st_ino:
                    return local
            except OSError:
                pass
            return blob
        except BlobMissing as e:
            local = os.path.join(self.root, path)
            try:
                if hash_file(local) == digest:
                    self.cas.put_file(local, digest, exe, move=False)
                    return self.cas.path(digest, exe)
            except OSError:
                pass
            raise LostInput(path, digest, e.corrupt) from None

    def _lost_input(self, node: Node, path: str, digest: str, corrupt: bool) -> None:
        """A generated input is gone from the cache, or was not what its digest says:
        drop every result that names it, run its producer again and let `node` (and
        any other action that needs it) wait for it. Never a wrong output."""
        producer = self.graph.producer[path]
        node.pending += 1
        self._rewait.setdefault(producer.id, []).append(node)
        if self._redo.get(producer.id) == "running":
            return                                  # already on its way
        kind = "corrupt" if corrupt else "missing"
        if self._redo.get(producer.id) == "done":
            self._rewait.pop(producer.id, None)
            node.pending -= 1
            self._fail(node, "", f"input {path} is {kind} in the cache again after its producer ran")
            return
        self._redo[producer.id] = "running"
        if corrupt:
            self.stats.corrupt += 1
        self.cache.drop_naming(digest)
        self.digests.forget(path)
        self.generated.pop(path, None)
        if self.prior is not None:
            self.prior.pop(producer.identity, None)
        self.dirty.add(path)
        self.stats.total += 1                       # the producer runs once more
        p = producer.action
        self.events.emit("cache_corrupt" if corrupt else "cache_missing", label=str(node.action.owner),
                         path=path, blob=digest, producer=str(p.owner), mnemonic=p.mnemonic)
        self.progress.print(f"WARNING: {path} was {kind} in the cache (blob {digest}); running {p.owner} "
                            f"{p.mnemonic} again")
        heapq.heappush(self._heap, (-producer.prio, producer.id))

    def _up_to_date(self, node: Node) -> bool:
        """Nothing the action read or wrote moved since its last successful run."""
        prev = unchanged_since_last_run(node.action, self.prior, self.dirty, node.identity)
        if prev is None:
            return False
        key, outputs = prev
        for path, digest, _size, exe in outputs:
            self.generated[path] = (digest, exe)
        self.stats.cached += 1
        self.results[node.identity] = prev
        self._record_success(node, key, "cached", 0.0)
        self.progress.advance(None)
        self._complete(node)
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

    def _prepare(self, node: Node) -> _Ready | None:
        """Compute the key; finish from the cache when possible, else build the spawn."""
        if self.prior is not None and self.use_cache and self._up_to_date(node):
            return None
        a = node.action
        try:
            keyed = compute_key(a, self.toolchains, self.root, self.digests.digest, self.generated, self.policy)
            blobs = [(path, self._blob_for(path, digest, exe), digest) for path, digest, exe in keyed.blobs]
        except MissingInput as e:
            producer = self.graph.producer.get(e.path)
            if producer is not None and self._redo.get(producer.id) == "running":
                node.pending += 1                   # its producer is running again: wait
                self._rewait.setdefault(producer.id, []).append(node)
                return None
            self._fail(node, "", f"missing input file: {e.path}")
            return None
        except LostInput as e:
            self._lost_input(node, e.path, e.digest, e.corrupt)
            return None
        key, text, env, tc = keyed.key, keyed.components, keyed.env, keyed.toolchain
        if self.use_cache:
            hit = self.cache.lookup(key)
            if hit is not None and self._take_hit(node, key, hit):
                self.cache.remember(node.identity, key, text, hit.duration, hit.peak_kb)
                return None
        if self.explain is not None:
            self.explain(node, key, text)
        if tc is not None and (tc.private_env or tc.tool_dirs):
            env = {**env, **tc.private_env}
            if tc.tool_dirs:
                env["PATH"] = os.pathsep.join((*tc.tool_dirs, env["PATH"]))
        spawn = Spawn(a.argv, env, keyed.sources, blobs, [o.path for o in a.outputs], a.timeout or self.timeout,
                      test=a.test, rlimit_mb=self.rlimit_mb if a.test else 0,
                      measure_rss=self.measure_rss and a.test,
                      network="requires-network" in a.requirements, sandboxed="no-sandbox" not in a.requirements)
        if tc is not None:
            spawn.read_only = (*tc.sandbox_paths, *tc.tool_dirs)
            spawn.writable = tuple(v for v in tc.private_env.values() if os.path.isabs(v))
        return self._claim(node, _Ready(key, text, spawn))

    def _take_hit(self, node: Node, key: str, hit: ActionResult) -> bool:
        why = unusable_hit(node.action, hit, self.measure_rss)
        if why:
            # E.g. an entry that names other paths than the action declares (a poisoned
            # or foreign cache) is never materialized: treat it as a miss.
            if not why.startswith("recorded without"):
                self.events.emit("cache_mismatch", label=str(node.action.owner), key=key)
            return False
        try:
            for path, digest, _size, exe in hit.outputs:
                self._materialize(path, digest, exe, verify=True)
        except BlobMissing as c:
            self.cache.delete(key)
            self.cache.drop_naming(c.digest)
            if c.corrupt:
                self.stats.corrupt += 1
            self.events.emit("cache_corrupt" if c.corrupt else "cache_missing", label=str(node.action.owner),
                             key=key, blob=c.digest)
            self.progress.print(f"WARNING: cache entry for {node.action.owner} {node.action.mnemonic} was "
                                f"{'corrupt' if c.corrupt else 'incomplete'} (blob {c.digest}); "
                                "running the action again")
            return False
        self.stats.cached += 1
        if node.action.test:
            self._record_test(node, TestOutcome(str(node.action.owner), node.action, hit.status or "PASSED", True,
                                                hit.duration, stdout_digest=hit.stdout, stderr_digest=hit.stderr,
                                                max_rss_kb=hit.max_rss_kb))
        self._note_outputs(node, key, hit.outputs)
        self._record_success(node, key, "cached", 0.0)
        self.progress.advance(None)
        self._complete(node)
        return True

    def _materialize(self, path: str, digest: str, exe: bool, verify: bool) -> None:
        dest = os.path.join(self.root, path)
        try:
            st = os.stat(dest)
            if self.digests.known(path, st) == digest:
                self.generated[path] = (digest, exe)
                return
        except OSError:
            pass
        if verify:
            self.cas.checked(digest, exe)        # raises BlobMissing
        self.cas.materialize(digest, exe, dest)
        self.materialized.add(path)
        self.digests.record(path, os.stat(dest), digest)
        self.generated[path] = (digest, exe)

    # ---------------------------------------------------------------- results
    def _finish_executed(self, node: Node, ready: _Ready, res: SpawnResult) -> None:
        a = node.action
        if self.trace is not None and not res.cancelled:
            self.trace.action(str(a.owner), a.mnemonic, ready.started, time.monotonic(),
                              "executed" if res.ok else "failed")
        if not res.ok and res.lost and not res.cancelled and self._retry_lost(node, ready, res):
            return
        if not res.ok:
            if self.locks is not None:
                self.locks.release(ready.key)   # nothing to wait for: a failure is never cached
            if res.cancelled:
                return
            if a.test and not res.error and not res.missing:
                self._test_failed(node, ready, res)
                return
            if res.timed_out:
                why = f"timed out after {ready.spawn.timeout:g}s"
            elif res.modified:
                why = res.error
                self._discard_modified(res.modified)
            elif res.error:
                why = res.error
            elif res.exit_code != 0:
                why = f"exit code {res.exit_code}"
            else:
                why = "declared output(s) not created: " + ", ".join(res.missing)
            self._fail(node, ready.key, why, res, ready.spawn)
            return
        try:
            for path, digest, _size, exe in res.outputs:
                self._materialize(path, digest, exe, verify=False)
        except BlobMissing:
            # Its output left the cache (cache clear) before it reached the workspace.
            if node.id not in self._lost_output:
                self._lost_output.add(node.id)
                self._runnable.append((node, ready))
                return
            self._fail(node, ready.key, "its outputs were removed from the cache while it ran (twice)", res)
            return
        so = self._store_text(res.stdout)
        se = self._store_text(res.stderr)
        status = res.status if a.test and res.status in ("XFAIL", "SKIPPED") else ""
        result = ActionResult(res.outputs, 0, so, se, res.duration, status, res.max_rss_kb, res.peak_kb)
        self.cache.put(ready.key, result)
        if self.locks is not None:
            self._to_release.append(ready.key)   # released once the row is committed
        self.cache.remember(node.identity, ready.key, ready.components, res.duration, res.peak_kb)
        self.stats.executed += 1
        if not a.test:
            self.stats.builds_executed += 1
        if a.test:
            attempts = self._attempts.get(node.id, 0) + 1
            flaky = attempts > 1 and node.id not in self._solo_tried   # a pass alone after OOM is no flake
            self._record_test(node, TestOutcome(str(a.owner), a, status or ("FLAKY" if flaky else "PASSED"), False,
                                                res.duration, attempts, res.stdout, res.stderr,
                                                max_rss_kb=res.max_rss_kb))
        self._note_outputs(node, ready.key, res.outputs)
        self._record_success(node, ready.key, "executed", round(res.duration, 4))
        self.progress.advance(a.progress)
        if res.stderr.strip() and not a.test and not self.progress.quiet:   # test output: see testing.py
            self.progress.print(f"INFO: From {a.progress}:\n{res.stderr.decode(errors='replace').rstrip()}")
        self._complete(node)

    def _retry_lost(self, node: Node, ready: _Ready, res: SpawnResult) -> bool:
        """An action failed while the cache lost one of its inputs under it (a concurrent
        `cache clear` or `prune`): put the inputs back (from the workspace copy, else by
        running their producers) and run it again. False: report the failure."""
        tries = self._lost_output_tries.get(node.id, 0)
        if tries >= 3:
            return False
        self._lost_output_tries[node.id] = tries + 1
        self.events.emit("inputs_lost", label=str(node.action.owner), mnemonic=node.action.mnemonic,
                         paths=res.lost)
        for path in res.lost:
            digest, exe = self.generated[path]
            try:
                self._blob_for(path, digest, exe)
            except LostInput as e:
                if self.locks is not None:
                    self.locks.release(ready.key)
                self._lost_input(node, e.path, e.digest, e.corrupt)    # runs again once its input is back
                return True
        self._runnable.append((node, ready))
        return True

    def _record_success(self, node: Node, key: str, status: str, duration: float) -> None:
        # Labels and keys need no JSON escaping (their syntax excludes quotes and
        # backslashes); the mnemonic is encoded once per distinct value.
        a = node.action
        mn = self._mnemonics.get(a.mnemonic)
        if mn is None:
            mn = self._mnemonics[a.mnemonic] = json.dumps(a.mnemonic)
        head = f'"label":"{a.owner}","mnemonic":{mn},"key":"{key}","status":'
        self.events.emit_raw("action_finished", f'{head}"{status}","duration":{duration}}}')
        self.finished_events[node.id] = head + '"cached","duration":0.0}'

    def _test_failed(self, node: Node, ready: _Ready, res: SpawnResult) -> None:
        """A test run failed: retry it while --flaky-retries allow, else record it.
        A test failure is a result, not a build failure: the build goes on."""
        attempts = self._attempts.get(node.id, 0) + 1
        self._attempts[node.id] = attempts
        if res.timed_out:
            status = "TIMEOUT"
        elif res.status == "OOM":       # see test_outcome.classify_failure
            status = "OOM"
        else:
            status = res.status if res.status in ("XPASS", "FAILED") else "FAILED"
        if status == "OOM" and self.retry_oom and node.id not in self._solo_tried:
            self._solo_tried.add(node.id)
            self.events.emit("test_retry_alone", label=str(node.action.owner), run=node.action.outputs[0].path,
                             max_rss_kb=res.max_rss_kb or None)
            self._solo.append((node, ready))
            return
        if status != "XPASS" and node.id not in self._solo_tried \
                and attempts <= max(self.flaky_retries, node.action.retries):
            self._runnable.append((node, ready))
            return
        a = node.action
        self.events.emit("action_finished", label=str(a.owner), mnemonic=a.mnemonic, key=ready.key,
                         status="failed", duration=round(res.duration, 4), reason=status.lower())
        self.progress.advance(None)
        self.stats.failed += 1
        self.stats.test_failed += 1
        self._record_test(node, TestOutcome(str(a.owner), a, status, False, res.duration, attempts,
                                            res.stdout, res.stderr, max_rss_kb=res.max_rss_kb))
        self._failed.add(node.id)

    def _record_test(self, node: Node, outcome: TestOutcome) -> None:
        self.tests[node.id] = outcome
        self.events.emit("test_result", label=outcome.label, run=node.action.outputs[0].path,
                         status=outcome.status, cached=outcome.cached, duration=round(outcome.duration, 4),
                         attempts=outcome.attempts, max_rss_kb=outcome.max_rss_kb)

    def _discard_modified(self, paths: list[str]) -> None:
        """An action wrote into generated inputs: their blob (and the workspace outputs
        linked to it) no longer hold their digest. Drop them so they are rebuilt."""
        for path in paths:
            known = self.generated.get(path)
            if known is None:
                continue
            for p in (self.cas.path(*known), os.path.join(self.root, path)):
                try:
                    os.unlink(p)
                except OSError:
                    pass
            self.cache.drop_naming(known[0])
            self.digests.forget(path)

    def _store_text(self, data: bytes) -> str:
        if not data:
            return ""
        from molt_build.digests import hash_bytes
        d = hash_bytes(data)
        self.cas.put_bytes(data, d)
        return d

    def _complete(self, node: Node) -> None:
        waiting = self._rewait.pop(node.id, None)   # a producer run again: only those waiting for it
        if waiting is not None:
            self._redo[node.id] = "done"
        for d in node.dependents if waiting is None else waiting:
            d.pending -= 1
            if d.pending == 0 and d.id not in self._failed:
                heapq.heappush(self._heap, (-d.prio, d.id))

    def _fail(self, node: Node, key: str, why: str, res: SpawnResult | None = None,
              spawn: Spawn | None = None) -> None:
        a = node.action
        self.stats.failed += 1
        self.stats.failures.append(str(a.owner))
        self.events.emit("action_finished", label=str(a.owner), mnemonic=a.mnemonic, key=key,
                         status="failed", duration=round(res.duration, 4) if res else 0.0, reason=why)
        lines = [self.progress.red(f"FAILED: {a.owner} {a.progress} ({why})")]
        if spawn is not None:
            env = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(spawn.env.items()) if k != "TMPDIR")
            lines.append(f"  (cd {shlex.quote(self.root)} && env -i {env} {shlex.join(spawn.argv)})")
        if res is not None:
            for stream in (res.stdout, res.stderr):
                text = stream.decode(errors="replace").rstrip()
                if text:
                    lines.append(text)
        self.progress.advance(None)
        self.progress.print("\n".join(lines))
        # Dependents can never run: count them as skipped, transitively.
        stack = list(node.dependents)
        while stack:
            d = stack.pop()
            if d.id in self._failed:
                continue
            self._failed.add(d.id)
            self.stats.skipped += 1
            stack.extend(d.dependents)
        self._failed.add(node.id)
        if not self.keep_going:
            self._stop = True


class LostInput(Exception):
    """A generated input's blob is gone from the cache or was corrupt."""

    def __init__(self, path: str, digest: str, corrupt: bool):
        super().__init__(path)
        self.path, self.digest, self.corrupt = path, digest, corrupt


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _install_sigterm():
    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    return signal.getsignal(signal.SIGTERM)
