"""A build request: what `moltb build` and `moltb test` were asked to do, parsed
straight from everyday arguments (the same parser that names no-op snapshots) so an
incremental build does not pay for importing the CLI framework."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from molt_build import noop
from molt_build.errors import UsageError

SANDBOX_MODES = ("auto", "namespace", "light", "none")
REPORT_FORMATS = ("moltb", "molt")
MAX_RUNS_PER_TEST = 1000     # --runs-per-test and --flaky-retries: each run is an action
EMPTY_TESTS = {"passed": 0, "failed": 0, "cached": 0, "flaky": 0, "xfail": 0, "skipped": 0,
               "xpass": 0, "oom": 0, "timeout": 0}


@dataclass
class BuildRequest:
    patterns: list[str]
    jobs: int | None = None
    keep_going: bool = False
    toolchains: list[str] = field(default_factory=list)
    profile: str | None = None
    use_cache: bool = True
    cache_dir: str | None = None
    quiet: bool = False
    verbose: bool = False
    color: str = "auto"
    explain: bool = False
    timeout: float | None = None
    cwd: str = ""
    sig_options: dict[str, list[str]] = field(default_factory=dict)
    profile_out: str | None = None
    command: str = "build"               # or "test": also run the tests and report them
    runs_per_test: int = 1
    flaky_retries: int = 0
    test_output: str = "errors"          # errors | all | summary
    junit: str | None = None
    measure_rss: bool = False            # report each test's peak RSS
    rlimit_mb: int = 10240               # address-space cap per test process (0: none)
    retry_oom: bool = True               # rerun a test killed for memory once, alone
    keep_pass_logs: bool = False
    sandbox: str | None = None           # auto | namespace | light | none (default: $MOLTB_SANDBOX or auto)
    local_ram_mb: int | None = None      # RAM budget of running actions (default: resources.default_ram_mb)
    report_format: str = "moltb"         # test reports: moltb, or molt (Molt's runner's failures.txt/summary.json)
    remote: str | None = None            # REAPI remote cache (default: $MOLTB_REMOTE, else [workspace] remote)
    remote_instance: str = ""
    remote_upload: bool = True           # --remote-upload=no: read-only (untrusted clients)
    remote_timeout: float = 10.0         # seconds per remote call
    executor: str | None = None          # dask://host:port (default: $MOLTB_EXECUTOR, else [workspace] executor)


def default_jobs() -> int:
    env = os.environ.get("MOLTB_JOBS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise UsageError(f"MOLTB_JOBS must be a number, got {env!r}") from None
    return os.cpu_count() or 2


def request_from_args(args: list[str]) -> BuildRequest | None:
    """A BuildRequest straight from `moltb build` arguments, for the everyday flags
    (the same parser that names no-op snapshots), so an incremental build does not
    pay for importing the CLI framework. None: let the full CLI parse (and explain)."""
    parsed = noop.parse_build_args(args)
    if parsed is None:
        return None
    patterns, options, flags = parsed
    jobs = flags.get("-j") or flags.get("--jobs")
    if jobs is not None and (not str(jobs).isdigit() or int(jobs) < 1):
        return None
    color = flags.get("--color", "auto")
    remote = remote_fields(flags)
    if color not in ("auto", "yes", "no") or flags.get("--sandbox", "auto") not in SANDBOX_MODES \
            or not _positive(flags.get("--local-ram-mb", "1")) or remote is None:
        return None
    return BuildRequest(**remote, patterns=patterns, jobs=int(jobs) if jobs else None,
                        keep_going=bool(flags.get("-k") or flags.get("--keep-going")),
                        toolchains=options.get("--toolchain", []), profile=flags.get("--profile"),
                        use_cache="--no-cache" not in flags, cache_dir=flags.get("--cache-dir"),
                        quiet=bool(flags.get("-q") or flags.get("--quiet")),
                        verbose=bool(flags.get("-v") or flags.get("--verbose")), color=color,
                        sig_options=options, sandbox=flags.get("--sandbox"),
                        local_ram_mb=int(flags["--local-ram-mb"]) if "--local-ram-mb" in flags else None)


def remote_fields(flags: dict) -> dict | None:
    """The --remote* flags of a fast-parsed request (None: let the full CLI explain)."""
    upload, timeout = flags.get("--remote-upload", "yes"), flags.get("--remote-timeout", "10")
    try:
        seconds = float(timeout)
    except ValueError:
        return None
    if upload not in ("yes", "no") or seconds <= 0:
        return None
    return {"remote": flags.get("--remote"), "executor": flags.get("--executor"),
            "remote_instance": flags.get("--remote-instance", ""),
            "remote_upload": upload == "yes", "remote_timeout": seconds}


def _positive(text) -> bool:
    return str(text).isdigit() and int(text) >= 1


def test_signature(runs_per_test: int, toolchains: list[str], profile: str | None,
                   cache_dir: str | None) -> dict[str, list[str]]:
    """What names a `moltb test` request's snapshot (the same from either parser)."""
    sig: dict[str, list[str]] = {"command": ["test"], "--runs-per-test": [str(runs_per_test)]}
    if toolchains:
        sig["--toolchain"] = list(toolchains)
    for name, value in (("--profile", profile), ("--cache-dir", cache_dir)):
        if value is not None:
            sig[name] = [value]
    return sig


