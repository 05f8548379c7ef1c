"""`moltb test`."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from molt_build.cli import app
from molt_build.cli.common import (CacheDir, Color, Executor, LocalRamMb, Quiet, Remote, RemoteInstance, RemoteTimeout,
                                   RemoteUpload, Sandbox, Verbose, remote_options)


@app.command()
def test(
    patterns: Annotated[list[str], typer.Argument(help="Test targets or patterns: //pkg:t, //pkg/..., //...")],
    jobs: Annotated[Optional[int], typer.Option("-j", "--jobs", help="Parallel actions.")] = None,
    keep_going: Annotated[bool, typer.Option("-k", "--keep-going", help="Go on after a build failure.")] = False,
    toolchain: Annotated[Optional[list[str]], typer.Option("--toolchain", help="Toolchain (repeatable).")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help="dev or release.")] = None,
    runs_per_test: Annotated[int, typer.Option("--runs-per-test", min=1, max=1000,
                                                               help="Run each test N times (at most 1000).")] = 1,
    flaky_retries: Annotated[int, typer.Option("--flaky-retries", min=0, max=1000,
                                               help="Retry a failing run N times; a later pass is FLAKY.")] = 0,
    test_output: Annotated[str, typer.Option("--test-output", help="errors, all or summary.")] = "errors",
    junit: Annotated[Optional[str], typer.Option("--junit", help="Also write the JUnit XML here.")] = None,
    measure_rss: Annotated[bool, typer.Option("--measure-rss", help="Report each test's peak RSS.")] = False,
    rlimit_mb: Annotated[int, typer.Option("--rlimit-mb", min=0,
                                           help="Address-space cap per test process, MiB (0: none).")] = 10240,
    no_retry_oom: Annotated[bool, typer.Option("--no-retry-oom",
                                               help="Do not rerun a test killed for memory alone.")] = False,
    keep_pass_logs: Annotated[bool, typer.Option("--keep-pass-logs", help="Keep the logs of passing tests.")] = False,
    report_format: Annotated[str, typer.Option("--report-format", help="moltb, or molt: failures.txt as case "
                                                                        "paths and summary.json as Molt's "
                                                                        "runner writes them.")] = "moltb",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every action and test.")] = False,
    cache_dir: CacheDir = None,
    remote: Remote = None,
    executor: Executor = None,
    remote_instance: RemoteInstance = "",
    remote_upload: RemoteUpload = "yes",
    remote_timeout: RemoteTimeout = 10.0,
    sandbox: Sandbox = None,
    local_ram_mb: LocalRamMb = None,
    color: Color = "auto",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Build what the tests need, run them (passing results are cached) and report."""
    from molt_build.build import BuildRequest, run_build
    from molt_build.build_request import test_signature
    if report_format not in ("moltb", "molt"):
        raise typer.BadParameter("must be moltb or molt", param_hint="--report-format")
    if test_output not in ("errors", "all", "summary"):
        raise typer.BadParameter("must be errors, all or summary", param_hint="--test-output")
    sig = test_signature(runs_per_test, toolchain or [], profile, cache_dir)
    req = BuildRequest(patterns=patterns, jobs=jobs, keep_going=keep_going, toolchains=toolchain or [],
                       profile=profile, use_cache=not no_cache, cache_dir=cache_dir, quiet=quiet,
                       verbose=verbose, color=color, sig_options=sig, command="test",
                       runs_per_test=runs_per_test, flaky_retries=flaky_retries, test_output=test_output,
                       junit=junit, measure_rss=measure_rss, rlimit_mb=rlimit_mb, retry_oom=not no_retry_oom,
                       keep_pass_logs=keep_pass_logs, sandbox=sandbox,
                       local_ram_mb=local_ram_mb, report_format=report_format, remote=remote,
                       remote_instance=remote_instance, remote_upload=remote_options(remote_upload),
                       remote_timeout=remote_timeout, executor=executor)
    raise typer.Exit(run_build(req).exit_code)
