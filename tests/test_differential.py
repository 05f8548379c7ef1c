"""diff_test and diff_suite with the real lanes: CPython as the reference, the Cython
lane (the native C compiler) as the candidate for .py cases, native/wasm/cranelift for
.c cases; and the resource controls of `moltb test` (rlimit, OOM retry alone, RSS, pass
logs)."""
from __future__ import annotations

import shutil
import tomllib
import xml.etree.ElementTree as ET

import pytest

from conftest import HEADER, REPO
from test_test_cmd import failures, logs_dir, summary_json as summary



def suite_ws(ws, cases: dict[str, str], attrs: str = "", extra: dict | None = None):
    """A `d` package holding one diff_suite over the given case files."""
    globs = ", ".join(f'"*{ext}"' for ext in (".py", ".c") if any(n.endswith(ext) for n in cases))
    files = {"BUILD.toml": HEADER, "d/BUILD.toml": f'[cases]\nrule = "diff_suite"\nsrcs = [{globs}]\n{attrs}'}
    files.update({f"d/{name}": text for name, text in cases.items()})
    files.update(extra or {})
    return ws.write(files)


def statuses(ws) -> dict[str, str]:
    return {t["label"]: t["status"] for t in summary(ws)["tests"]}


def log_of(ws, label: str) -> str:
    pkg, name = label[2:].split(":")
    return (logs_dir(ws) / pkg / name / "test.log").read_text()


def executed_by_label(ws) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in ws.executed():
        out.setdefault(e["label"], []).append(e["mnemonic"])
    return out


GOOD = "print('sum', sum(range(10)))\nprint({'a': 1, 'b': [1, 2]})\n"
# Cython compiles functions to its own type: a real difference from CPython.
DIFFERS = "def f():\n    pass\nprint('type', type(f).__name__)\n"


# ------------------------------------------------------------ suite expansion

def test_suite_makes_one_case_per_file_named_by_stem(ws):
    suite_ws(ws, {"alpha.py": GOOD, "beta.py": GOOD, "gamma.c": "int main(void){return 0;}\n"})
    r = ws.run("query", "//d:all")
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) == {"//d:cases", "//d:alpha", "//d:beta", "//d:gamma"}
    r = ws.run("query", "kind(diff_test, //d/...)")
    assert set(r.stdout.split()) == {"//d:alpha", "//d:beta", "//d:gamma"}


def test_diff_test_with_a_glob_makes_one_case_per_file(ws):
    ws.write({"BUILD.toml": HEADER, "g/BUILD.toml": '[every]\nrule = "diff_test"\nsrc = "*.c"\n',
              "g/one.c": '#include <stdio.h>\nint main(void){puts("1");return 0;}\n',
              "g/two.c": '#include <stdio.h>\nint main(void){puts("2");return 0;}\n'})
    r = ws.run("query", "//g:all")
    assert set(r.stdout.split()) == {"//g:every", "//g:one", "//g:two"}, r.stderr
    r = ws.run("test", "//g:every")
    assert r.returncode == 0, r.stderr
    assert statuses(ws) == {"//g:one": "PASSED", "//g:two": "PASSED"}


def test_two_cases_with_one_stem_is_an_error_naming_the_files(ws):
    suite_ws(ws, {"same.py": GOOD, "same.c": "int main(void){return 0;}\n"})
    r = ws.run("test", "//d/...")
    assert r.returncode == 2, r.stderr
    assert "d/BUILD.toml" in r.stderr and "cases" in r.stderr and "srcs" in r.stderr
    assert "same.py" in r.stderr and "same.c" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_generated_name_that_exists_is_an_error(ws):
    suite_ws(ws, {"alpha.py": GOOD}, extra={"d/BUILD.toml": '[alpha]\nrule = "sh_test"\nsrc = "t.sh"\n\n'
                                                           '[cases]\nrule = "diff_suite"\nsrcs = ["*.py"]\n',
                                            "d/t.sh": "exit 0\n"})
    r = ws.run("test", "//d/...")
    assert r.returncode == 2, r.stderr
    assert "'alpha'" in r.stderr and "already exists" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("attrs,field", [
    ('stderr = "loud"', "stderr"),
    ('toolchains = ["nope"]', "toolchains"),
])
def test_bad_attributes_exit_2_naming_the_field(ws, attrs, field):
    ws.write({"BUILD.toml": HEADER + f'[c]\nrule = "diff_test"\nsrc = "c.py"\n{attrs}\n', "c.py": GOOD})
    r = ws.run("test", "//:c")
    assert r.returncode == 2, r.stderr
    assert "BUILD.toml" in r.stderr and "c" in r.stderr and field in r.stderr
    assert "Traceback" not in r.stderr


