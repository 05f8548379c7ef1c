"""Distributed execution on a Dask cluster (`--executor dask://host:8786`): an action
runner that submits each action's spawn as a Dask task. Workers (`dask worker`
processes with molt_build installed) run it with the same local executor and sandbox
as a local build.

With a remote cache (`--remote`), data moves through its REAPI CAS: the client uploads
the inputs the server lacks and ships only the spawn and its inputs' SHA-256 digests;
the worker fetches them into its own cache ($MOLTB_WORKER_CACHE), runs, and uploads
the outputs; the client fetches them. Without one, inputs and outputs go through the
cache directory, which the client and the workers then share (one machine, or a shared
file system). The client alone writes action results: a worker that dies is Dask's
business (its task runs again elsewhere), and a failed action is never recorded.

The worker that ran each action is named in the event log (`"worker"` in
`action_finished`)."""
from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse

from molt_build.actiongraph import Node
from molt_build.errors import EnvironmentProblem, UsageError
from molt_build.executor import SpawnResult
from molt_build.run_state import Ready
from molt_build.runner import QueuedResults

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


_CLIENTS: dict[tuple, object] = {}       # per worker process: one REAPI client per (settings, worker cache)


def worker_cache_dir() -> str:
    """A worker's own cache (inputs fetched from the REAPI CAS, outputs before upload)."""
    import tempfile
    return os.environ.get("MOLTB_WORKER_CACHE") or os.path.join(tempfile.gettempdir(), f"moltb-worker-{os.getuid()}")


def run_via_cas(spawn, files, remote: dict, sandbox: str):
    """The Dask task when data moves through a REAPI CAS: fetch the inputs (by SHA-256)
    into this worker's cache, run, upload the outputs; the result names them by SHA-256.
    Nothing is written for a failed action."""
    from distributed import get_worker

    from molt_build.cas import CAS
    from molt_build.executor import LocalExecutor
    from molt_build.reapi_action import FINGERPRINT_FILE
    from molt_build.remote_cache import RemoteCache, RemoteSettings, re_pb2
    from molt_build.sandbox import sandbox_base
    cache_dir = worker_cache_dir()
    problems: list[str] = []
    key = (tuple(sorted(remote.items())), cache_dir)
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS[key] = RemoteCache(RemoteSettings(**remote), CAS(cache_dir), cache_dir, problems.append)
    client.warn, client.enabled = problems.append, True
    staged = []
    for path, sha, size, exe in files:
        if path == FINGERPRINT_FILE:
            continue
        xxh = client.fetch(re_pb2.Digest(hash=sha, size_bytes=size), exe)
        if xxh is None:
            return SpawnResult(-1, error=f"worker {get_worker().address} cannot fetch input {path} ({sha}) from "
                                         f"the remote CAS {remote['url']}: {'; '.join(problems) or 'missing'}")
        staged.append((path, client.cas.path(xxh, exe), xxh))
    spawn.sources, spawn.blobs = staged, []
    params = (sandbox_base(cache_dir), cache_dir, cache_dir, sandbox)
    executor = _EXECUTORS.get(params)
    if executor is None:
        executor = _EXECUTORS[params] = LocalExecutor(params[0], client.cas, cache_dir, sandbox)
    result = executor.execute(spawn)
    result.worker = get_worker().address
    if result.ok:
        blobs, outputs = {}, []
        for path, xxh, size, exe in result.outputs:
            sha, size = client.memo.of_file(xxh, client.cas.path(xxh, exe))
            blobs[sha] = (size, client.cas.path(xxh, exe))
            outputs.append((path, sha, size, exe))
        if not client.upload_blobs(blobs):
            return SpawnResult(-1, error=f"worker {result.worker} cannot upload outputs to the remote CAS "
                                         f"{remote['url']}: {'; '.join(problems)}")
        result.outputs = outputs
    return result


def dask_address(url: str) -> str:
    u = urlparse(url)
    if u.scheme != "dask" or not u.hostname or not u.port:
        raise UsageError(f"executor '{url}' is not dask://host:port")
    return f"tcp://{u.hostname}:{u.port}"


class DaskRunner(QueuedResults):
    def __init__(self, url: str, sandbox_base: str, cache_dir: str, root: str, sandbox: str, remote=None):
        from distributed import Client
        super().__init__()
        try:
            self.client = Client(dask_address(url), timeout=30, set_as_default=False)
        except OSError as e:
            raise EnvironmentProblem(f"cannot reach the Dask scheduler at {url}: {e}") from None
        workers = self.client.scheduler_info().get("workers", {})
        self.capacity = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
        self.params = (sandbox_base, cache_dir, root, sandbox)
        self.remote = remote            # a RemoteCache: data moves through its CAS, not the shared cache dir
        self._via_cas: set = set()
        self._futures: set = set()

    def submit(self, node: Node, ready: Ready) -> None:
        key = f"moltb-{node.action.mnemonic}-{uuid.uuid4().hex}"
        prepared = ready.remote
        if self.remote is not None and self.remote.enabled and prepared is not None and self._send_inputs(prepared):
            s = self.remote.settings
            remote = {"url": s.url, "instance": s.instance, "timeout": s.timeout, "retries": s.retries,
                      "token": s.token}
            fut = self.client.submit(run_via_cas, ready.spawn, prepared.files, remote, self.params[3], pure=False,
                                     key=key)
            self._via_cas.add(fut)
        else:
            fut = self.client.submit(run_on_worker, ready.spawn, *self.params, pure=False, key=key)
        self._futures.add(fut)
        fut.add_done_callback(lambda f, node=node, ready=ready: self._done.put((node, ready, f)))

    def _send_inputs(self, prepared) -> bool:
        """Upload the inputs and messages of an action the server lacks."""
        blobs = {sha: (size, path) for sha, (path, size) in prepared.inputs.items()}
        blobs.update({h: (len(b), b) for h, b in prepared.messages.items()})
        return self.remote.upload_blobs(blobs)

    def _outcome(self, item):
        node, ready, fut = item
        self._futures.discard(fut)
        via_cas = fut in self._via_cas
        self._via_cas.discard(fut)
        if fut.cancelled():
            return node, ready, SpawnResult(-1, cancelled=True)
        exc = fut.exception()
        if exc is not None:
            return node, ready, exc
        res = fut.result()
        if via_cas and res.ok:          # outputs named by SHA-256: into the local cache
            from molt_build.remote_cache import re_pb2
            outputs = []
            for path, sha, size, exe in res.outputs:
                xxh = self.remote.fetch(re_pb2.Digest(hash=sha, size_bytes=size), exe)
                if xxh is None:
                    return node, ready, SpawnResult(-1, error=f"output {path} of {res.worker} is not in the remote "
                                                              f"CAS {self.remote.settings.url}")
                outputs.append((path, xxh, size, exe))
            res.outputs = outputs
        return node, ready, res

    def cancel_all(self) -> None:
        self.client.cancel(list(self._futures))

    def close(self) -> None:
        self.client.close()
