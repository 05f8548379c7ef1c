"""How a build heals a cache that lost or rotted a blob under it (part of the scheduler):
a cache entry naming a bad blob is dropped and its action runs again; a generated input
that is gone (a concurrent `cache clear` or `prune`) or corrupt is put back from the
workspace copy, else its producer runs again while the actions that need it wait; an
action that failed because its input vanished under it runs again. Never a wrong
output."""
from __future__ import annotations

from molt_build.actiongraph import Node
from molt_build.cas import BlobMissing
from molt_build.executor import SpawnResult
from molt_build.outputs import LostInput
from molt_build.run_state import Ready


class CacheHealing:
    """Mixed into the Scheduler: uses its plan, cache, outputs, stats, events, progress,
    claims, prior, dirty and _fail."""

    def _bad_entry(self, node: Node, key: str, c: BlobMissing) -> None:
        """A cache entry names a blob that is gone or corrupt: drop it (and every entry
        naming the blob); the action runs again."""
        self.cache.delete(key)
        self.cache.drop_naming(c.digest)
        if c.corrupt:
            self.stats.corrupt += 1
        self.events.emit("cache_corrupt" if c.corrupt else "cache_missing", label=str(node.action.owner),
                         key=key, blob=c.digest)
        self.progress.print(f"WARNING: cache entry for {node.action.owner} {node.action.mnemonic} was "
                            f"{'corrupt' if c.corrupt else 'incomplete'} (blob {c.digest}); "
                            "running the action again")

    def _lost_input(self, node: Node, path: str, digest: str, corrupt: bool) -> None:
        """A generated input is gone from the cache, or was not what its digest says:
        drop every result that names it, run its producer again and let `node` (and
        any other action that needs it) wait for it. Never a wrong output."""
        producer = self.graph.producer[path]
        state = self.plan.rerun_state(producer)
        self.plan.wait_for_rerun(node, producer)
        if state == "running":
            return                                  # already on its way
        kind = "corrupt" if corrupt else "missing"
        if state == "done":
            self.plan.cancel_waits(node, producer)
            self._fail(node, "", f"input {path} is {kind} in the cache again after its producer ran")
            return
        if corrupt:
            self.stats.corrupt += 1
        self.cache.drop_naming(digest)
        self.outputs.forget(path)
        if self.prior is not None:
            self.prior.pop(producer.identity, None)
        self.dirty.add(path)
        self.stats.total += 1                       # the producer runs once more
        p = producer.action
        self.events.emit("cache_corrupt" if corrupt else "cache_missing", label=str(node.action.owner),
                         path=path, blob=digest, producer=str(p.owner), mnemonic=p.mnemonic)
        self.progress.print(f"WARNING: {path} was {kind} in the cache (blob {digest}); running {p.owner} "
                            f"{p.mnemonic} again")
        self.plan.rerun(producer)

    def _retry_lost(self, node: Node, ready: Ready, res: SpawnResult) -> bool:
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
            digest, exe = self.outputs.generated[path]
            try:
                self.outputs.blob_for(path, digest, exe)
            except LostInput as e:
                self.claims.release(ready.key)
                self._lost_input(node, e.path, e.digest, e.corrupt)    # runs again once its input is back
                return True
        self._runnable.append((node, ready))
        return True
