"""Distributed execution on a Dask cluster (`--executor dask://host:8786`): an action
runner that submits each action's spawn as a Dask task. Workers (`dask worker`
processes with molt_build installed) run it with the same local executor and sandbox
as a local build, reading inputs from and writing outputs to the cache directory, which
the client and the workers share (one machine, or a shared file system). The client
alone writes action results: a worker that dies is Dask's business (its task runs
again elsewhere), and a failed action is never recorded.

The worker that ran each action is named in the event log (`"worker"` in
`action_finished`)."""
from __future__ import annotations

import queue
import uuid
from urllib.parse import urlparse

from molt_build.actiongraph import Node
from molt_build.errors import EnvironmentProblem, UsageError
from molt_build.executor import SpawnResult
from molt_build.run_state import Ready

_EXECUTORS: dict[tuple, object] = {}      # per worker process: one local executor per (sandbox, cache, root)


def run_on_worker(spawn, sandbox_base: str, cache_dir: str, root: str, sandbox: str):
    """The Dask task: run `spawn` in this worker's local executor."""
    from distributed import get_worker

    from molt_build.cas import CAS
    from molt_build.executor import LocalExecutor
    params = (sandbox_base, cache_dir, root, sandbox)
    executor = _EXECUTORS.get(params)
    if executor is None:
        executor = _EXECUTORS[params] = LocalExecutor(sandbox_base, CAS(cache_dir), root, sandbox)
    result = executor.execute(spawn)
    result.worker = get_worker().address
    return result


def dask_address(url: str) -> str:
    u = urlparse(url)
    if u.scheme != "dask" or not u.hostname or not u.port:
        raise UsageError(f"executor '{url}' is not dask://host:port")
    return f"tcp://{u.hostname}:{u.port}"


class DaskRunner:
    def __init__(self, url: str, sandbox_base: str, cache_dir: str, root: str, sandbox: str):
        from distributed import Client
        try:
            self.client = Client(dask_address(url), timeout=30, set_as_default=False)
        except OSError as e:
            raise EnvironmentProblem(f"cannot reach the Dask scheduler at {url}: {e}") from None
        workers = self.client.scheduler_info().get("workers", {})
        self.capacity = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
        self.params = (sandbox_base, cache_dir, root, sandbox)
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._futures: set = set()

    def submit(self, node: Node, ready: Ready) -> None:
        fut = self.client.submit(run_on_worker, ready.spawn, *self.params, pure=False,
                                 key=f"moltb-{node.action.mnemonic}-{uuid.uuid4().hex}")
        self._futures.add(fut)
        fut.add_done_callback(lambda f, node=node, ready=ready: self._done.put((node, ready, f)))

    def _outcome(self, item):
        node, ready, fut = item
        self._futures.discard(fut)
        if fut.cancelled():
            return node, ready, SpawnResult(-1, cancelled=True)
        exc = fut.exception()
        return node, ready, (exc if exc is not None else fut.result())

    def next_result(self, timeout: float):
        try:
            return self._outcome(self._done.get(timeout=timeout))
        except queue.Empty:
            return None

    def pending_results(self):
        out = []
        while True:
            try:
                out.append(self._outcome(self._done.get_nowait()))
            except queue.Empty:
                return out

    def cancel_all(self) -> None:
        self.client.cancel(list(self._futures))

    def close(self) -> None:
        self.client.close()
