"""A fresh checkout that shares a warm cache skips loading and analysis when what the
graph was derived from has the same content (BUILD files, directory listings seen by
globs, named sources, plugins in the workspace); anything else analyses afresh."""
from __future__ import annotations

from conftest import HEADER
from test_plugins import shout_ws

FILES = {"BUILD.toml": HEADER + """\
    [all_txt]
    rule = "genrule"
    srcs = ["in/*.txt"]
    outs = ["all.txt"]
    cmd = "cat $(SRCS) > $@"

    [one]
    rule = "genrule"
    srcs = ["named.txt"]
    outs = ["one.txt"]
    cmd = "tr a-z A-Z < $< > $@"
    """, "in/a.txt": "a\n", "in/b.txt": "b\n", "named.txt": "named\n"}


def started(ws) -> dict:
    return next(e for e in ws.events() if e["event"] == "build_started")


def two_checkouts(make_ws):
    a = make_ws("a").write(FILES)
    r = a.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert started(a)["cached_analysis"] is False
    return a, make_ws("b").write(FILES)


def test_fresh_checkout_takes_the_shared_analysis_and_rebuilds_nothing(make_ws):
    _a, b = two_checkouts(make_ws)
    r = b.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert started(b)["cached_analysis"] is True
    assert b.finished()["actions"] == {"total": 2, "executed": 0, "cached": 2, "failed": 0}
    assert b.out("all.txt").read_text() == "a\nb\n"
    # The checkout gets its own snapshot: later builds run nothing and soon answer from it
    # alone (the first one sees the directory that received moltb-out/ move).
    for _ in range(2):
        r = b.run("build", "//...")
        assert r.returncode == 0 and b.finished()["actions"]["executed"] == 0, r.stderr
    assert "nothing to do" in r.stderr, r.stderr


def test_a_different_build_file_is_analysed_afresh(make_ws):
    _a, b = two_checkouts(make_ws)
    b.write({"BUILD.toml": FILES["BUILD.toml"].replace("tr a-z A-Z < $< > $@", "rev < $< > $@")})
    r = b.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert started(b)["cached_analysis"] is False
    assert b.out("one.txt").read_text() == "deman\n"


def test_a_new_file_under_a_glob_is_analysed_afresh(make_ws):
    _a, b = two_checkouts(make_ws)
    b.write({"in/c.txt": "c\n"})
    r = b.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert started(b)["cached_analysis"] is False
    assert b.out("all.txt").read_text() == "a\nb\nc\n"


def test_a_missing_named_source_is_the_loading_error(make_ws):
    _a, b = two_checkouts(make_ws)
    (b.root / "named.txt").unlink()
    r = b.run("build", "//...")
    assert r.returncode == 2, r.stderr
    assert "named.txt" in r.stderr and "does not exist" in r.stderr and "field 'srcs'" in r.stderr


def test_a_different_plugin_in_the_workspace_is_analysed_afresh(make_ws):
    a = shout_ws(make_ws("a"))
    assert a.run("build", "//txt:loud", "--toolchain", "shout").returncode == 0
    b = shout_ws(make_ws("b"))
    plugin = b.root / "plugins/shouting.py"
    plugin.write_text(plugin.read_text().replace('"level $3"', '"LEVEL $3"'))
    r = b.run("build", "//txt:loud", "--toolchain", "shout")
    assert r.returncode == 0, r.stderr
    assert started(b)["cached_analysis"] is False
    assert "LEVEL 1" in b.out("txt/loud.txt", "shout-dev").read_text()
    # An identical third checkout shares b's analysis.
    c = shout_ws(make_ws("c"))
    (c.root / "plugins/shouting.py").write_text(plugin.read_text())
    r = c.run("build", "//txt:loud", "--toolchain", "shout")
    assert r.returncode == 0, r.stderr
    assert started(c)["cached_analysis"] is True
    assert c.finished()["actions"]["executed"] == 0
