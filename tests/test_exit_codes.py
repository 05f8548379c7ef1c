"""Exit codes for what is not the user's input: 36 when the machine cannot take what
moltb writes (disk full, an unwritable cache, moltb-out or logs), 37 for a bug (in
moltb or in a rule or toolchain plugin). Each is one line on stderr, never a
traceback; a crash's traceback is in the event log, whose `build_finished` records
the exit code the process ended with."""
from __future__ import annotations

import errno
import io
import json
import subprocess
import sys

import pytest
from conftest import HEADER

from molt_build.errors import EXIT_ENVIRONMENT, EXIT_INTERNAL, environment_problem

GEN = {"BUILD.toml": HEADER, "p/BUILD.toml": '[a]\nrule = "genrule"\nouts = ["a.txt"]\ncmd = "echo a > $@"\n'}

BOOM_RULE = """
from molt_build.api import Attrs, Rule

def impl(ctx):
    return 1 / 0

RULES = [Rule("boom", Attrs, impl, uses_toolchain=False)]
"""

BOOM_TOOLCHAIN = """
from molt_build.api import Toolchain

class Broken(Toolchain):
    name = "broken"
    def resolve(self, ctx):
        return {}["missing"]

TOOLCHAINS = [Broken()]
"""


def error_lines(stderr: str) -> list[str]:
    return [l for l in stderr.splitlines() if l.startswith("ERROR:")]


def one_clean_error(r, code: int) -> str:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1, r.stderr
    return lines[0]


def read_log(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


def crash_log(line: str) -> list[dict]:
    """The event log a crash line names."""
    assert "(internal error; the traceback is in the event log " in line, line
    return read_log(line.rsplit(" ", 1)[1].rstrip(")"))


# ------------------------------------------------------------------------------ 36

@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                                  errno.ENOTDIR])
def test_os_errors_of_the_machine_are_environment_problems(code):
    p = environment_problem(OSError(code, "x", "/some/path"))
    assert p is not None and p.exit_code == EXIT_ENVIRONMENT and "/some/path" in p.message


@pytest.mark.parametrize("exc", [OSError(errno.ENOENT, "x"), OSError(errno.EINVAL, "x"), ValueError("x")])
def test_other_errors_are_not_environment_problems(exc):
    assert environment_problem(exc) is None


def test_moltb_out_that_is_a_file_exits_36(ws):
    ws.write(GEN)
    (ws.root / "moltb-out").write_text("not a directory\n")
    line = one_clean_error(ws.run("build", "//..."), EXIT_ENVIRONMENT)
    assert "local environment problem" in line and "moltb-out" in line, line
    assert ws.finished()["exit_code"] == EXIT_ENVIRONMENT


def test_cache_under_a_file_exits_36_for_build_and_cache_commands(ws, tmp_path):
    ws.write(GEN)
    (tmp_path / "plain").write_text("")
    env = {"MOLTB_CACHE_DIR": str(tmp_path / "plain/cache")}
    for args in (("build", "//..."), ("test", "//..."), ("cache", "stats")):
        r = ws.run(*args, env=env)
        assert r.returncode == EXIT_ENVIRONMENT, (args, r.stderr)
        assert "Traceback" not in r.stderr and "plain/cache" in error_lines(r.stderr)[0], r.stderr


def test_logs_that_is_a_file_exits_36(ws):
    ws.write(GEN)
    (ws.root / "logs").write_text("")
    line = one_clean_error(ws.run("build", "//..."), EXIT_ENVIRONMENT)
    assert "event log" in line


def test_disk_full_during_a_build_exits_36_and_the_log_says_so(ws, monkeypatch):
    """ENOSPC cannot be had on demand here: raise it where the scheduler writes."""
    from molt_build import build, scheduler
    ws.write(GEN)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(ws.root / "moltb-out"))

    monkeypatch.setattr(scheduler.Scheduler, "run", full)
    monkeypatch.setenv("MOLTB_CACHE_DIR", str(ws.cache))
    err = io.StringIO()
    outcome = build.run_build(build.BuildRequest(patterns=["//..."], cwd=str(ws.root), use_cache=False), err=err)
    assert outcome.exit_code == EXIT_ENVIRONMENT, err.getvalue()
    assert error_lines(err.getvalue()) == [l for l in err.getvalue().splitlines() if "No space left" in l]
    assert read_log(outcome.event_log)[-1]["exit_code"] == EXIT_ENVIRONMENT


def _full_disk_build(ws, full: str, *args: str):
    """`moltb build` with `full` (a directory) on a 256 KiB file system of its own, in a
    private mount namespace (needs root; skipped elsewhere)."""
    mount = f"mount -t tmpfs -o size=256k tmpfs {full}"
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", f"mkdir -p {full} && {mount}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {probe.stderr.strip()}")
    return subprocess.run(["unshare", "--mount", "sh", "-c", f'{mount} && exec "$@"', "sh",
                           sys.executable, "-m", "molt_build", "build", "//...", *args],
                          cwd=ws.root, env=ws.env(), capture_output=True, text=True, timeout=300)


BIG = {"BUILD.toml": HEADER, "p/BUILD.toml": '[big]\nrule = "genrule"\nouts = ["big.bin"]\n'
                                             'cmd = "head -c 1048576 /dev/zero > $@"\n'}