def test_a_case_that_is_neither_py_nor_c_is_refused(ws):
    ws.write({"BUILD.toml": HEADER + '[c]\nrule = "diff_test"\nsrc = "c.txt"\n', "c.txt": "x\n"})
    r = ws.run("test", "//:c")
    assert r.returncode == 2, r.stderr
    assert "not a .py or .c case" in r.stderr and "src" in r.stderr


# ------------------------------------------------- results, caching, reruns

def test_pass_then_all_cached_then_one_edit_reruns_only_that_case(ws):
    suite_ws(ws, {"one.py": GOOD, "two.py": "print(2 ** 100)\n"})
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert statuses(ws) == {"//d:one": "PASSED", "//d:two": "PASSED"}
    mnemonics = executed_by_label(ws)["//d:one"]
    for m in ("DiffReference", "PyToC", "CcCompile", "CcLink", "DiffCompare"):
        assert m in mnemonics, mnemonics

    r = ws.run("test", "//d/...")
    assert r.returncode == 0
    assert ws.executed() == []
    assert "(cached) PASSED" in r.stderr
    assert all(t["cached"] for t in summary(ws)["tests"])

    (ws.root / "d/two.py").write_text("print(2 ** 101)\n")
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    runs = executed_by_label(ws)
    assert set(runs) == {"//d:two"}
    assert sorted(runs["//d:two"]) == sorted(["DiffReference", "PyToC", "CcCompile", "CcLink", "DiffCompare"])

    # A comment-only edit changes the generated C but not the object: the link and
    # everything after it are cut off, the compare runs again (its case changed).
    (ws.root / "d/two.py").write_text("print(2 ** 101)  # a comment\n")
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert "CcLink" not in executed_by_label(ws)["//d:two"]


