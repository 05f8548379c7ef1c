"""An action as the Remote Execution API v2 sees it: a `Command` (argv, the declared
environment, the output paths), an input root (a Merkle tree of `Directory` messages
over every input file by SHA-256) and the `Action` naming both. Its digest is the
action's REAPI key, beside moltb's own: two actions share it exactly when they share
moltb's key.

What moltb keys beyond the files (the toolchain's fingerprint and the test policy) is
an input file of the root, `.moltb/fingerprint`, so a server or worker sees an
ordinary action. SHA-256 digests of moltb's blobs (which it names by XXH3) are
memoised in the cache directory, so each file is hashed once per cache.

Imported only when a remote cache or executor is used (`pip install 'molt_build[remote]'`)."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass, field

from buildgrid.common.protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2

FINGERPRINT_FILE = ".moltb/fingerprint"


def digest_of(data: bytes) -> re_pb2.Digest:
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


class Sha256Memo:
    """SHA-256 and size of files known by their XXH3 digest, memoised per cache."""

    def __init__(self, cache_dir: str):
        self._db = sqlite3.connect(os.path.join(cache_dir, "reapi-digests.db"), timeout=30,
                                   check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS sha (xxh TEXT PRIMARY KEY, sha TEXT NOT NULL, size INTEGER)")
        self._known: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def of_file(self, xxh: str, path: str) -> tuple[str, int]:
        known = self._known.get(xxh)
        if known is not None:
            return known
        with self._lock:
            row = self._db.execute("SELECT sha, size FROM sha WHERE xxh = ?", (xxh,)).fetchone()
            if row is None:
                h = hashlib.sha256()
                size = 0
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                        size += len(chunk)
                row = (h.hexdigest(), size)
                self._db.execute("INSERT OR IGNORE INTO sha VALUES (?, ?, ?)", (xxh, *row))
            self._known[xxh] = (row[0], row[1])
            return self._known[xxh]

    def xxh_of(self, sha: str) -> str | None:
        """The XXH3 digest of a blob known by its SHA-256, if this cache has seen it."""
        with self._lock:
            row = self._db.execute("SELECT xxh FROM sha WHERE sha = ?", (sha,)).fetchone()
        return row[0] if row else None

    def remember(self, xxh: str, sha: str, size: int) -> None:
        """A blob whose SHA-256 is known (it came from a remote)."""
        self._known[xxh] = (sha, size)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO sha VALUES (?, ?, ?)", (xxh, sha, size))

    def close(self) -> None:
        self._db.close()


@dataclass
class PreparedAction:
    """An action's REAPI digest and the messages behind it (by SHA-256)."""

    digest: re_pb2.Digest
    messages: dict[str, bytes] = field(default_factory=dict)          # Action, Command, Directories, fingerprint
    inputs: dict[str, tuple[str, int]] = field(default_factory=dict)  # input files: sha -> (host path, size)
    output_paths: list[str] = field(default_factory=list)
    files: list[tuple[str, str, int, bool]] = field(default_factory=list)   # (exec path, sha, size, executable)


def _tree(files: list[tuple[str, str, int, bool]], messages: dict[str, bytes]) -> re_pb2.Digest:
    """The input root: one Directory per directory, files and subdirectories sorted by
    name, serialized deterministically."""
    root: dict = {}
    for path, sha, size, exe in files:
        node = root
        *dirs, name = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = (sha, size, exe)

    def build(node: dict) -> re_pb2.Digest:
        d = re_pb2.Directory()
        for name in sorted(node):
            entry = node[name]
            if isinstance(entry, dict):
                d.directories.add(name=name, digest=build(entry))
            else:
                d.files.add(name=name, digest=re_pb2.Digest(hash=entry[0], size_bytes=entry[1]),
                            is_executable=entry[2])
        data = d.SerializeToString(deterministic=True)
        dg = digest_of(data)
        messages[dg.hash] = data
        return dg
    return build(root)


def prepare(action, keyed, cas, memo: Sha256Memo, env: dict[str, str] | None = None) -> PreparedAction:
    """The REAPI form of an action whose moltb key is computed (`keyed`). `env`: the
    environment it runs with, when it differs from the keyed one (remote execution:
    the toolchain's directories on PATH)."""
    messages: dict[str, bytes] = {}
    inputs: dict[str, tuple[str, int]] = {}
    files = []
    for exec_path, host, xxh in keyed.sources:
        sha, size = memo.of_file(xxh, host)
        files.append((exec_path, sha, size, os.access(host, os.X_OK)))
        inputs[sha] = (host, size)
    for exec_path, xxh, exe in keyed.blobs:
        blob = cas.path(xxh, exe)
        sha, size = memo.of_file(xxh, blob)
        files.append((exec_path, sha, size, exe))
        inputs[sha] = (blob, size)
    fp = keyed.fingerprint.encode()
    fp_digest = digest_of(fp)
    messages[fp_digest.hash] = fp
    files.append((FINGERPRINT_FILE, fp_digest.hash, fp_digest.size_bytes, False))
    outputs = sorted(o.path for o in action.outputs)
    command = re_pb2.Command(arguments=list(action.argv), output_files=outputs, output_paths=outputs)
    env = keyed.env if env is None else env
    for name in sorted(env):
        command.environment_variables.add(name=name, value=env[name])
    cmd = command.SerializeToString(deterministic=True)
    cmd_digest = digest_of(cmd)
    messages[cmd_digest.hash] = cmd
    msg = re_pb2.Action(command_digest=cmd_digest, input_root_digest=_tree(files, messages))
    if action.timeout:
        msg.timeout.FromSeconds(int(action.timeout))
    data = msg.SerializeToString(deterministic=True)
    dg = digest_of(data)
    messages[dg.hash] = data
    return PreparedAction(dg, messages, inputs, outputs, files)
