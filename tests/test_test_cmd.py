"""`moltb test`: exit codes, cached passes, re-run failures, flaky retries, runs per
test, shards, timeouts, --test-output, and the reports under moltb-out/testlogs/
(per-test logs, summary.json, failures.txt, junit.xml), with real processes."""
from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET

import pytest
from conftest import HEADER


# Two passing and two failing tests in //pkg, one passing test in a nested package.
MIXED = {
    "BUILD.toml": HEADER,
    "pkg/BUILD.toml": """\
        [ok_sh]
        rule = "sh_test"
        src = "ok.sh"

        [bad_sh]
        rule = "sh_test"
        src = "bad.sh"

        [ok_py]
        rule = "py_test"
        src = "ok.py"
        args = ["--flag", "value"]
        env = { GREETING = "bonjour" }

        [bad_py]
        rule = "py_test"
        src = "bad.py"
        """,
    "pkg/ok.sh": "echo OK_SH_OUT\nexit 0\n",
    "pkg/bad.sh": "echo BAD_SH_OUT\necho BAD_SH_ERR >&2\nexit 1\n",
    "pkg/ok.py": """\
        import os, sys
        assert sys.argv[1:] == ["--flag", "value"], sys.argv
        assert os.environ["GREETING"] == "bonjour"
        print("OK_PY_OUT")
        """,
    "pkg/bad.py": """\
        import sys
        print("BAD_PY_OUT")
        sys.exit(2)
        """,
    "lib/sub/BUILD.toml": """\
        [deep]
        rule = "sh_test"
        src = "deep.sh"
        """,
    "lib/sub/deep.sh": "echo DEEP_OUT\n",
}
PASSING = ["//lib/sub:deep", "//pkg:ok_py", "//pkg:ok_sh"]
FAILING = ["//pkg:bad_py", "//pkg:bad_sh"]
OUTPUT = {"//pkg:ok_sh": "OK_SH_OUT", "//pkg:bad_sh": "BAD_SH_OUT", "//pkg:ok_py": "OK_PY_OUT",
          "//pkg:bad_py": "BAD_PY_OUT", "//lib/sub:deep": "DEEP_OUT"}

STATUS_LINE = re.compile(r"^(//\S+)\s+(\(cached\) )?([A-Z]+) in [\d.]+s$", re.M)
COUNT_KEYS = {"passed", "failed", "cached", "flaky", "xfail", "skipped", "xpass", "oom", "timeout"}


# ----------------------------------------------------------------- helpers

def logs_dir(ws):
    return ws.root / "moltb-out" / "testlogs"


def summary_json(ws) -> dict:
    return json.loads((logs_dir(ws) / "summary.json").read_text())


def failures(ws) -> list[str]:
    return (logs_dir(ws) / "failures.txt").read_text().splitlines()


def junit_cases(path) -> dict:
    """label -> testcase element (also checks that the file parses)."""
    root = ET.parse(path).getroot()
    cases = list(root.iter("testcase"))
    names = [c.get("name") for c in cases]
    assert len(names) == len(set(names)), names
    return dict(zip(names, cases))


def statuses(stderr: str) -> dict[str, str]:
    """label -> "STATUS" or "(cached) STATUS" from the per-test result lines."""
    found = {}
    for label, cached, status in STATUS_LINE.findall(stderr):
        assert label not in found, stderr
        found[label] = cached + status
    return found


def run_events(ws) -> list[dict]:
    return [e for e in ws.events() if e["event"] == "action_finished" and e["mnemonic"] == "TestRun"]


