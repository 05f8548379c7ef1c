"""Test rules: `sh_test` and `py_test`. A test passes when its program exits 0.

Each run is one action (per shard, per `--runs-per-test` run) that writes a marker
only when the program passes, so a pass is cached like any output and a failure,
like any failed action, never is. The program sees `TEST_TMPDIR`, `TEST_SRCDIR` and,
with `shard_count`, `TEST_TOTAL_SHARDS` / `TEST_SHARD_INDEX`."""
from __future__ import annotations

from molt_build.api import (TEST_TIMEOUTS, AnalysisError, Attrs, DefaultInfo, EnvVars, Field, Rule, RuleContext,
                            SourceFile, SourceList, Timeout)
from molt_build.toolchains.host_python import python_lane

TEST_RAM_MB = 512            # tests are heavy; a first estimate until the scheduler learns
FLAKY_RETRIES = 2   # a `flaky = true` test gets three attempts, as in Bazel
MAX_SHARDS = 1000
MAX_RUNS = 10_000   # shards x --runs-per-test: one action each
# `"$@" && : > "$0"`: run the test (its arguments follow), and create the marker ($0)
# only when it exits 0; the exit status is the test's.
RUN_AND_MARK = '"$@" && : > "$0"'


class TestRunAttrs(Attrs):
    """How a test program runs: what every test rule takes (see declare_runs)."""

    args: list[str] = Field(default_factory=list, description="Arguments passed to the test.")
    env: EnvVars = Field(default_factory=dict, description="Extra environment variables.")
    timeout: Timeout = Field(default="moderate", description="Seconds (at most a day), or short (60), moderate "
                                                             "(300), long (900), eternal (3600).")
    shard_count: int = Field(default=0, ge=0, le=MAX_SHARDS,
                             description="Split the test into this many shards (0: no sharding; at most 1000).")
    flaky: bool = Field(default=False, description="Retry a failing run (see --flaky-retries).")


class TestAttrs(TestRunAttrs):
    src: SourceFile = Field(description="The test program (a shell script for sh_test, a .py file for py_test).")
    srcs: SourceList = Field(default_factory=list, description="Other files the test reads.")


def timeout_seconds(value) -> float:
    """Seconds, from a `Timeout` value (already checked when the target loaded)."""
    return TEST_TIMEOUTS[value] if isinstance(value, str) else float(value)


def declare_runs(ctx: RuleContext, argv: list[str], inputs, runs: int = 1, toolchain=None):
    """One action per (run, shard); returns the markers. `toolchain`: a lane the
    program needs (e.g. the Python interpreter)."""
    a = ctx.attrs
    shards = max(1, a.shard_count)
    if shards * runs > MAX_RUNS:
        raise AnalysisError(f"{shards} shards x {runs} runs per test is more than {MAX_RUNS} test runs",
                            field="shard_count", hint="lower shard_count or --runs-per-test")
    markers = []
    for run in range(runs):
        for shard in range(shards):
            suffix = (f"_run{run + 1}" if runs > 1 else "") + (f"_shard{shard + 1}of{shards}" if a.shard_count else "")
            marker = ctx.declare_output(f"{ctx.label.name}{suffix}.passed")
            env = dict(a.env)
            if a.shard_count:
                env.update(TEST_TOTAL_SHARDS=str(shards), TEST_SHARD_INDEX=str(shard))
            if runs > 1:
                env["TEST_RUN_NUMBER"] = str(run + 1)
            ctx.action(mnemonic="TestRun", argv=["/bin/sh", "-c", RUN_AND_MARK, marker.path, *argv, *a.args],
                       inputs=inputs, outputs=[marker], env=env, timeout=timeout_seconds(a.timeout),
                       progress=f"Testing {ctx.label}{suffix.replace('_', ' ')}", test=True,
                       retries=FLAKY_RETRIES if a.flaky else 0, toolchain=toolchain, ram_mb=TEST_RAM_MB,
                       report={"case": inputs[0].path} if inputs else None)
            markers.append(marker)
    return markers


def _runs(ctx: RuleContext) -> int:
    return int(ctx.test_option("runs_per_test", 1))


def sh_test(ctx: RuleContext):
    (src,) = ctx.files("src")
    data = [*ctx.files("srcs"), *ctx.files("data"), *(f for d in ctx.deps() for f in d.files)]
    markers = declare_runs(ctx, ["/bin/sh", src.path], [src, *data], _runs(ctx))
    return [DefaultInfo(files=tuple(markers))]


def py_test(ctx: RuleContext):
    (src,) = ctx.files("src")
    if src.extension != ".py":
        raise AnalysisError(f"'{src.path}' is not a .py file", field="src")
    data = [*ctx.files("srcs"), *ctx.files("data"), *(f for d in ctx.deps() for f in d.files)]
    host, py = python_lane(ctx)
    markers = declare_runs(ctx, [py, src.path], [src, *data], _runs(ctx), toolchain=host)
    return [DefaultInfo(files=tuple(markers))]


RULES = [
    Rule("sh_test", TestAttrs, sh_test, doc="A shell test: passes when the script exits 0.", test=True,
         uses_toolchain=False),
    Rule("py_test", TestAttrs, py_test, doc="A Python test: passes when the program exits 0.", test=True,
         uses_toolchain=False),
]
