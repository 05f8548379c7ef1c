"""What happens to a test run that fails (Bazel's --flaky_test_attempts, and Molt's
OOM retry): run it again alone when it ran out of memory (once), again while flaky
retries allow, else record its failure. A pass after a retry is FLAKY; a pass alone
after an OOM is not a flake."""
from __future__ import annotations

from molt_build.executor import SpawnResult

ALONE, AGAIN, RECORD = "alone", "again", "record"


class RetryPolicy:
    def __init__(self, flaky_retries: int = 0, retry_oom: bool = True):
        self.flaky_retries = flaky_retries
        self.retry_oom = retry_oom
        self._attempts: dict[int, int] = {}        # node id -> failed attempts so far
        self._alone: set[int] = set()               # runs retried alone after an OOM

    def failures(self, node_id: int) -> int:
        """Failed attempts so far."""
        return self._attempts.get(node_id, 0)

    def on_failure(self, node_id: int, retries: int, res: SpawnResult) -> tuple[str, str]:
        """(what to do: ALONE, AGAIN or RECORD; the run's status). `retries`: the
        test's own retry budget."""
        attempts = self.failures(node_id) + 1
        self._attempts[node_id] = attempts
        if res.timed_out:
            status = "TIMEOUT"
        elif res.status == "OOM":       # see test_outcome.classify_failure
            status = "OOM"
        else:
            status = res.status if res.status in ("XPASS", "FAILED") else "FAILED"
        if status == "OOM" and self.retry_oom and node_id not in self._alone:
            self._alone.add(node_id)
            return ALONE, status
        if status != "XPASS" and node_id not in self._alone and attempts <= max(self.flaky_retries, retries):
            return AGAIN, status
        return RECORD, status

    def passed_status(self, node_id: int) -> str:
        flaky = self.failures(node_id) > 0 and node_id not in self._alone
        return "FLAKY" if flaky else "PASSED"
