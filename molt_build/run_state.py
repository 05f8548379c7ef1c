"""What the scheduler is told (a frozen config) and what it tells (build statistics,
test outcomes), and the state of an action once it is ready to run."""
from __future__ import annotations

from dataclasses import dataclass, field

from molt_build.action_status import KeyPolicy
from molt_build.executor import Spawn
from molt_build.resources import Need


@dataclass(frozen=True)
class SchedulerConfig:
    jobs: int = 1                      # actions run at once (CPU slots)
    keep_going: bool = False           # go on after a failed action
    use_cache: bool = True
    timeout: float | None = None       # per action, unless it declares its own
    flaky_retries: int = 0             # test runs: attempts beyond the first
    rlimit_mb: int = 0                 # address-space cap of each test process
    retry_oom: bool = True             # rerun a test killed for memory once, alone
    measure_rss: bool = False          # test runs: record their peak RSS
    policy: KeyPolicy = KeyPolicy()


@dataclass
class BuildStats:
    total: int = 0
    executed: int = 0
    cached: int = 0
    remote_cached: int = 0       # ... of which came from the remote cache
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
class Ready:
    """Per-node state known once the node is ready."""

    key: str = ""
    components: str = ""
    spawn: Spawn | None = None
    started: float = 0.0
    waiting_since: float = 0.0
    need: Need | None = None          # its RAM and CPU (see resources.py)
    remote: object = None             # its REAPI form, when a remote cache is used (reapi_action.py)
    keyed: object = None              # its key and what it reads (action_status.KeyedAction)
