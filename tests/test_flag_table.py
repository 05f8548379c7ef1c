"""The flag table (flags.py) is what `moltb build` and `moltb test` accept: the typer
commands declare exactly its options, and a command line gives the same BuildRequest
and names the same snapshot whether the quick parser or typer reads it."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing

import pytest

from molt_build import entry
import typer.main
from typer.testing import CliRunner

from molt_build import build as build_module
from molt_build import flags, noop
from molt_build.build_request import BuildRequest, request_from_args
from molt_build.cli import app

COMMANDS = ("build", "test")


def typer_options(command: str) -> dict[tuple[str, ...], dict]:
    cmd = typer.main.get_command(app).commands[command]
    found = {}
    for p in cmd.params:
        if p.name == "patterns":
            continue
        kind = p.type_descriptor.annotation
        if typing.get_origin(kind) is typing.Union:       # Optional[...]
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        choices = typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else ()
        found[tuple(p.opts)] = {"key": p.name, "default": p.default, "bool": p.is_bool_flag, "choices": choices,
                                "min": p.min, "max": p.max, "help": p.help}
    return found


def table_options(command: str) -> dict[tuple[str, ...], dict]:
    return {f.names: {"key": f.key, "default": f.default, "bool": f.kind == flags.BOOL, "choices": f.choices,
                      "min": f.minimum, "max": f.maximum, "help": f.help_for(command)}
            for f in flags.COMMAND_FLAGS[command]}


@pytest.mark.parametrize("command", COMMANDS)
def test_typer_declares_exactly_the_tables_options(command):
    assert typer_options(command) == table_options(command)


def test_build_and_test_share_their_common_flags_and_keep_their_own():
    build, test = set(table_options("build")), set(table_options("test"))
    assert {("--explain",), ("--action-timeout",), ("--profile-out",)} == build - test
    assert {("--runs-per-test",), ("--flaky-retries",), ("--test-output",), ("--junit",), ("--measure-rss",),
            ("--rlimit-mb",), ("--no-retry-oom",), ("--keep-pass-logs",), ("--report-format",)} == test - build
    assert {("--watch",), ("--no-server",), ("-j", "--jobs"), ("--remote",), ("--sandbox",)} <= build & test


def test_the_sandbox_choices_are_the_sandbox_modes():
    from molt_build.namespace_sandbox import MODES
    assert flags.BY_KEY["sandbox"].choices == MODES


def test_request_defaults_are_the_tables():
    assert request_from_args(["//x"]) == BuildRequest(patterns=["//x"])
    assert request_from_args(["//x"], "test") == BuildRequest(patterns=["//x"], command="test",
                                                              sig_options={"command": ["test"]})


def via_typer(command: str, args: list[str], monkeypatch) -> BuildRequest:
    seen = []

    def fake_run_request(req):
        seen.append(req)
        return 0
    monkeypatch.setattr(entry, "run_request", fake_run_request)
    r = CliRunner().invoke(app, [command, *args])
    assert r.exit_code == 0 and len(seen) == 1, r.output
    return seen[0]


COMMON_LINES = [
    ["//..."],
    ["//a:b", "//c/...", "-j", "3", "-k", "--toolchain", "zig", "--toolchain=rust", "--profile", "release"],
    ["//x", "-j4", "--no-cache", "--cache-dir", "/tmp/c", "--remote", "grpc://h:1", "--remote-instance", "main",
     "--remote-upload=no", "--remote-timeout", "2.5", "--executor", "dask://h:2"],
    ["//x", "--sandbox", "light", "--local-ram-mb", "512", "--color=no", "-q", "-v"],
    ["//x", "--profile", "dev", "--profile", "release", "--keep-going", "--quiet", "--verbose"],
    ["--profile", "dev", "--", "//x", "//y"],
    ["//x", "--watch", "--no-server"],
]
LINES = [("build", line) for line in COMMON_LINES] + [("test", line) for line in COMMON_LINES] + [
    ("build", ["//x", "--explain", "--action-timeout", "30", "--profile-out", "t.json"]),
    ("test", ["//t", "--runs-per-test", "5", "--flaky-retries=2", "--test-output", "all", "--junit", "j.xml",
              "--measure-rss", "--rlimit-mb", "0", "--no-retry-oom", "--keep-pass-logs", "--report-format", "molt"]),
    ("test", ["//t", "--runs-per-test=1", "--test-output=summary", "--remote", "grpc://h:1", "--no-cache"]),
]


@pytest.mark.parametrize("command, args", LINES)
def test_quick_parser_and_typer_make_the_same_request(command, args, monkeypatch):
    quick = request_from_args(args, command)
    assert quick is not None
    full = via_typer(command, args, monkeypatch)
    assert dataclasses.asdict(quick) == dataclasses.asdict(full)
    assert noop.request_signature(quick.patterns, quick.sig_options, "") == \
        noop.request_signature(full.patterns, full.sig_options, "")


def test_the_quick_parser_reads_values_as_typer_does():
    req = request_from_args(["//x", "-j2", "--toolchain", "a", "--toolchain", "b", "--no-cache", "--remote-upload",
                             "no", "--remote-timeout=0.5", "--local-ram-mb", "64"])
    assert (req.jobs, req.toolchains, req.use_cache, req.remote_upload, req.remote_timeout, req.local_ram_mb) == \
        (2, ["a", "b"], False, False, 0.5, 64)
    req = request_from_args(["//t", "--runs-per-test", "3", "--no-retry-oom", "--rlimit-mb", "0"], "test")
    assert (req.command, req.runs_per_test, req.retry_oom, req.rlimit_mb) == ("test", 3, False, 0)


@pytest.mark.parametrize("command, args, name", [
    ("build", ["//x", "-j", "0"], "-j"),
    ("build", ["//x", "-j", "two"], "-j"),
    ("build", ["//x", "-j=2"], "-j"),
    ("build", ["//x", "-q=1"], "No such option"),
    ("build", ["//x", "--color", "bogus"], "--color"),
    ("build", ["//x", "--sandbox=bogus"], "--sandbox"),
    ("build", ["//x", "--remote-upload", "maybe"], "--remote-upload"),
    ("build", ["//x", "--remote-timeout", "0"], "--remote-timeout"),
    ("build", ["//x", "--local-ram-mb", "0"], "--local-ram-mb"),
    ("build", ["//x", "--watch=yes"], "--watch"),
    ("build", ["//x", "--runs-per-test", "2"], "--runs-per-test"),
    ("test", ["//t", "--runs-per-test", "1001"], "--runs-per-test"),
    ("test", ["//t", "--flaky-retries", "-1"], "--flaky-retries"),
    ("test", ["//t", "--test-output", "loud"], "--test-output"),
    ("test", ["//t", "--report-format", "junit"], "--report-format"),
    ("test", ["//t", "-j", "0"], "-j"),
    ("test", ["//t", "--explain"], "--explain"),
])
def test_a_bad_value_leaves_the_quick_path_and_typer_exits_2(command, args, name, monkeypatch):
    assert request_from_args(args, command) is None
    monkeypatch.setattr(build_module, "run_build", lambda req: pytest.fail("ran a bad request"))
    r = CliRunner().invoke(app, [command, *args])
    assert r.exit_code == 2 and name in r.output, r.output


@pytest.mark.parametrize("args", [["//x", "-j"], ["//x", "-kq"], ["-v"], ["//x", "--no-such-flag"]])
def test_unusual_lines_are_left_to_typer(args):
    assert request_from_args(args) is None


@pytest.mark.parametrize("command", COMMANDS)
def test_watch_and_no_server_take_the_quick_path_and_do_not_name_the_snapshot(command):
    plain = request_from_args(["//x"], command)
    req = request_from_args(["//x", "--watch", "--no-server"], command)
    assert req is not None and req.watch and req.no_server and not plain.watch and not plain.no_server
    assert req.sig_options == plain.sig_options


def test_a_no_op_build_is_answered_from_the_snapshot_only_when_it_is_the_whole_answer():
    assert noop.parse_build_args(["//x", "--no-server", "-v"]) == (["//x"], {}, {"--no-server": True, "-v": True,
                                                                                 "--verbose": True})
    for flag in ("--watch", "--explain", "--profile-out=t.json"):      # keep watching, explain, write a trace
        assert noop.parse_build_args(["//x", flag]) is None
        assert request_from_args(["//x", flag]) is not None


def test_the_signature_holds_what_decides_the_result_and_only_that():
    def sig(command, *args):
        return request_from_args(["//x", *args], command).sig_options
    assert sig("build") == {}
    assert sig("build", "-j", "2", "-q", "--color=no", "--sandbox", "light", "--remote-timeout", "3") == {}
    assert sig("build", "--toolchain", "a", "--toolchain", "b", "--profile", "release", "--cache-dir", "c",
               "--remote", "grpc://h:1", "--no-cache") == \
        {"--toolchain": ["a", "b"], "--profile": ["release"], "--cache-dir": ["c"], "--remote": ["grpc://h:1"],
         "--no-cache": ["1"]}
    assert sig("test", "--runs-per-test", "1") == sig("test") == {"command": ["test"]}
    assert sig("test", "--runs-per-test", "3", "--remote", "grpc://h:1", "--no-cache", "--flaky-retries", "2") == \
        {"command": ["test"], "--runs-per-test": ["3"], "--remote": ["grpc://h:1"], "--no-cache": ["1"]}


def test_the_no_op_path_names_the_snapshot_typer_names(monkeypatch):
    args = ["//x", "--profile", "dev", "--toolchain", "zig", "-j", "2", "--no-cache"]
    assert noop.parse_build_args(args)[1] == via_typer("build", args, monkeypatch).sig_options


def test_the_table_and_the_no_op_path_import_no_framework():
    code = ("import sys, molt_build.noop, molt_build.flags; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'typer', 'rich', 'networkx'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
