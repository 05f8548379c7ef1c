"""An incremental build schedules only what the changed files reach (delta.py): the
result, the event log and the next snapshot are those of a full look at every action."""
from __future__ import annotations

import pytest

from conftest import HEADER

CHAIN = {
    "BUILD.toml": HEADER,
    "p/a.txt": "alpha\n",
    "p/d.txt": "delta\n",
    "p/BUILD.toml": """
        [first]
        rule = "genrule"
        srcs = ["a.txt"]
        outs = ["first.txt"]
        cmd = "cut -c1-3 $< > $@"

        [second]
        rule = "genrule"
        srcs = [":first"]
        outs = ["second.txt"]
        cmd = "tr a-z A-Z < $< > $@"

        [third]
        rule = "genrule"
        srcs = [":second"]
        outs = ["third.txt"]
        cmd = "cat $< $< > $@"

        [other]
        rule = "genrule"
        srcs = ["d.txt"]
        outs = ["other.txt"]
        cmd = "rev $< > $@"
    """,
}


def statuses(ws) -> dict[str, str]:
    return {e["label"].split(":")[1]: e["status"] for e in ws.events() if e["event"] == "action_finished"}


@pytest.mark.parametrize("server", ["0", "1"])
def test_an_edit_runs_its_chain_and_carries_the_rest(ws, server):
    env = {"MOLTB_SERVER": server, "MOLTB_SERVER_IDLE_S": "60"}
    ws.write(CHAIN)
    assert ws.run("build", "//p:all", env=env).returncode == 0
    assert ws.run("build", "//p:all", env=env).returncode == 0
    (ws.root / "p/a.txt").write_text("omega\n")
    r = ws.run("build", "//p:all", env=env)
    assert r.returncode == 0, r.stderr
    assert statuses(ws) == {"first": "executed", "second": "executed", "third": "executed", "other": "cached"}
    assert ws.finished()["actions"] == {"total": 4, "executed": 3, "cached": 1, "failed": 0}
    assert ws.out("p/third.txt").read_text() == "OME\nOME\n"
    # The next snapshot is whole: a no-op replays all four, a look at every action agrees.
    assert ws.run("build", "//p:all", env=env).returncode == 0
    assert statuses(ws) == dict.fromkeys(("first", "second", "third", "other"), "cached")
    assert ws.run("build", "//p:all", env={"MOLTB_SERVER": "0", "MOLTB_NO_FASTPATH": "1"}).returncode == 0
    assert ws.finished()["actions"]["executed"] == 0


def test_an_edit_that_leaves_an_output_alike_stops_there(ws):
    ws.write(CHAIN)
    assert ws.run("build", "//p:all").returncode == 0
    (ws.root / "p/a.txt").write_text("alps and more\n")      # cut -c1-3: "alp" as before
    assert ws.run("build", "//p:all").returncode == 0
    assert statuses(ws) == {"first": "executed", "second": "cached", "third": "cached", "other": "cached"}


def test_a_deleted_output_of_an_untouched_action_is_made_again(ws):
    ws.write(CHAIN)
    assert ws.run("build", "//p:all").returncode == 0
    ws.out("p/other.txt").unlink()
    (ws.root / "p/a.txt").write_text("omega\n")
    assert ws.run("build", "//p:all").returncode == 0
    assert ws.out("p/other.txt").read_text() == "atled\n"
    assert statuses(ws)["other"] in ("executed", "cached")
    assert ws.out("p/third.txt").read_text() == "OME\nOME\n"


def test_a_failing_action_fails_the_build_and_its_fix_completes_it(ws):
    ws.write(CHAIN)
    build = ws.root / "p/BUILD.toml"
    build.write_text(build.read_text().replace('cmd = "rev $< > $@"', 'cmd = "grep -qv bad $< && rev $< > $@"'))
    assert ws.run("build", "//p:all").returncode == 0
    (ws.root / "p/d.txt").write_text("bad\n")
    r = ws.run("build", "//p:all")
    assert r.returncode == 1, r.stderr
    assert statuses(ws) == {"first": "cached", "second": "cached", "third": "cached", "other": "failed"}
    (ws.root / "p/d.txt").write_text("good\n")
    assert ws.run("build", "//p:all").returncode == 0
    assert statuses(ws) == {"first": "cached", "second": "cached", "third": "cached", "other": "executed"}
    assert ws.out("p/other.txt").read_text() == "doog\n"
