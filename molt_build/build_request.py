"""A build request: what `moltb build` and `moltb test` were asked to do. Its flag
fields, their defaults and its snapshot signature come from the flag table (flags.py),
parsed straight from everyday arguments so an incremental build does not pay for
importing the CLI framework, or from the typer commands' values: both the same way."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from molt_build import flags
from molt_build.errors import UsageError

EMPTY_TESTS = {"passed": 0, "failed": 0, "cached": 0, "flaky": 0, "xfail": 0, "skipped": 0,
               "xpass": 0, "oom": 0, "timeout": 0}
_D = flags.field_defaults()


@dataclass
class BuildRequest:
    patterns: list[str]
    jobs: int | None = _D["jobs"]        # default: default_jobs()
    keep_going: bool = _D["keep_going"]
    toolchains: list[str] = field(default_factory=list)
    profile: str | None = _D["profile"]
    use_cache: bool = _D["use_cache"]
    cache_dir: str | None = _D["cache_dir"]
    quiet: bool = _D["quiet"]
    verbose: bool = _D["verbose"]
    color: str = _D["color"]
    explain: bool = _D["explain"]
    timeout: float | None = _D["timeout"]
    cwd: str = ""
    sig_options: dict[str, list[str]] = field(default_factory=dict)
    profile_out: str | None = _D["profile_out"]
    command: str = "build"               # or "test": also run the tests and report them
    runs_per_test: int = _D["runs_per_test"]
    flaky_retries: int = _D["flaky_retries"]
    test_output: str = _D["test_output"]             # errors | all | summary
    junit: str | None = _D["junit"]
    measure_rss: bool = _D["measure_rss"]            # report each test's peak RSS
    rlimit_mb: int = _D["rlimit_mb"]                 # address-space cap per test process (0: none)
    retry_oom: bool = _D["retry_oom"]                # rerun a test killed for memory once, alone
    keep_pass_logs: bool = _D["keep_pass_logs"]
    sandbox: str | None = _D["sandbox"]              # default: $MOLTB_SANDBOX or auto
    local_ram_mb: int | None = _D["local_ram_mb"]    # running actions' RAM (default: resources.default_ram_mb)
    report_format: str = _D["report_format"]         # moltb, or molt (Molt's runner's failures.txt/summary.json)
    remote: str | None = _D["remote"]                # REAPI remote cache (default: $MOLTB_REMOTE, [workspace])
    remote_instance: str = _D["remote_instance"]
    remote_upload: bool = _D["remote_upload"]        # --remote-upload=no: read-only (untrusted clients)
    remote_timeout: float = _D["remote_timeout"]     # seconds per remote call
    executor: str | None = _D["executor"]            # dask://host:port (default: $MOLTB_EXECUTOR, [workspace])
    watch: bool = _D["watch"]                        # rebuild (and retest) on every change
    no_server: bool = _D["no_server"]                # run in this process, not in the workspace's server


def default_jobs() -> int:
    env = os.environ.get("MOLTB_JOBS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise UsageError(f"MOLTB_JOBS must be a number, got {env!r}") from None
    return os.cpu_count() or 2


def request(command: str, patterns: list[str], values: dict) -> BuildRequest:
    """The request of `moltb build` or `moltb test` (command) for its flags' values,
    keyed as in the flag table (the typer commands' parameter names)."""
    return BuildRequest(patterns=list(patterns), **flags.request_fields(command, values))


def request_from_args(args: list[str], command: str = flags.BUILD) -> BuildRequest | None:
    """A BuildRequest straight from `moltb build` (or `moltb test`) arguments, so an
    incremental build does not pay for importing the CLI framework. None: let the full
    CLI parse (and explain)."""
    parsed = flags.parse(args, command)
    return None if parsed is None else request(command, parsed[0], parsed[1])

