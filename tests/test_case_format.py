"""Molt's differential-case format, unit by unit: the header grammar (MOLT_META,
MOLT_ENV) and each comparison mode, table-driven."""
from __future__ import annotations

import pytest

from molt_build.rules.casemeta import host_platforms, parse
from molt_build.rules.comparison import exception_line, pyperformance, relaxed, same_stderr, same_stdout


def test_tokens_split_on_whitespace_values_on_commas_and_keys_accumulate():
    cm = parse("import os\n# MOLT_META: expect_fail=molt expect_fail_reason=no-frames bare platforms=linux,macos\n"
               "x = 1\n   # MOLT_META: expect_fail=native,,\n// MOLT_META: wasm=no\n")
    assert cm.meta == {"expect_fail": ["molt", "native"], "expect_fail_reason": ["no-frames"],
                       "platforms": ["linux", "macos"], "wasm": ["no"]}
    assert cm.errors == []
    assert cm.expects_failure_of("molt-native") and cm.expects_failure_of("native")
    assert not cm.expects_failure_of("moltx")


def test_molt_env_values_are_single_strings_and_the_last_wins():
    cm = parse("# MOLT_ENV: MOLT_CAPABILITIES=fs,env PYTHONPATH=lib\n# MOLT_ENV: PYTHONPATH=src NOEQ\n")
    assert cm.env == {"MOLT_CAPABILITIES": "fs,env", "PYTHONPATH": "src"}


def test_only_comment_lines_are_headers():
    assert parse("print('# MOLT_META: wasm=no')\ns = '''\n x # MOLT_META: wasm=only\n'''\n").meta == {}


@pytest.mark.parametrize("header, error", [
    ("stdlib_profile=micro,full", "stdlib_profile takes one value"),
    ("stdlib_profile=huge", "stdlib_profile=huge"),
    ("wasm=maybe", "wasm=maybe"),
    ("stdout=fuzzy", "stdout=fuzzy"),
    ("stderr=loose", "stderr=loose"),
    ("min_py=three", "min_py=three"),
    ("platforms=amiga", "platforms=amiga"),
    ("stdout=exact stdout=relaxed", "stdout takes one value"),
])
def test_malformed_headers_are_per_case_errors(header, error):
    cm = parse(f"# MOLT_META: {header}\n")
    assert len(cm.errors) == 1 and error in cm.errors[0], cm.errors


@pytest.mark.parametrize("platforms, host, skipped", [
    ("linux", "linux", False), ("posix", "linux", False), ("macos", "linux", True),
    ("macos,windows", "darwin", False), ("windows", "freebsd14", True), ("freebsd", "freebsd14", False),
])
def test_platforms(platforms, host, skipped):
    why = parse(f"# MOLT_META: platforms={platforms}\n").platform_skip(host)
    assert bool(why) == skipped, why
    assert host_platforms("linux") == ("linux", "posix")


def test_python_version_range():
    cm = parse("# MOLT_META: min_py=3.12 max_py=3.13\n")
    assert cm.py_range() == ((3, 12), (3, 13))
    assert parse("").py_range() == (None, None)


@pytest.mark.parametrize("mode, a, b, same", [
    ("exact", b"x\n", b"x\n", True),
    ("exact", b"x\n", b"x \n", False),
    ("relaxed", b"<object object at 0x7f3a9c>\n", b"<object object at 0x55d0e8a1>\n", True),
    ("relaxed", b"id=0xdead id=0xbeef\n", b"id= 0x1 id=0x2\n", True),
    ("relaxed", b"ptr 0x10 here\n", b"ptr 0xff here\n", True),
    ("relaxed", b"RefCount = 3\n", b"refcount=7\n", True),
    ("relaxed", b"x=1\n", b"x=2\n", False),
    ("relaxed", b"0x10g\n", b"0x11g\n", False),               # not a whole hex word
    ("pyperformance", b"took 1.52 s\n\n  loops: 10\n", b"took   0.98e-1 s\nloops: 12\n", True),
    ("pyperformance", b"v2 = 3\n", b"v3 = 3\n", False),       # digits inside names stay
    ("pyperformance", b"-1 +2.5 .5\n", b"7 8 9\n", True),
    ("pyperformance", b"a b\n", b"a  c\n", False),
])
def test_stdout_modes(mode, a, b, same):
    assert same_stdout(mode, a, b) is same


def test_normalisations():
    assert relaxed(b"<f at 0xAB12> id=0x1") == "<f at 0xADDR> id= 0xADDR"
    assert pyperformance(b"  t = 1.5e-3 s\t(3 runs)  \n\n") == "t = <num> s (<num> runs)"


TB1 = b'Traceback (most recent call last):\n  File "d/a.py", line 3, in <module>\nValueError: bad input\n'
TB2 = b'Traceback (most recent call last):\n  File "moltb-out/x/a", line 9, in f\nValueError: bad input\n'
TB3 = b'Traceback (most recent call last):\n  File "x", line 1\nKeyError: \'k\'\n'


@pytest.mark.parametrize("mode, a, b, same", [
    ("ignore", b"anything", b"else", True),
    ("exact", TB1, TB1, True), ("exact", TB1, TB2, False), ("match", TB1, TB2, False),
    ("exception", TB1, TB2, True), ("exception_signature", TB1, TB2, True), ("traceback", TB1, TB2, True),
    ("exception", TB1, TB3, False),
    ("exception", b"no exception here\n", b"no exception here\n", True),     # neither: byte for byte
    ("exception", b"warning: x\n", TB1, False),
    ("exception", b"", b"", True),
])
def test_stderr_modes(mode, a, b, same):
    assert same_stderr(mode, a, b) is same


def test_exception_line_is_the_last_type_message_line():
    assert exception_line(TB1) == "ValueError: bad input"
    assert exception_line(b"a.b.CustomError\n") == "a.b.CustomError"
    assert exception_line(b"  indented: no\n") is None
