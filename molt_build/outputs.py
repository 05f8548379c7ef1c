"""Where outputs live: the CAS blobs and their workspace copies. Puts a result's
outputs in the workspace (hard links into the CAS, checked once against their digest
when they come from a cache hit), stages generated inputs for an action from a blob
that is known good, and takes back the ones an action damaged."""
from __future__ import annotations

import os

from molt_build.cas import CAS, BlobMissing
from molt_build.digests import DigestCache, hash_bytes, hash_file


class LostInput(Exception):
    """A generated input's blob is gone from the cache or was corrupt."""

    def __init__(self, path: str, digest: str, corrupt: bool):
        super().__init__(path)
        self.path, self.digest, self.corrupt = path, digest, corrupt


class Outputs:
    def __init__(self, root: str, cas: CAS, digests: DigestCache):
        self.root, self.cas, self.digests = root, cas, digests
        # path -> (digest, executable) for every generated file known so far
        self.generated: dict[str, tuple[str, bool]] = {}
        self.materialized: set[str] = set()     # outputs (re)written in the workspace by this build

    def blob_for(self, path: str, digest: str, exe: bool) -> str:
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

    def materialize(self, path: str, digest: str, exe: bool, verify: bool) -> None:
        """Put an output in the workspace (unless it is there already). `verify`: check
        the blob first (a cache hit); raises BlobMissing."""
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

    def forget(self, path: str) -> None:
        self.digests.forget(path)
        self.generated.pop(path, None)

    def discard_modified(self, paths: list[str], drop_naming) -> None:
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
            drop_naming(known[0])
            self.digests.forget(path)

    def store_text(self, data: bytes) -> str:
        """A test's or action's stdout/stderr, in the CAS ('' when empty)."""
        if not data:
            return ""
        d = hash_bytes(data)
        self.cas.put_bytes(data, d)
        return d
