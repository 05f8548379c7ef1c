"""A remote cache over the Remote Execution API v2 (Bazel's `--remote_cache`), spoken
with grpcio to any REAPI server (BuildGrid, Buildbarn, BuildBuddy, NativeLink ...).

  lookup   after a local miss: ActionCache.GetActionResult by the action's REAPI
           digest; a hit whose outputs match the declared ones has its blobs fetched
           (BatchReadBlobs, or ByteStream.Read beyond the server's batch limit),
           checked against their SHA-256, and put in the local cache;
  upload   after a successful local run (never a failed one): FindMissingBlobs, then
           BatchUpdateBlobs under `max_batch_total_size_bytes` or ByteStream.Write,
           for the outputs, stdout, stderr and the action's own messages; then
           UpdateActionResult.

The remote never fails a build and never makes an output wrong: a call that fails is
retried with backoff, then the remote is switched off for the rest of the build with
one warning, and the build goes on locally. What moltb records beyond REAPI's
ActionResult (a test's status, its peak RSS, the run's duration) travels as a
`google.protobuf.Struct` in `execution_metadata.auxiliary_metadata`."""
from __future__ import annotations

import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import grpc
from buildgrid.common.protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2
from buildgrid.common.protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid.common.protos.google.bytestream import bytestream_pb2 as bs_pb2
from buildgrid.common.protos.google.bytestream import bytestream_pb2_grpc as bs_grpc
from google.protobuf import any_pb2, struct_pb2

from molt_build.action_cache import ActionResult
from molt_build.digests import hash_bytes
from molt_build.errors import UsageError
from molt_build.reapi_action import PreparedAction, Sha256Memo, digest_of, prepare

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
CHUNK = 1 << 20
DEFAULT_BATCH = 4 << 20


@dataclass(frozen=True)
class RemoteSettings:
    url: str                          # grpc://host:port or grpcs://host:port
    instance: str = ""
    upload: bool = True
    timeout: float = 10.0             # seconds per call
    retries: int = 3
    token: str = ""                   # sent as `authorization: Bearer <token>`


def check_url(url: str) -> tuple[str, bool]:
    """(host:port, TLS) of a remote URL; a UsageError naming what is wrong."""
    u = urlparse(url)
    if u.scheme not in ("grpc", "grpcs") or not u.hostname or not u.port:
        raise UsageError(f"remote '{url}' is not grpc://host:port or grpcs://host:port")
    return f"{u.hostname}:{u.port}", u.scheme == "grpcs"


