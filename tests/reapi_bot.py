"""A minimal REAPI worker for the tests: it speaks BuildGrid's Bots API (Remote Workers
API v1test2), takes each lease's Action, fetches the Command and the input tree from
the CAS into a fresh directory, runs the command there, uploads the outputs, stdout and
stderr, and completes the lease with the ActionResult. No sandbox: it exists only so
that moltb's REAPI executor is tested against a real Execution service.

    python reapi_bot.py HOST:PORT [INSTANCE]
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import grpc
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2 as bs
from buildgrid._protos.google.bytestream import bytestream_pb2_grpc as bs_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc, worker_pb2


def digest(data: bytes) -> re.Digest:
    return re.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


class Bot:
    def __init__(self, target: str, instance: str):
        channel = grpc.insecure_channel(target)
        self.instance = instance
        self.bots = bots_pb2_grpc.BotsStub(channel)
        self.cas = re_grpc.ContentAddressableStorageStub(channel)
        self.bytestream = bs_grpc.ByteStreamStub(channel)
        self.name = f"moltb-test-bot-{os.getpid()}"

    def read(self, d: re.Digest) -> bytes:
        resp = self.cas.BatchReadBlobs(re.BatchReadBlobsRequest(instance_name=self.instance, digests=[d]))
        return resp.responses[0].data

    def write(self, blobs: list[bytes]) -> None:
        req = re.BatchUpdateBlobsRequest(instance_name=self.instance)
        for b in blobs:
            if len(b) > 1 << 20:            # large ones through ByteStream, in chunks
                d = digest(b)
                name = f"uploads/{uuid.uuid4()}/blobs/{d.hash}/{d.size_bytes}"
                self.bytestream.Write(iter([bs.WriteRequest(resource_name=name, write_offset=off,
                                                            data=b[off:off + (1 << 20)],
                                                            finish_write=off + (1 << 20) >= len(b))
                                            for off in range(0, len(b), 1 << 20)]))
            else:
                req.requests.add(digest=digest(b), data=b)
        if req.requests:
            self.cas.BatchUpdateBlobs(req)

    def stage(self, d: re.Digest, where: str) -> None:
        tree = re.Directory.FromString(self.read(d))
        os.makedirs(where, exist_ok=True)
        for f in tree.files:
            path = os.path.join(where, f.name)
            with open(path, "wb") as out:
                out.write(self.read(f.digest))
            os.chmod(path, 0o755 if f.is_executable else 0o644)
        for sub in tree.directories:
            self.stage(sub.digest, os.path.join(where, sub.name))

    def run(self, action: re.Action) -> re.ActionResult:
        command = re.Command.FromString(self.read(action.command_digest))
        work = tempfile.mkdtemp(prefix="bot.")
        try:
            self.stage(action.input_root_digest, work)
            for p in command.output_paths:
                os.makedirs(os.path.dirname(os.path.join(work, p)), exist_ok=True)
            env = {e.name: e.value for e in command.environment_variables}
            env["TMPDIR"] = work
            proc = subprocess.run(list(command.arguments), cwd=work, env=env, capture_output=True,
                                  timeout=action.timeout.seconds or 600)
            result = re.ActionResult(exit_code=proc.returncode)
            blobs = [proc.stdout, proc.stderr]
            result.stdout_digest.CopyFrom(digest(proc.stdout))
            result.stderr_digest.CopyFrom(digest(proc.stderr))
            for p in command.output_paths:
                path = os.path.join(work, p)
                if os.path.isfile(path):
                    with open(path, "rb") as f:
                        data = f.read()
                    blobs.append(data)
                    result.output_files.add(path=p, digest=digest(data), is_executable=os.access(path, os.X_OK))
            self.write(blobs)
            result.execution_metadata.worker = self.name
            return result
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def serve(self) -> None:
        session = self.bots.CreateBotSession(bots_pb2.CreateBotSessionRequest(
            parent=self.instance, bot_session=bots_pb2.BotSession(
                bot_id=self.name, status=bots_pb2.BotStatus.Value("OK"),
                worker=worker_pb2.Worker(devices=[worker_pb2.Device(handle=self.name)]))), timeout=5)
        todo = (bots_pb2.LeaseState.Value("PENDING"), bots_pb2.LeaseState.Value("ACTIVE"))
        while True:
            for lease in session.leases:
                if lease.state in todo:
                    action = re.Action()
                    if not lease.payload.Unpack(action):          # a digest of one, on other servers
                        d = re.Digest()
                        lease.payload.Unpack(d)
                        action = re.Action.FromString(self.read(d))
                    lease.result.Pack(self.run(action))
                    lease.state = bots_pb2.LeaseState.Value("COMPLETED")
            try:      # the server holds the call until it has work, or until the deadline
                session = self.bots.UpdateBotSession(
                    bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session), timeout=30)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
            time.sleep(0.01)


if __name__ == "__main__":
    Bot(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "").serve()