def test_mismatch_fails_with_a_unified_diff_and_reports(ws):
    suite_ws(ws, {"good.py": GOOD, "bad.py": DIFFERS})
    r = ws.run("test", "//d/...")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:good": "PASSED", "//d:bad": "FAILED"}
    log = log_of(ws, "//d:bad")
    assert "--- cpython/stdout" in log and "+++ native/stdout" in log
    assert "-type function" in log and "+type cython_function_or_method" in log
    assert failures(ws) == ["//d:bad"]
    root = ET.parse(ws.root / "moltb-out/testlogs/junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"//d:good", "//d:bad"}
    assert cases["//d:bad"].find("failure") is not None and cases["//d:good"].find("failure") is None
    # A failure is never cached: the compare node runs again (the builds do not).
    r = ws.run("test", "//d/...")
    assert r.returncode == 3
    assert executed_by_label(ws) == {}
    assert [e["mnemonic"] for e in ws.events() if e["event"] == "action_finished" and e["status"] == "failed"] \
        == ["DiffCompare"]


def test_xfail_by_meta_and_manifest_then_xpass_when_fixed(ws):
    manifest = '[xfail]\n"//d:listed" = "known Cython difference"\n'
    suite_ws(ws, {"meta.py": "# MOLT_META: expect_fail=native expect_fail_reason=function-type\n" + DIFFERS, "listed.py": DIFFERS},
             attrs='expected_failures = "xfail.toml"\n', extra={"d/xfail.toml": manifest})
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert statuses(ws) == {"//d:meta": "XFAIL", "//d:listed": "XFAIL"}
    assert summary(ws)["counts"]["xfail"] == 2
    assert "known Cython difference" in log_of(ws, "//d:listed")
    r = ws.run("test", "//d/...")
    assert r.returncode == 0 and ws.executed() == []          # an expected failure is a cached result
    assert statuses(ws) == {"//d:meta": "XFAIL", "//d:listed": "XFAIL"}

    # The lane gets it right now: both become XPASS, which fails.
    (ws.root / "d/meta.py").write_text("# MOLT_META: expect_fail=native expect_fail_reason=function-type\n" + GOOD)
    (ws.root / "d/listed.py").write_text(GOOD)
    r = ws.run("test", "//d/...")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:meta": "XPASS", "//d:listed": "XPASS"}
    assert sorted(failures(ws)) == ["//d:listed", "//d:meta"]
    assert "remove the mark" in log_of(ws, "//d:meta")
    assert ws.finished()["tests"]["xpass"] == 2


def test_unreadable_manifest_fails_the_case_naming_the_file(ws):
    suite_ws(ws, {"c.py": GOOD}, attrs='expected_failures = "xfail.toml"\n',
             extra={"d/xfail.toml": "[xfail\n"})
    r = ws.run("test", "//d/...")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:c": "FAILED"}
    assert "cannot use the expected-failure manifest: d/xfail.toml" in log_of(ws, "//d:c")


def test_xfail_attribute_and_skip_meta(ws):
    suite_ws(ws, {"x.py": DIFFERS, "s.py": "# MOLT_META: skip=clock\nimport time\nprint(time.time())\n"},
             attrs="xfail = true\n")
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert statuses(ws) == {"//d:x": "XFAIL", "//d:s": "SKIPPED"}
    assert ws.finished()["tests"]["skipped"] == 1


def test_compile_error_on_both_sides_passes_on_one_side_fails(ws):
    both = "print('never')\ndef broken(:\n    pass\n"
    # CPython raises UnboundLocalError at run time; Cython refuses to compile it.
    one = "def f():\n    print(z)\n    z = 1\ntry:\n    f()\nexcept UnboundLocalError:\n    print('caught')\n"
    suite_ws(ws, {"both.py": both, "one.py": one})
    r = ws.run("test", "//d/...")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:both": "PASSED", "//d:one": "FAILED"}
    log = log_of(ws, "//d:one")
    assert "native failed to compile, cpython did not" in log
    assert "referenced before assignment" in log
    # A compile error is the case's recorded result: the second run rebuilds nothing.
    r = ws.run("test", "//d/...")
    assert r.returncode == 3
    assert executed_by_label(ws) == {}


def test_stderr_exception_mode_compares_type_and_message(ws):
    raising = "print('out', flush=True)\nraise ValueError('bad value 7')\n"
    ws.write({"BUILD.toml": HEADER + "".join(
        f'[{n}]\nrule = "diff_test"\nsrc = "{src}"\nstderr = "{mode}"\nxfail = {xf}\n\n'
        for n, src, mode, xf in [("exc", "r.py", "exception", "false"), ("exact", "r.py", "exact", "true")]),
        "r.py": raising})
    r = ws.run("test", "//...")
    assert r.returncode == 0, r.stderr
    # The traceback text differs between the two (frames are named differently), the
    # exception line does not.
    assert statuses(ws) == {"//:exc": "PASSED", "//:exact": "XFAIL"}
    assert "stderr differs" in log_of(ws, "//:exact")


# ------------------------------------------------------------------ C lanes

def test_c_case_runs_on_three_lanes_that_must_agree(ws):
    agree = '#include <stdio.h>\nint main(void){printf("%d\\n", 6 * 7); return 2;}\n'
    # The pointer size differs between the native (64-bit) and wasm32 lanes.
    disagree = '#include <stdio.h>\nint main(void){printf("%zu\\n", sizeof(void *)); return 0;}\n'
    suite_ws(ws, {"agree.c": agree, "disagree.c": disagree, "expect.c": agree},
             attrs='expected = ["*.expected"]\n', extra={"d/expect.expected": "41\n"})
    r = ws.run("test", "//d/...")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:agree": "PASSED", "//d:disagree": "FAILED", "//d:expect": "FAILED"}
    log = log_of(ws, "//d:disagree")
    assert "stdout differs (native vs wasm)" in log and "stdout differs (native vs cranelift)" in log
    assert "-8" in log and "+4" in log
    assert "stdout differs from d/expect.expected" in log_of(ws, "//d:expect")
    mnemonics = executed_by_label(ws)["//d:agree"]
    assert mnemonics.count("CcCompile") == 3 and mnemonics.count("CcLink") == 3
    assert "CraneliftCompile" in mnemonics and "DiffReference" not in mnemonics


# ------------------------------------------------------ resource controls

BIG = "data = bytearray(600 * 1024 * 1024)\nprint(len(data))\n"


def test_case_past_the_rlimit_is_oom_after_one_solo_retry(ws):
    suite_ws(ws, {"big.py": BIG, "small.py": GOOD})
    r = ws.run("test", "//d/...", "--rlimit-mb", "300")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:big": "OOM", "//d:small": "PASSED"}
    assert failures(ws) == ["//d:big"]
    retried = [e for e in ws.events() if e["event"] == "test_retry_alone"]
    assert [e["label"] for e in retried] == ["//d:big"]
    result = [e for e in ws.events() if e["event"] == "test_result" and e["label"] == "//d:big"]
    assert result[-1]["status"] == "OOM" and result[-1]["attempts"] == 2
    s = summary(ws)
    assert s["limits"]["rlimit_mb"] == 300 and s["limits"]["retry_oom"] is True
    assert s["counts"]["oom"] == 1 and s["counts"]["failed"] == 1
    assert "MemoryError" in log_of(ws, "//d:big")

    # Without the cap it passes (the cap is one of the test's conditions: it reruns).
    r = ws.run("test", "//d:big", "--rlimit-mb", "0")
    assert r.returncode == 0, r.stderr
    assert statuses(ws) == {"//d:big": "PASSED"}


def test_a_hanging_case_is_timeout_and_the_others_still_run(ws):
    suite_ws(ws, {"hang.py": "while True:\n    pass\n", "fine.py": GOOD}, attrs="timeout = 3\n")
    r = ws.run("test", "//d/...")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:hang": "TIMEOUT", "//d:fine": "PASSED"}
    assert failures(ws) == ["//d:hang"]
    assert ws.finished()["tests"]["timeout"] == 1


def test_no_retry_oom_reports_oom_after_one_attempt(ws):
    suite_ws(ws, {"big.py": BIG})
    r = ws.run("test", "//d/...", "--rlimit-mb", "300", "--no-retry-oom")
    assert r.returncode == 3, r.stderr
    assert statuses(ws) == {"//d:big": "OOM"}
    assert not [e for e in ws.events() if e["event"] == "test_retry_alone"]
    assert summary(ws)["limits"]["retry_oom"] is False


def test_measure_rss_reports_each_case_and_aggregates(ws):
    touch = "data = bytearray(150 * 1024 * 1024)\nfor i in range(0, len(data), 4096):\n    data[i] = 1\nprint(sum(data))\n"
    suite_ws(ws, {"heavy.py": touch, "light.py": GOOD})
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert all(t["max_rss_kb"] is None for t in summary(ws)["tests"])
    assert summary(ws)["rss"] == {}

    r = ws.run("test", "//d/...", "--measure-rss")
    assert r.returncode == 0, r.stderr
    tests = {t["label"]: t for t in summary(ws)["tests"]}
    heavy, light = tests["//d:heavy"]["max_rss_kb"], tests["//d:light"]["max_rss_kb"]
    assert heavy > 150 * 1024 > light > 0, (heavy, light)
    rss = summary(ws)["rss"]
    assert rss["max_kb"] == heavy and rss["max_label"] == "//d:heavy" and rss["measured"] == 2
    assert "peak RSS" in r.stderr


def test_passing_logs_are_pruned_unless_kept(ws):
    suite_ws(ws, {"good.py": GOOD, "bad.py": DIFFERS})
    r = ws.run("test", "//d/...")
    assert r.returncode == 3
    tests = {t["label"]: t for t in summary(ws)["tests"]}
    assert tests["//d:good"]["log"] is None
    assert not (ws.root / "moltb-out/testlogs/d/good/test.log").exists()
    assert (ws.root / tests["//d:bad"]["log"]).is_file()

    r = ws.run("test", "//d/...", "--keep-pass-logs")
    assert r.returncode == 3
    tests = {t["label"]: t for t in summary(ws)["tests"]}
    assert "PASSED" in (ws.root / tests["//d:good"]["log"]).read_text()
    assert summary(ws)["limits"]["keep_pass_logs"] is True


# -------------------------------------------------- the repo's own cases

def test_repo_differential_cases_all_run_then_all_cached(ws):
    shutil.copytree(REPO / "differential", ws.root / "differential")
    shutil.copy(REPO / "BUILD.toml", ws.root / "BUILD.toml")        # it registers molt_format's lanes
    r = ws.run("test", "//differential/...", timeout=1200)
    assert r.returncode == 0, r.stderr[-5000:]
    s = summary(ws)
    labels = [t["label"] for t in s["tests"]]
    molt_format = REPO / "differential/molt_format"
    py_cases = [p for p in (REPO / "differential").rglob("*.py") if molt_format not in p.parents]
    c_cases = list((REPO / "differential").rglob("*.c"))
    verdicts = tomllib.loads((molt_format / "VERDICTS.toml").read_text())["verdicts"]
    molt_cases = [c for c in verdicts if not c.startswith("must_fail/")]      # those are tagged manual
    assert len(py_cases) >= 40 and len(c_cases) >= 3
    assert len(labels) == len(py_cases) + len(c_cases) + len(molt_cases)
    assert s["counts"]["xfail"] >= 3 and s["counts"]["failed"] == 0
    lanes = {e["mnemonic"] for e in ws.executed() if e["label"].startswith("//differential/c:")}
    assert {"CcCompile", "CcLink", "CraneliftCompile", "DiffCompare"} <= lanes

    r = ws.run("test", "//differential/...")
    assert r.returncode == 0
    assert ws.executed() == []
    assert all(t["cached"] for t in summary(ws)["tests"])
    assert ws.finished()["actions"]["executed"] == 0


# ------------------------------------------------------------ case lists

def test_cases_from_a_tests_txt_runs_exactly_the_listed_cases(ws):
    ws.write({"BUILD.toml": HEADER,
              "d/BUILD.toml": '[listed]\nrule = "diff_suite"\ncases_from = "TESTS.txt"\ntoolchains = ["native"]\n',
              "d/TESTS.txt": "# the cases\na.py\n\nsub\n",
              "d/a.py": GOOD, "d/helper.py": "VALUE = 1\n",
              "d/sub/b.py": GOOD, "d/sub/c.py": "print('c')\n"})
    r = ws.run("query", "//d:all")
    assert set(r.stdout.split()) == {"//d:listed", "//d:a", "//d:b", "//d:c"}, r.stdout + r.stderr
    r = ws.run("test", "//d/...")
    assert r.returncode == 0, r.stderr
    assert set(statuses(ws)) == {"//d:a", "//d:b", "//d:c"}
    # The list is an input of loading: a new entry is picked up.
    ws.write({"d/TESTS.txt": "a.py\nsub\nhelper.py\n"})
    r = ws.run("query", "//d:all")
    assert "//d:helper" in r.stdout.split(), r.stdout + r.stderr
    ws.write({"d/TESTS.txt": "a.py\nmissing.py\n"})
    r = ws.run("test", "//d/...")
    assert r.returncode == 2, r.stderr
    assert "TESTS.txt:2: 'missing.py' does not exist" in r.stderr and "cases_from" in r.stderr
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------ reports in Molt's shape

def test_report_format_molt_writes_case_paths_and_molts_summary_keys(ws):
    import json
    suite_ws(ws, {"good.py": GOOD, "bad.py": DIFFERS,
                  "known.py": "# MOLT_META: expect_fail=native expect_fail_reason=function-type\n" + DIFFERS,
                  "clock.py": "# MOLT_META: skip=clock\nprint(1)\n"}, attrs='toolchains = ["native"]\n')
    r = ws.run("test", "//d/...", "--report-format", "molt")
    assert r.returncode == 3, r.stderr
    base = ws.root / "moltb-out/testlogs"
    assert (base / "failures.txt").read_text() == "d/bad.py\n"
    s = json.loads((base / "summary.json").read_text())
    assert {k: s[k] for k in ("discovered", "total", "passed", "failed", "oom", "skipped")} == \
        {"discovered": 4, "total": 4, "passed": 2, "failed": 1, "oom": 0, "skipped": 1}
    assert s["failed_files"] == ["d/bad.py"] and s["skipped_files"] == ["d/clock.py"]
    assert {i["path"]: i["status"] for i in s["item_results"]} == {
        "d/good.py": "passed", "d/bad.py": "failed", "d/known.py": "passed", "d/clock.py": "skipped"}
    assert all("duration_s" in i for i in s["item_results"])
    assert {"python_exe", "jobs", "run_id", "config", "rss"} <= set(s)
    results = [json.loads(line) for line in (base / "results.jsonl").read_text().splitlines()]
    by_path = {x["path"]: x for x in results}
    assert by_path["d/known.py"]["status"] == "XFAIL" and by_path["d/known.py"]["lanes"] == ["cpython", "native"]
    # The default format is unchanged (labels), and writes the raw results too.
    r = ws.run("test", "//d/...")
    assert (base / "failures.txt").read_text() == "//d:bad\n"
    assert (base / "results.jsonl").exists()
    assert all(x["cached"] for x in map(json.loads, (base / "results.jsonl").read_text().splitlines())
               if x["status"] != "FAILED")