class RemoteCache:
    def __init__(self, settings: RemoteSettings, cas, cache_dir: str, warn):
        self.settings, self.cas, self.warn = settings, cas, warn
        target, tls = check_url(settings.url)
        options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options) if tls \
            else grpc.insecure_channel(target, options)
        self._cas = re_grpc.ContentAddressableStorageStub(self.channel)
        self._ac = re_grpc.ActionCacheStub(self.channel)
        self._caps = re_grpc.CapabilitiesStub(self.channel)
        self._bs = bs_grpc.ByteStreamStub(self.channel)
        self.memo = Sha256Memo(cache_dir)
        self.enabled = True
        self._batch: int | None = None
        self.hits = self.uploads = 0
        self._metadata = (("authorization", f"Bearer {settings.token}"),) if settings.token else None

    # ------------------------------------------------------------------ calls
    def _call(self, method, request, what: str, missing_ok: bool = False):
        """One RPC with retries; None when it was NOT_FOUND (and `missing_ok`) or the
        remote is (now) off."""
        if not self.enabled:
            return None
        delay = 0.1
        for attempt in range(self.settings.retries + 1):
            try:
                return method(request, timeout=self.settings.timeout, metadata=self._metadata)
            except grpc.RpcError as e:
                code = e.code()
                if missing_ok and code == grpc.StatusCode.NOT_FOUND:
                    return None
                if code not in RETRYABLE or attempt == self.settings.retries:
                    self._off(f"{what}: {code.name} {e.details() or ''}".strip())
                    return None
                time.sleep(delay)
                delay *= 3
        return None

    def _off(self, why: str) -> None:
        if self.enabled:
            self.enabled = False
            self.warn(f"remote cache {self.settings.url} failed ({why}); going on with the local cache only")

    def batch_limit(self) -> int:
        if self._batch is None:
            caps = self._call(self._caps.GetCapabilities,
                              re_pb2.GetCapabilitiesRequest(instance_name=self.settings.instance), "GetCapabilities")
            limit = caps.cache_capabilities.max_batch_total_size_bytes if caps is not None else 0
            self._batch = limit or DEFAULT_BATCH
        return self._batch

    # ------------------------------------------------------------------ lookup
    def prepare(self, action, keyed) -> PreparedAction | None:
        if not self.enabled:
            return None
        try:
            return prepare(action, keyed, self.cas, self.memo)
        except OSError:
            return None

    def lookup(self, prepared: PreparedAction) -> ActionResult | None:
        """The remote result of the action, its outputs fetched into the local CAS, or None."""
        got = self._call(self._ac.GetActionResult,
                         re_pb2.GetActionResultRequest(instance_name=self.settings.instance,
                                                       action_digest=prepared.digest),
                         "GetActionResult", missing_ok=True)
        if got is None or got.exit_code != 0 or sorted(f.path for f in got.output_files) != prepared.output_paths:
            return None
        outputs = []
        for f in got.output_files:
            xxh = self.fetch(f.digest, f.is_executable)
            if xxh is None:
                return None
            outputs.append((f.path, xxh, f.digest.size_bytes, f.is_executable))
        streams = []
        for d in (got.stdout_digest, got.stderr_digest):
            streams.append("" if not d.size_bytes else (self.fetch(d, False) or ""))
        extra = _aux(got)
        self.hits += 1
        return ActionResult(outputs, 0, streams[0], streams[1], float(extra.get("duration", 0.0)),
                            str(extra.get("status", "")), int(extra.get("max_rss_kb", 0)),
                            int(extra.get("peak_kb", 0)))

    def fetch(self, digest: re_pb2.Digest, exe: bool) -> str | None:
        """A blob into the local CAS (unless it is there), checked against its SHA-256;
        its XXH3 digest, or None."""
        known = self.memo.xxh_of(digest.hash)
        if known is not None and self.cas.has(known, exe):
            return known
        return self._fetch(digest, exe)

    def _fetch(self, digest: re_pb2.Digest, exe: bool) -> str | None:
        if digest.size_bytes <= self.batch_limit() // 2:
            resp = self._call(self._cas.BatchReadBlobs,
                              re_pb2.BatchReadBlobsRequest(instance_name=self.settings.instance, digests=[digest]),
                              "BatchReadBlobs")
            if resp is None or not resp.responses or resp.responses[0].status.code != 0:
                return None
            data = resp.responses[0].data
        else:
            name = f"{self.settings.instance}/blobs/{digest.hash}/{digest.size_bytes}".lstrip("/")
            try:
                data = b"".join(r.data for r in self._bs.Read(bs_pb2.ReadRequest(resource_name=name),
                                                               timeout=self.settings.timeout * 10,
                                                               metadata=self._metadata))
            except grpc.RpcError as e:
                self._off(f"ByteStream.Read: {e.code().name}")
                return None
        if digest_of(data).hash != digest.hash:
            return None                     # never a wrong output: a bad blob is a miss
        xxh = hash_bytes(data)
        self.memo.remember(xxh, digest.hash, digest.size_bytes)
        if exe:
            fd, tmp = tempfile.mkstemp(dir=self.cas.tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self.cas.put_file(tmp, xxh, True, move=True)
        else:
            self.cas.put_bytes(data, xxh)
        return xxh

    # ------------------------------------------------------------------ upload
    def upload(self, prepared: PreparedAction, result: ActionResult) -> None:
        """Store a successful local result remotely (outputs first, then the entry)."""
        if not self.enabled or not self.settings.upload:
            return
        blobs: dict[str, tuple[int, object]] = {h: (len(b), b) for h, b in prepared.messages.items()}
        out = re_pb2.ActionResult(exit_code=0)
        for path, xxh, _size, exe in result.outputs:
            blob = self.cas.path(xxh, exe)
            sha, size = self.memo.of_file(xxh, blob)
            blobs[sha] = (size, blob)
            out.output_files.add(path=path, digest=re_pb2.Digest(hash=sha, size_bytes=size), is_executable=exe)
        for xxh, field in ((result.stdout, out.stdout_digest), (result.stderr, out.stderr_digest)):
            if xxh:
                blob = self.cas.path(xxh)
                sha, size = self.memo.of_file(xxh, blob)
                blobs[sha] = (size, blob)
                field.CopyFrom(re_pb2.Digest(hash=sha, size_bytes=size))
        meta = struct_pb2.Struct()
        meta.update({"duration": result.duration, "status": result.status, "max_rss_kb": result.max_rss_kb,
                     "peak_kb": result.peak_kb})
        packed = any_pb2.Any()
        packed.Pack(meta)
        out.execution_metadata.auxiliary_metadata.append(packed)
        out.execution_metadata.worker = os.uname().nodename
        if not self.upload_blobs(blobs):
            return
        if self._call(self._ac.UpdateActionResult,
                      re_pb2.UpdateActionResultRequest(instance_name=self.settings.instance,
                                                       action_digest=prepared.digest, action_result=out),
                      "UpdateActionResult") is not None:
            self.uploads += 1

    def upload_blobs(self, blobs: dict[str, tuple[int, object]]) -> bool:
        """Upload what the server lacks. `blobs`: sha -> (size, bytes or a file path)."""
        digests = [re_pb2.Digest(hash=h, size_bytes=s) for h, (s, _) in blobs.items()]
        resp = self._call(self._cas.FindMissingBlobs,
                          re_pb2.FindMissingBlobsRequest(instance_name=self.settings.instance, blob_digests=digests),
                          "FindMissingBlobs")
        if resp is None:
            return False
        limit = self.batch_limit()
        batch, batch_size = [], 0
        for d in resp.missing_blob_digests:
            size, src = blobs[d.hash]
            if size > limit // 2:
                if not self._write_stream(d, src):
                    return False
                continue
            if batch and batch_size + size > limit // 2:
                if not self._write_batch(batch):
                    return False
                batch, batch_size = [], 0
            batch.append((d, src))
            batch_size += size
        return self._write_batch(batch) if batch else True

    @staticmethod
    def _bytes(src) -> bytes:
        if isinstance(src, bytes):
            return src
        with open(src, "rb") as f:
            return f.read()

    def _write_batch(self, batch) -> bool:
        req = re_pb2.BatchUpdateBlobsRequest(instance_name=self.settings.instance)
        for d, src in batch:
            req.requests.add(digest=d, data=self._bytes(src))
        resp = self._call(self._cas.BatchUpdateBlobs, req, "BatchUpdateBlobs")
        return resp is not None and all(r.status.code == 0 for r in resp.responses)

    def _write_stream(self, d: re_pb2.Digest, src) -> bool:
        name = f"{self.settings.instance}/uploads/{uuid.uuid4()}/blobs/{d.hash}/{d.size_bytes}".lstrip("/")
        data = self._bytes(src)

        def chunks():
            for off in range(0, max(len(data), 1), CHUNK):
                yield bs_pb2.WriteRequest(resource_name=name, write_offset=off, data=data[off:off + CHUNK],
                                          finish_write=off + CHUNK >= len(data))
        try:
            resp = self._bs.Write(chunks(), timeout=self.settings.timeout * 10, metadata=self._metadata)
        except grpc.RpcError as e:
            self._off(f"ByteStream.Write: {e.code().name}")
            return False
        return resp.committed_size == d.size_bytes

    def close(self) -> None:
        self.channel.close()
        self.memo.close()


def _aux(result: re_pb2.ActionResult) -> dict:
    for packed in result.execution_metadata.auxiliary_metadata:
        meta = struct_pb2.Struct()
        if packed.Unpack(meta):
            return dict(meta)
    return {}
