"""REAPI remote execution (`--executor reapi://host:port`): an action runner for teams
with a REAPI farm (BuildGrid, Buildbarn, BuildBuddy ...). Each action's inputs and
messages the server lacks are uploaded to its CAS; `Execution.Execute` runs it (the
command with the environment it runs with here, so the workers need the same
toolchains at the same paths); the outputs come back into the local cache. The
server's own action cache is skipped: moltb's local and remote caches decide hits.

Test runs stay local: their status file, peak RSS and memory cap are the local
executor's."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc

from molt_build.actiongraph import Node
from molt_build.executor import SpawnResult
from molt_build.reapi_action import prepare
from molt_build.remote_cache import re_grpc, re_pb2
from molt_build.run_state import Ready
from molt_build.runner import LocalRunner, QueuedResults


class ReapiRunner(QueuedResults):
    def __init__(self, remote, local: LocalRunner, jobs: int):
        super().__init__()
        self.remote, self.local = remote, local
        self.capacity = max(1, jobs)
        self._exec = re_grpc.ExecutionStub(remote.channel)
        self._pool = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="moltb-reapi")

    def submit(self, node: Node, ready: Ready) -> None:
        if node.action.test:
            self.local.submit(node, ready)
            return
        fut = self._pool.submit(self._execute, node, ready)
        fut.add_done_callback(lambda f, node=node, ready=ready: self._done.put((node, ready, f)))

    def _outcome(self, item):
        node, ready, fut = item
        exc = fut.exception()
        return node, ready, (exc if exc is not None else fut.result())

    def next_result(self, timeout: float):
        return self.local.next_result(0) or super().next_result(timeout)

    def pending_results(self):
        return self.local.pending_results() + super().pending_results()

    def _execute(self, node: Node, ready: Ready) -> SpawnResult:
        s = self.remote.settings
        keyed = ready.keyed
        env = {k: v for k, v in ready.spawn.env.items() if k != "TMPDIR"}
        prepared = prepare(node.action, keyed, self.remote.cas, self.remote.memo, env)
        blobs = {sha: (size, path) for sha, (path, size) in prepared.inputs.items()}
        blobs.update({h: (len(b), b) for h, b in prepared.messages.items()})
        if not self.remote.upload_blobs(blobs):
            return SpawnResult(-1, error=f"cannot upload the inputs to {s.url}")
        request = re_pb2.ExecuteRequest(instance_name=s.instance, action_digest=prepared.digest,
                                        skip_cache_lookup=True)
        try:
            operation = None
            for operation in self._exec.Execute(request, timeout=max(s.timeout, ready.spawn.timeout or 0) * 10,
                                                metadata=self.remote._metadata):
                if operation.done:
                    break
        except grpc.RpcError as e:
            return SpawnResult(-1, error=f"remote execution on {s.url} failed: {e.code().name} {e.details() or ''}")
        response = re_pb2.ExecuteResponse()
        if operation is None or not operation.done or operation.error.code or not operation.response.Unpack(response):
            why = operation.error.message if operation is not None and operation.error.code else "no result"
            return SpawnResult(-1, error=f"remote execution on {s.url} failed: {why}")
        if response.status.code:
            return SpawnResult(-1, error=f"remote execution on {s.url} failed: {response.status.message}")
        return self._result(response.result, ready)

    def _result(self, result, ready: Ready) -> SpawnResult:
        streams = []
        for d in (result.stdout_digest, result.stderr_digest):
            xxh = self.remote.fetch(d, False) if d.size_bytes else ""
            streams.append(self.remote.cas.read_bytes(xxh) or b"" if xxh else b"")
        res = SpawnResult(result.exit_code, stdout=streams[0], stderr=streams[1],
                          worker=result.execution_metadata.worker or self.remote.settings.url)
        if result.exit_code != 0:
            return res
        got = {f.path: f for f in result.output_files}
        for path in ready.spawn.outputs:
            f = got.get(path)
            xxh = self.remote.fetch(f.digest, f.is_executable) if f is not None else None
            if xxh is None:
                res.missing.append(path)
                continue
            res.outputs.append((path, xxh, f.digest.size_bytes, f.is_executable))
        meta = result.execution_metadata
        if meta.HasField("execution_start_timestamp") and meta.HasField("execution_completed_timestamp"):
            res.duration = (meta.execution_completed_timestamp.ToNanoseconds()
                            - meta.execution_start_timestamp.ToNanoseconds()) / 1e9
        return res

    def cancel_all(self) -> None:
        self.local.cancel_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.local.close()
        self._pool.shutdown(wait=True)