def by_label(runs: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in runs:
        out.setdefault(e["label"], []).append(e["status"])
    return out


# A test that writes outside its sandbox (its side channel to the assertions): Bazel's tag.
OUTSIDE = 'tags = ["no-sandbox"]\n'


def one_test(ws, script: str, attrs: str = "", name: str = "t") -> None:
    ws.write({"BUILD.toml": HEADER + f'[{name}]\nrule = "sh_test"\nsrc = "{name}.sh"\n{attrs}',
              f"{name}.sh": script})


# ---------------------------------------------------- reports of a mixed run

def test_mixed_run_exit_3_and_reports(ws, tmp_path):
    ws.write(MIXED)
    copy = tmp_path / "ci-junit.xml"
    r = ws.run("test", "//...", "--junit", str(copy), "--keep-pass-logs")
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    assert statuses(r.stderr) == {**{l: "PASSED" for l in PASSING}, **{l: "FAILED" for l in FAILING}}

    # failures.txt: exactly the failing labels, one a line.
    assert sorted(failures(ws)) == FAILING

    # One log per test, holding what the test printed.
    for label, text in OUTPUT.items():
        pkg, name = label[2:].split(":")
        log = logs_dir(ws) / pkg / name / "test.log"
        assert log.is_file(), label
        assert text in log.read_text(), (label, log.read_text())
    assert "BAD_SH_ERR" in (logs_dir(ws) / "pkg/bad_sh/test.log").read_text()

    # summary.json
    s = summary_json(ws)
    assert s["counts"] == {"passed": 3, "failed": 2, "cached": 0, "flaky": 0, "xfail": 0, "skipped": 0,
                           "xpass": 0, "oom": 0, "timeout": 0}
    assert isinstance(s["jobs"], int) and s["jobs"] >= 1
    assert isinstance(s["limits"], dict) and isinstance(s["rss"], dict)
    tests = {t["label"]: t for t in s["tests"]}
    assert sorted(tests) == sorted(PASSING + FAILING)
    for label, t in tests.items():
        assert t["status"] == ("FAILED" if label in FAILING else "PASSED")
        assert t["cached"] is False
        assert isinstance(t["duration_s"], (int, float)) and t["duration_s"] >= 0
        pkg, name = label[2:].split(":")
        assert (ws.root / t["log"]).resolve() == (logs_dir(ws) / pkg / name / "test.log").resolve()

    # junit.xml: one testcase per label, a <failure> exactly for the failing ones.
    cases = junit_cases(logs_dir(ws) / "junit.xml")
    assert sorted(cases) == sorted(PASSING + FAILING)
    for label, case in cases.items():
        fail = case.find("failure")
        if label in FAILING:
            assert fail is not None, label
            assert OUTPUT[label] in (fail.text or "")
        else:
            assert fail is None, label
    # --junit PATH: the same report, written where asked.
    assert copy.read_text() == (logs_dir(ws) / "junit.xml").read_text()

    fin = ws.finished()
    assert fin["exit_code"] == 3
    assert fin["tests"] == s["counts"]
    results = {e["label"]: e["status"] for e in ws.events() if e["event"] == "test_result"}
    assert results == {label: t["status"] for label, t in tests.items()}


def test_second_run_caches_passes_and_reruns_failures(ws):
    ws.write(MIXED)
    r1 = ws.run("test", "//...", "--keep-pass-logs")
    assert r1.returncode == 3, r1.stderr
    first = by_label(run_events(ws))
    assert first == {**{l: ["executed"] for l in PASSING}, **{l: ["failed"] for l in FAILING}}

    r2 = ws.run("test", "//...", "--keep-pass-logs")
    assert r2.returncode == 3, r2.stderr
    assert statuses(r2.stderr) == {**{l: "(cached) PASSED" for l in PASSING}, **{l: "FAILED" for l in FAILING}}
    # A failure is never cached: the failing tests ran again.
    assert by_label(run_events(ws)) == {**{l: ["cached"] for l in PASSING}, **{l: ["failed"] for l in FAILING}}
    fin = ws.finished()
    assert fin["exit_code"] == 3
    assert fin["tests"] == {"passed": 3, "failed": 2, "cached": 3, "flaky": 0, "xfail": 0, "skipped": 0,
                           "xpass": 0, "oom": 0, "timeout": 0}
    assert summary_json(ws)["counts"] == fin["tests"]
    # The cached logs still hold the output of the run that passed.
    assert "OK_SH_OUT" in (logs_dir(ws) / "pkg/ok_sh/test.log").read_text()
    assert sorted(failures(ws)) == FAILING

    # `moltb test $(cat failures.txt)`: only the failures run.
    r3 = ws.run("test", *failures(ws))
    assert r3.returncode == 3, r3.stderr
    assert by_label(run_events(ws)) == {l: ["failed"] for l in FAILING}
    assert statuses(r3.stderr) == {l: "FAILED" for l in FAILING}
    assert sorted(t["label"] for t in summary_json(ws)["tests"]) == FAILING
    assert sorted(failures(ws)) == FAILING

    # Fix them: the same command now passes and leaves no failures.
    ws.write({"pkg/bad.sh": "echo fixed\n", "pkg/bad.py": "print('fixed')\n"})
    r4 = ws.run("test", *failures(ws))
    assert r4.returncode == 0, r4.stderr
    assert by_label(run_events(ws)) == {l: ["executed"] for l in FAILING}
    assert failures(ws) == []
    assert ws.finished()["tests"]["passed"] == 2


def test_changed_test_source_reruns_only_that_test(ws):
    ws.write(MIXED)
    ws.write({"pkg/bad.sh": "exit 0\n", "pkg/bad.py": "pass\n"})
    assert ws.run("test", "//...").returncode == 0
    ws.write({"pkg/ok.sh": "echo OK_SH_OUT again\n"})
    r = ws.run("test", "//...", "--keep-pass-logs")
    assert r.returncode == 0, r.stderr
    runs = by_label(run_events(ws))
    assert runs.pop("//pkg:ok_sh") == ["executed"]
    assert runs == {l: ["cached"] for l in PASSING + FAILING if l != "//pkg:ok_sh"}, runs
    assert "OK_SH_OUT again" in (logs_dir(ws) / "pkg/ok_sh/test.log").read_text()


def test_no_cache_reruns_passing_tests(ws):
    ws.write({**MIXED, "pkg/bad.sh": "exit 0\n", "pkg/bad.py": "pass\n"})
    assert ws.run("test", "//...").returncode == 0
    r = ws.run("test", "//...", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert all(v == ["executed"] for v in by_label(run_events(ws)).values())
    assert "(cached)" not in r.stderr


# -------------------------------------------------------------- exit codes

def test_all_passing_exits_0(ws):
    ws.write({**MIXED, "pkg/bad.sh": "exit 0\n", "pkg/bad.py": "pass\n"})
    r = ws.run("test", "//...")
    assert r.returncode == 0, r.stderr
    assert set(statuses(r.stderr).values()) == {"PASSED"}
    assert failures(ws) == []
    assert ws.finished()["exit_code"] == 0
    assert summary_json(ws)["counts"]["passed"] == 5
    assert not any(c.find("failure") is not None for c in junit_cases(logs_dir(ws) / "junit.xml").values())


def test_pattern_without_test_targets_exits_4(ws):
    ws.write({**MIXED, "gen/BUILD.toml": """\
        [g]
        rule = "genrule"
        outs = ["g.txt"]
        cmd = "echo hi > $@"
        """})
    assert ws.run("test", "//pkg:all").returncode == 3
    r = ws.run("test", "//gen/...")
    assert r.returncode == 4, r.stderr
    assert "Traceback" not in r.stderr
    fin = ws.finished()
    assert fin["exit_code"] == 4
    assert fin["tests"] == dict.fromkeys(COUNT_KEYS, 0)
    # The reports are those of this invocation: no tests, no failures.
    assert failures(ws) == []
    assert summary_json(ws)["tests"] == []


def test_build_failure_in_a_dependency_exits_1(ws):
    ws.write({"BUILD.toml": HEADER + """\
        [gen]
        rule = "genrule"
        outs = ["gen.txt"]
        cmd = "echo GENERATED > $@"

        [t]
        rule = "sh_test"
        src = "t.sh"
        data = [":gen"]
        """, "t.sh": "cat moltb-out/*/gen.txt\n"})
    r = ws.run("test", "//:t", "--keep-pass-logs")
    assert r.returncode == 0, r.stderr
    assert "GENERATED" in (logs_dir(ws) / "t/test.log").read_text()

    ws.write({"BUILD.toml": (ws.root / "BUILD.toml").read_text().replace("echo GENERATED > $@", "exit 7")})
    r = ws.run("test", "//:t")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert ws.finished()["exit_code"] == 1
    assert run_events(ws) == []   # the test never ran


def test_build_failure_beats_test_failure_with_keep_going(ws):
    ws.write({**MIXED, "dep/BUILD.toml": """\
        [broken]
        rule = "genrule"
        outs = ["b.txt"]
        cmd = "exit 1"

        [needs_broken]
        rule = "sh_test"
        src = "t.sh"
        data = [":broken"]
        """, "dep/t.sh": "exit 0\n"})
    r = ws.run("test", "//...", "-k")
    assert r.returncode == 1, r.stderr
    assert ws.finished()["exit_code"] == 1
    assert "//dep:needs_broken" not in by_label(run_events(ws))


def test_bad_timeout_value_exits_2(ws):
    one_test(ws, "exit 0\n", 'timeout = "forever"\n')
    r = ws.run("test", "//:t")
    assert r.returncode == 2, r.stderr
    assert "forever" in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------- flakiness

FLAKY_SCRIPT = """\
n=$(cat {d}/count 2>/dev/null || echo 0)
n=$((n + 1))
echo $n > {d}/count
echo "attempt $n"
[ "$n" -ge 2 ]
"""


def test_flaky_retries_turn_a_second_attempt_pass_into_flaky(ws, tmp_path):
    d = tmp_path / "attempts"
    d.mkdir()
    one_test(ws, FLAKY_SCRIPT.format(d=d), OUTSIDE)

    r = ws.run("test", "//:t")                       # no retries: the first failure is final
    assert r.returncode == 3, r.stderr
    assert statuses(r.stderr) == {"//:t": "FAILED"}
    assert (d / "count").read_text().strip() == "1"
    assert failures(ws) == ["//:t"]

    (d / "count").unlink()
    r = ws.run("test", "//:t", "--flaky-retries", "2")
    assert r.returncode == 0, r.stderr
    assert (d / "count").read_text().strip() == "2"   # passed on the second attempt, no third
    assert statuses(r.stderr) == {"//:t": "FLAKY"}
    s = summary_json(ws)
    assert s["tests"][0]["status"] == "FLAKY"
    assert s["counts"]["flaky"] == 1 and s["counts"]["failed"] == 0
    assert ws.finished()["tests"]["flaky"] == 1
    assert failures(ws) == []
    assert ws.finished()["exit_code"] == 0


def test_flaky_retries_exhausted_is_failed(ws, tmp_path):
    d = tmp_path / "attempts"
    d.mkdir()
    one_test(ws, f"echo x >> {d}/count\nexit 1\n", OUTSIDE)
    r = ws.run("test", "//:t", "--flaky-retries", "2")
    assert r.returncode == 3, r.stderr
    assert len((d / "count").read_text().splitlines()) == 3     # 1 + 2 retries
    assert statuses(r.stderr) == {"//:t": "FAILED"}
    assert failures(ws) == ["//:t"]


def test_flaky_attribute_retries_the_test(ws, tmp_path):
    d = tmp_path / "attempts"
    d.mkdir()
    one_test(ws, FLAKY_SCRIPT.format(d=d), "flaky = true\n" + OUTSIDE)
    r = ws.run("test", "//:t")
    assert r.returncode == 0, r.stderr
    assert statuses(r.stderr) == {"//:t": "FLAKY"}


# ------------------------------------------------- runs per test and shards

def test_runs_per_test(ws, tmp_path):
    d = tmp_path / "runs"
    d.mkdir()
    one_test(ws, f'echo "run=$TEST_RUN_NUMBER"\necho "$TEST_RUN_NUMBER" >> {d}/runs\n', OUTSIDE)
    r = ws.run("test", "//:t", "--runs-per-test", "3", "--keep-pass-logs")
    assert r.returncode == 0, r.stderr
    runs = run_events(ws)
    assert len(runs) == 3 and {e["status"] for e in runs} == {"executed"}
    assert len({e["key"] for e in runs}) == 3
    assert sorted((d / "runs").read_text().split()) == ["1", "2", "3"]
    log = (logs_dir(ws) / "t/test.log").read_text()
    for n in (1, 2, 3):
        assert f"run={n}" in log, log
    s = summary_json(ws)
    assert [t["label"] for t in s["tests"]] == ["//:t"] and s["tests"][0]["status"] == "PASSED"

    # One failing run fails the test.
    one_test(ws, '[ "$TEST_RUN_NUMBER" != 2 ]\n')
    r = ws.run("test", "//:t", "--runs-per-test", "3")
    assert r.returncode == 3, r.stderr
    assert sorted(e["status"] for e in run_events(ws)) == ["executed", "executed", "failed"]
    assert failures(ws) == ["//:t"]


def test_shards(ws, tmp_path):
    d = tmp_path / "shards"
    d.mkdir()
    one_test(ws, f"""\
        set -e
        echo "shard=$TEST_SHARD_INDEX/$TEST_TOTAL_SHARDS"
        echo "$TEST_SHARD_INDEX $TEST_TOTAL_SHARDS" >> {d}/seen
        test -n "$TEST_SRCDIR"
        test -d "$TEST_SRCDIR"
        test -d "$TEST_TMPDIR"
        test ! -e "$TEST_TMPDIR/scratch.txt"
        echo scratch > "$TEST_TMPDIR/scratch.txt"
        test "$(cat "$TEST_TMPDIR/scratch.txt")" = scratch
        """, "shard_count = 3\n" + OUTSIDE)
    r = ws.run("test", "//:t", "--keep-pass-logs")
    assert r.returncode == 0, r.stderr
    runs = run_events(ws)
    assert len(runs) == 3 and {e["status"] for e in runs} == {"executed"}
    assert sorted((d / "seen").read_text().splitlines()) == ["0 3", "1 3", "2 3"]
    log = (logs_dir(ws) / "t/test.log").read_text()
    for i in range(3):
        assert f"shard={i}/3" in log, log
    assert statuses(r.stderr) == {"//:t": "PASSED"}

    r = ws.run("test", "//:t")
    assert r.returncode == 0, r.stderr
    assert [e["status"] for e in run_events(ws)] == ["cached"] * 3
    assert statuses(r.stderr) == {"//:t": "(cached) PASSED"}


def test_one_failing_shard_fails_the_test(ws):
    one_test(ws, 'echo "shard $TEST_SHARD_INDEX"\n[ "$TEST_SHARD_INDEX" != 1 ]\n', "shard_count = 3\n")
    r = ws.run("test", "//:t")
    assert r.returncode == 3, r.stderr
    assert sorted(e["status"] for e in run_events(ws)) == ["executed", "executed", "failed"]
    assert statuses(r.stderr) == {"//:t": "FAILED"}
    assert failures(ws) == ["//:t"]


# ---------------------------------------------------------------- timeouts

def test_timeout_kills_the_test(ws):
    ws.write({"BUILD.toml": HEADER + """\
        [slow]
        rule = "sh_test"
        src = "slow.sh"
        timeout = 1

        [fast]
        rule = "sh_test"
        src = "fast.sh"
        timeout = "short"
        """, "slow.sh": "echo started\nsleep 30\n", "fast.sh": "exit 0\n"})
    t0 = time.monotonic()
    r = ws.run("test", "//...", timeout=60)
    elapsed = time.monotonic() - t0
    assert r.returncode == 3, r.stderr
    assert elapsed < 15, elapsed
    assert statuses(r.stderr) == {"//:slow": "TIMEOUT", "//:fast": "PASSED"}
    assert failures(ws) == ["//:slow"]
    tests = {t["label"]: t for t in summary_json(ws)["tests"]}
    assert tests["//:slow"]["status"] == "TIMEOUT"
    assert 1 <= tests["//:slow"]["duration_s"] < 15
    assert "started" in (logs_dir(ws) / "slow/test.log").read_text()
    assert summary_json(ws)["counts"]["failed"] == 1
    fail = junit_cases(logs_dir(ws) / "junit.xml")["//:slow"].find("failure")
    assert fail is not None
    assert by_label(run_events(ws))["//:slow"] == ["failed"]


def test_tests_see_only_the_declared_environment(ws):
    one_test(ws, '[ -z "$LEAKED_FROM_SHELL" ] && [ "$MINE" = yes ]\n', 'env = { MINE = "yes" }\n')
    r = ws.run("test", "//:t", env={"LEAKED_FROM_SHELL": "1"})
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------ --test-output

OUTPUT_WS = {"BUILD.toml": HEADER + """\
    [good]
    rule = "sh_test"
    src = "good.sh"

    [bad]
    rule = "sh_test"
    src = "bad.sh"
    """, "good.sh": "echo GOOD_TEST_SAYS_HI\n", "bad.sh": "echo BAD_TEST_SAYS_NO\nexit 1\n"}


@pytest.mark.parametrize("mode", ["errors", "all", "summary", None])
def test_test_output_modes(ws, mode):
    ws.write(OUTPUT_WS)
    args = ["test", "//..."] + (["--test-output", mode] if mode else [])
    r = ws.run(*args)
    assert r.returncode == 3, r.stderr
    out = r.stdout + r.stderr
    assert statuses(r.stderr) == {"//:good": "PASSED", "//:bad": "FAILED"}
    shown_good = "GOOD_TEST_SAYS_HI" in out
    shown_bad = "BAD_TEST_SAYS_NO" in out
    if mode == "all":
        assert shown_good and shown_bad, out
    elif mode == "summary":
        assert not shown_good and not shown_bad, out
        assert "moltb-out/testlogs/bad/test.log" in out, out
    else:   # errors, the default
        assert shown_bad and not shown_good, out

    # The same holds for a cached pass on the next run.
    r = ws.run(*args)
    assert statuses(r.stderr) == {"//:good": "(cached) PASSED", "//:bad": "FAILED"}
    assert ("GOOD_TEST_SAYS_HI" in r.stdout + r.stderr) == (mode == "all"), r.stderr


def test_bad_test_output_value_exits_2(ws):
    ws.write(OUTPUT_WS)
    r = ws.run("test", "//...", "--test-output", "loud")
    assert r.returncode == 2, r.stderr
    assert "--test-output" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("mode", ["errors", "summary"])
def test_passing_test_stderr_hidden_unless_all(ws, mode):
    one_test(ws, "echo PASSING_STDERR >&2\nexit 0\n")
    r = ws.run("test", "//:t", "--test-output", mode, "--keep-pass-logs")
    assert r.returncode == 0, r.stderr
    assert "PASSING_STDERR" in (logs_dir(ws) / "t/test.log").read_text()
    assert "PASSING_STDERR" not in r.stdout + r.stderr, r.stderr


def test_junit_path_is_relative_to_the_working_directory(ws):
    ws.write(MIXED)
    r = ws.run("test", "//pkg:ok_sh", "--junit", "from-pkg.xml", cwd=ws.root / "pkg")
    assert r.returncode == 0, r.stderr
    assert list(junit_cases(ws.root / "pkg" / "from-pkg.xml")) == ["//pkg:ok_sh"]


def test_junit_path_in_a_new_directory(ws):
    ws.write(MIXED)
    r = ws.run("test", "//pkg:ok_sh", "--junit", "reports/ci/junit.xml")
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    assert list(junit_cases(ws.root / "reports/ci/junit.xml")) == ["//pkg:ok_sh"]


# ------------------------------------------------- build does not run tests

def test_build_builds_test_deps_without_running_tests(ws, tmp_path):
    marker = tmp_path / "ran"
    ws.write({"BUILD.toml": HEADER + """\
        [gen]
        rule = "genrule"
        outs = ["gen.txt"]
        cmd = "echo GENERATED > $@"

        [t]
        rule = "sh_test"
        src = "t.sh"
        data = [":gen"]
        tags = ["no-sandbox"]

        [failing]
        rule = "sh_test"
        src = "failing.sh"
        tags = ["no-sandbox"]
        """, "t.sh": f"touch {marker}\n", "failing.sh": f"touch {marker}\nexit 1\n"})
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert ws.out("gen.txt").read_text() == "GENERATED\n"
    assert [e["label"] for e in ws.executed()] == ["//:gen"]
    assert run_events(ws) == []
    assert not marker.exists()
    assert ws.finished()["tests"] == dict.fromkeys(COUNT_KEYS, 0)
    assert not (logs_dir(ws) / "summary.json").exists()

    r = ws.run("test", "//...")
    assert r.returncode == 3, r.stderr
    assert marker.exists()
    # The dependency built by `moltb build` is reused.
    gen = [e for e in ws.events() if e["event"] == "action_finished" and e["label"] == "//:gen"]
    assert [e["status"] for e in gen] == ["cached"]


# --------------------------------------------- reports are per invocation

def test_each_invocation_rewrites_the_reports(ws, tmp_path):
    ws.write(MIXED)
    assert ws.run("test", "//...").returncode == 3
    assert len(summary_json(ws)["tests"]) == 5
    assert sorted(failures(ws)) == FAILING

    copy = tmp_path / "j.xml"
    r = ws.run("test", "//pkg:ok_sh", "--junit", str(copy))
    assert r.returncode == 0, r.stderr
    s = summary_json(ws)
    assert [t["label"] for t in s["tests"]] == ["//pkg:ok_sh"]
    assert s["tests"][0]["cached"] is True
    assert s["counts"] == {"passed": 1, "failed": 0, "cached": 1, "flaky": 0, "xfail": 0, "skipped": 0,
                           "xpass": 0, "oom": 0, "timeout": 0}
    assert failures(ws) == []
    assert list(junit_cases(logs_dir(ws) / "junit.xml")) == ["//pkg:ok_sh"]
    assert list(junit_cases(copy)) == ["//pkg:ok_sh"]

    r = ws.run("test", "//pkg:bad_sh")
    assert r.returncode == 3, r.stderr
    assert [t["label"] for t in summary_json(ws)["tests"]] == ["//pkg:bad_sh"]
    assert failures(ws) == ["//pkg:bad_sh"]
    assert list(junit_cases(logs_dir(ws) / "junit.xml")) == ["//pkg:bad_sh"]
    # The event log keeps the history: one log per invocation.
    logs = [p for p in (ws.root / "logs/moltb").iterdir() if p.name != "latest.jsonl"]
    assert len(logs) == 3