def request_from_test_args(args: list[str]) -> BuildRequest | None:
    """As `request_from_args`, for `moltb test` and its everyday flags."""
    parsed = noop.parse_build_args(args, noop.TEST_VALUE_FLAGS, noop.TEST_BOOL_FLAGS)
    if parsed is None:
        return None
    patterns, options, flags = parsed

    def number(name: str, default: int, least: int, most: int | None = None) -> int | None:
        value = flags.get(name, str(default))
        ok = str(value).isdigit() and int(value) >= least and (most is None or int(value) <= most)
        return int(value) if ok else None

    runs, retries, rlimit = number("--runs-per-test", 1, 1, MAX_RUNS_PER_TEST), \
        number("--flaky-retries", 0, 0, MAX_RUNS_PER_TEST), number("--rlimit-mb", 10240, 0)
    jobs = flags.get("-j") or flags.get("--jobs")
    output, color = flags.get("--test-output", "errors"), flags.get("--color", "auto")
    if None in (runs, retries, rlimit) or output not in ("errors", "all", "summary") or \
            color not in ("auto", "yes", "no") or flags.get("--sandbox", "auto") not in SANDBOX_MODES or \
            not _positive(flags.get("--local-ram-mb", "1")) or \
            flags.get("--report-format", "moltb") not in REPORT_FORMATS or (jobs is not None and (not str(jobs).isdigit() or int(jobs) < 1)):
        return None            # the full CLI explains what is wrong
    toolchains = options.get("--toolchain", [])
    remote = remote_fields(flags)
    if remote is None:
        return None
    return BuildRequest(**remote, patterns=patterns, jobs=int(jobs) if jobs else None,
                        keep_going=bool(flags.get("-k") or flags.get("--keep-going")), toolchains=toolchains,
                        profile=flags.get("--profile"), use_cache="--no-cache" not in flags,
                        cache_dir=flags.get("--cache-dir"), quiet=bool(flags.get("-q") or flags.get("--quiet")),
                        verbose=bool(flags.get("-v") or flags.get("--verbose")), color=color,
                        sig_options=test_signature(runs, toolchains, flags.get("--profile"), flags.get("--cache-dir")),
                        command="test", runs_per_test=runs, flaky_retries=retries, test_output=output,
                        junit=flags.get("--junit"), measure_rss=bool(flags.get("--measure-rss")), rlimit_mb=rlimit,
                        retry_oom=not flags.get("--no-retry-oom"), keep_pass_logs=bool(flags.get("--keep-pass-logs")),
                        sandbox=flags.get("--sandbox"), report_format=flags.get("--report-format", "moltb"),
                        local_ram_mb=int(flags["--local-ram-mb"]) if "--local-ram-mb" in flags else None)