@pytest.mark.parametrize("where", ["moltb-out", "cache"])
def test_a_real_full_disk_exits_36_and_a_later_build_succeeds(ws, where):
    ws.write(BIG)
    full = ws.root / "moltb-out" if where == "moltb-out" else ws.cache
    full.mkdir(parents=True, exist_ok=True)
    r = _full_disk_build(ws, str(full))
    line = one_clean_error(r, EXIT_ENVIRONMENT)
    assert "No space left on device" in line
    assert ws.finished()["exit_code"] == EXIT_ENVIRONMENT
    # Nothing half-written was kept: with room again the build succeeds and is right.
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert ws.out("p/big.bin").stat().st_size == 1 << 20
    assert ws.run("cache", "verify").returncode == 0


# ------------------------------------------------------------------------------ 37

def test_a_crashing_rule_plugin_exits_37_naming_rule_plugin_and_target(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\nplugin_dirs = ["plugins"]\n', "plugins/boom.py": BOOM_RULE,
              "p/BUILD.toml": '[x]\nrule = "boom"\n'})
    line = one_clean_error(ws.run("build", "//..."), EXIT_INTERNAL)
    assert line.startswith("ERROR: moltb crashed: ZeroDivisionError: division by zero"), line
    for word in ("rule 'boom'", "plugins/boom.py", "//p:x"):
        assert word in line, line
    events = crash_log(line)
    crash = next(e for e in events if e["event"] == "internal_error")
    assert "return 1 / 0" in crash["traceback"] and crash["type"] == "InternalError"
    assert events[-1]["event"] == "build_finished" and events[-1]["exit_code"] == EXIT_INTERNAL


def test_a_crashing_toolchain_plugin_exits_37_naming_it(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\nplugin_dirs = ["plugins"]\ndefault_toolchain = "broken"\n',
              "plugins/broken.py": BOOM_TOOLCHAIN,
              "p/BUILD.toml": '[c]\nrule = "c_library"\nsrcs = ["c.c"]\n', "p/c.c": ""})
    line = one_clean_error(ws.run("build", "//..."), EXIT_INTERNAL)
    assert "KeyError: 'missing'" in line and "toolchain 'broken'" in line and "plugins/broken.py" in line, line
    assert ws.finished()["exit_code"] == EXIT_INTERNAL


def run_with_bug(ws, where: str, *args, cwd=None):
    """moltb in a child process in which `where` ("module:attr" or "module:Class.attr")
    raises: a bug, as moltb could have one, with no hook in moltb itself."""
    module, attr = where.split(":")
    owner, _, name = attr.rpartition(".")
    code = (f"import importlib, sys\nm = importlib.import_module({module!r})\n"
            f"def bug(*a, **k):\n    raise RuntimeError('something impossible happened')\n"
            f"setattr({'m.' + owner if owner else 'm'}, {name!r}, bug)\n"
            f"sys.argv = ['moltb', *{list(args)!r}]\nfrom molt_build.entry import main\nmain()\n")
    # The bug is patched into this process: the command must run in it, not in a server.
    return subprocess.run([sys.executable, "-c", code], cwd=cwd or ws.root, env=ws.env(MOLTB_SERVER="0"),
                          capture_output=True, text=True, timeout=60)


def test_a_bug_during_a_build_exits_37_and_the_log_records_37(ws):
    ws.write(GEN)
    line = one_clean_error(run_with_bug(ws, "molt_build.actiongraph:ActionGraph.__init__", "build", "//..."),
                           EXIT_INTERNAL)
    assert line.startswith("ERROR: moltb crashed: RuntimeError: something impossible happened (internal error;")
    events = crash_log(line)
    assert events == ws.events()
    crash = [e for e in events if e["event"] == "internal_error"]
    assert len(crash) == 1 and "something impossible happened" in crash[0]["traceback"]
    assert "actiongraph" in crash[0]["traceback"] or "ActionGraph" in crash[0]["traceback"]
    assert events[-1]["event"] == "build_finished" and events[-1]["exit_code"] == EXIT_INTERNAL


@pytest.mark.parametrize("args", [("query", "//..."), ("validate",), ("toolchains",)])
def test_a_bug_in_other_commands_exits_37_with_a_crash_log(ws, args):
    ws.write(GEN)
    r = run_with_bug(ws, "molt_build.registry:build_registry", *args)
    line = one_clean_error(r, EXIT_INTERNAL)
    events = crash_log(line)
    assert str(ws.root / "logs/moltb") in line
    assert events[0]["event"] == "internal_error" and events[0]["command"] == args[0]
    assert "something impossible happened" in events[0]["traceback"]
    assert events[-1] == {**events[-1], "event": "build_finished", "exit_code": EXIT_INTERNAL}


def test_a_bug_outside_any_workspace_logs_to_the_temp_dir(ws, tmp_path):
    outside = tmp_path / "nowhere"
    outside.mkdir()
    r = run_with_bug(ws, "molt_build.workspace:find_root", "query", "//...", cwd=outside)
    line = one_clean_error(r, EXIT_INTERNAL)
    assert "moltb-crash-" in line
    assert crash_log(line)[0]["event"] == "internal_error"


def test_a_full_disk_met_by_a_rule_is_an_environment_problem_not_a_crash(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\nplugin_dirs = ["plugins"]\n',
              "plugins/full.py": "import errno\nfrom molt_build.api import Attrs, Rule\n\ndef impl(ctx):\n"
                                 "    raise OSError(errno.ENOSPC, 'No space left on device', '/some/disk')\n\n"
                                 "RULES = [Rule('full', Attrs, impl, uses_toolchain=False)]\n",
              "p/BUILD.toml": '[x]\nrule = "full"\n'})
    for args in (("build", "//..."), ("validate",)):
        line = one_clean_error(ws.run(*args), EXIT_ENVIRONMENT)
        assert "No space left on device: /some/disk" in line and "crashed" not in line, line

