"""Actions see only their declared inputs, must produce their declared outputs, and
leave nothing behind for the next action."""
from __future__ import annotations

import os
import subprocess

import pytest
from conftest import HEADER, SANDBOXES



def build_file(body: str) -> dict:
    return {"BUILD.toml": HEADER + body}


def test_reading_an_undeclared_file_fails_and_names_it(ws):
    ws.write(build_file("""\
        [peek]
        rule = "genrule"
        srcs = ["declared.txt"]
        outs = ["peek.txt"]
        cmd = "cat $< secret_undeclared.txt > $@"
        """)).write({"declared.txt": "ok\n", "secret_undeclared.txt": "hidden\n"})
    r = ws.run("build", "//:peek")
    assert r.returncode == 1, r.stderr
    assert "secret_undeclared.txt" in r.stderr
    assert "//:peek" in r.stderr
    assert not ws.out("peek.txt").exists()
    fin = ws.finished()
    assert fin["exit_code"] == 1 and fin["actions"]["failed"] == 1


def test_undeclared_file_in_another_package_is_not_visible(ws):
    ws.write(build_file("""\
        [peek]
        rule = "genrule"
        outs = ["peek.txt"]
        cmd = "ls lib > $@ 2>&1 || { echo 'lib/ not visible' >&2; exit 1; }"
        """)).write({"lib/BUILD.toml": "", "lib/data.txt": "x\n"})
    r = ws.run("build", "//:peek")
    assert r.returncode == 1, r.stderr
    assert "lib/ not visible" in r.stderr


def test_declared_inputs_are_visible_at_their_workspace_paths(ws):
    ws.write(build_file("""\
        [gen]
        rule = "genrule"
        srcs = ["sub/dir/a.txt", "b.txt"]
        outs = ["out/both.txt"]
        cmd = "cat sub/dir/a.txt b.txt > $@"
        """)).write({"sub/dir/a.txt": "A\n", "b.txt": "B\n"})
    r = ws.run("build", "//:gen")
    assert r.returncode == 0, r.stderr
    assert ws.out("out/both.txt").read_text() == "A\nB\n"


def test_missing_declared_output_fails_and_names_it(ws):
    ws.write(build_file("""\
        [half]
        rule = "genrule"
        outs = ["made.txt", "forgotten.txt"]
        cmd = "echo x > moltb-out/native-dev/made.txt"
        """))
    r = ws.run("build", "//:half")
    assert r.returncode == 1, r.stderr
    assert "forgotten.txt" in r.stderr
    assert "//:half" in r.stderr
    assert not ws.out("forgotten.txt").exists()
    failed = [e for e in ws.events() if e["event"] == "action_finished" and e["status"] == "failed"]
    assert [e["label"] for e in failed] == ["//:half"]
    # Not cached: the same build runs (and fails) again.
    r = ws.run("build", "//:half")
    assert r.returncode == 1 and ws.finished()["actions"]["failed"] == 1


def test_output_that_is_a_directory_is_not_an_output(ws):
    ws.write(build_file("""\
        [dir]
        rule = "genrule"
        outs = ["d"]
        cmd = "mkdir -p $@ && echo x > $@/f"
        """))
    r = ws.run("build", "//:dir")
    assert r.returncode == 1, r.stderr
    assert "moltb-out/native-dev/d" in r.stderr


def test_undeclared_outputs_are_ignored_and_do_not_leak(ws):
    """A writes junk next to its output, at the exec root and in a new directory; B
    (which runs after A, in the same worker with -j 1) must not see any of it, and the
    junk must not appear in the workspace or in moltb-out."""
    ws.write(build_file("""\
        [a]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = ["a.txt"]
        cmd = "cp $< $@; echo junk > moltb-out/native-dev/junk.txt; echo junk > top_junk.txt; mkdir -p newdir/deep && echo junk > newdir/deep/j.txt; echo junk > $$TMPDIR/t.txt"

        [b]
        rule = "genrule"
        srcs = [":a"]
        outs = ["b.txt"]
        cmd = "for f in moltb-out/native-dev/junk.txt top_junk.txt newdir/deep/j.txt newdir $$TMPDIR/t.txt; do if [ -e $$f ]; then echo LEAKED $$f >&2; exit 1; fi; done; cp $< $@"
        """)).write({"in.txt": "data\n"})
    r = ws.run("build", "//:b", "-j", "1")
    assert r.returncode == 0, r.stderr
    assert ws.out("b.txt").read_text() == "data\n"
    assert not ws.out("junk.txt").exists()
    assert not (ws.root / "top_junk.txt").exists()
    assert not (ws.root / "newdir").exists()


def test_files_written_into_a_reused_directory_do_not_leak(ws):
    """x has an input under pkg1/, so pkg1/ exists in the worker's exec root afterwards;
    a then writes pkg1/extra.txt without having an input there; b must not see it."""
    ws.write(build_file("""\
        [x]
        rule = "genrule"
        srcs = ["pkg1/in.txt"]
        outs = ["x.txt"]
        cmd = "cat $< > $@"

        [a]
        rule = "genrule"
        srcs = [":x"]
        outs = ["a.txt"]
        cmd = "echo leaked > pkg1/extra.txt; cat $< > $@"

        [b]
        rule = "genrule"
        srcs = [":a"]
        outs = ["b.txt"]
        cmd = "if [ -e pkg1/extra.txt ]; then echo 'LEAKED pkg1/extra.txt' >&2; exit 1; fi; cat $< > $@"
        """)).write({"pkg1/in.txt": "hello\n"})
    r = ws.run("build", "//:b", "-j", "1")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_directories_staged_for_an_earlier_action_are_gone_for_the_next(ws, sandbox):
    """Exec roots are reused (-j 1: one of them): x's input directory pkg1/ and the
    directory x made are not there when b runs, empty or not, nor x's output (b reads
    only y's)."""
    ws.write(build_file("""\
        [x]
        rule = "genrule"
        srcs = ["pkg1/deep/in.txt"]
        outs = ["x.txt"]
        cmd = "mkdir made && cat $< > $@"

        [y]
        rule = "genrule"
        srcs = [":x"]
        outs = ["y.txt"]
        cmd = "cat $< > $@"

        [b]
        rule = "genrule"
        srcs = [":y"]
        outs = ["b.txt"]
        cmd = "for d in pkg1 made moltb-out/native-dev/x.txt; do if [ -e $$d ]; then echo LEAKED $$d >&2; exit 1; fi; done; find . -type d | sort > $@"
        """)).write({"pkg1/deep/in.txt": "hello\n"})
    r = ws.run("build", "//:b", "-j", "1", f"--sandbox={sandbox}")
    assert r.returncode == 0, r.stderr
    assert ws.out("b.txt").read_text().split() == [".", "./moltb-out", "./moltb-out/native-dev"]


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_action_writing_to_its_source_input_fails_or_cannot(ws, sandbox):
    # In the light sandbox inputs are links to the workspace (root ignores read-only
    # modes), so moltb cannot stop the write; it detects it and fails the action instead
    # of caching its result. In the namespace sandbox the input is a read-only mount.
    ws.write(build_file("""\
        [x]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = ["x.txt"]
        cmd = "cat $< > $@; echo pwned >> $< 2>/dev/null; true"
        """)).write({"in.txt": "hello\n"})
    r = ws.run("build", "//:x", f"--sandbox={sandbox}")
    if sandbox == "light":
        assert r.returncode == 1
        assert "modified its input" in r.stderr and "in.txt" in r.stderr
        assert ws.finished()["actions"]["failed"] == 1
    else:
        assert r.returncode == 0, r.stderr
        assert (ws.root / "in.txt").read_text() == "hello\n"


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_action_writing_to_a_generated_input_fails_or_cannot(ws, sandbox):
    ws.write(build_file("""\
        [x]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = ["x.txt"]
        cmd = "cat $< > $@"

        [y]
        rule = "genrule"
        srcs = [":x"]
        outs = ["y.txt"]
        cmd = "cat $< > $@; chmod u+w $< 2>/dev/null; echo pwned >> $< 2>/dev/null; true"
        """)).write({"in.txt": "hello\n"})
    r = ws.run("build", "//:y", f"--sandbox={sandbox}")
    if sandbox == "light":
        assert r.returncode == 1
        assert "modified its input" in r.stderr and "x.txt" in r.stderr
    else:
        assert r.returncode == 0, r.stderr
        assert ws.out("y.txt").read_text() == "hello\n"
    # The corrupted blob and output were dropped (or never touched): the producer's
    # output is right.
    r = ws.run("build", "//:x")
    assert r.returncode == 0, r.stderr
    assert ws.out("x.txt").read_text() == "hello\n"


@pytest.mark.parametrize("outs, shown", [
    ('["../escape.txt"]', "../escape.txt"),
    ('["sub/../../escape.txt"]', "sub/../../escape.txt"),
    ('["/tmp/moltb-abs-escape.txt"]', "/tmp/moltb-abs-escape.txt"),
])
def test_outputs_escaping_the_output_root_are_refused(ws, outs, shown):
    ws.write(build_file(f"""\
        [bad_out]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = {outs}
        cmd = "cp $< $@"
        """)).write({"in.txt": "x\n"})
    r = ws.run("build", "//:bad_out")
    assert r.returncode == 2, r.stderr
    assert "bad_out" in r.stderr and shown in r.stderr
    assert "Traceback" not in r.stderr
    assert ws.finished()["exit_code"] == 2
    assert not (ws.root / "escape.txt").exists()
    assert not (ws.root / "moltb-out/escape.txt").exists()


def test_escaping_output_error_names_the_outs_field(ws):
    ws.write(build_file("""\
        [bad_out]
        rule = "genrule"
        outs = ["../escape.txt"]
        cmd = "touch $@"
        """))
    r = ws.run("build", "//:bad_out")
    assert r.returncode == 2
    assert "outs" in r.stderr


def test_absolute_source_path_is_refused(ws):
    ws.write(build_file("""\
        [abs_src]
        rule = "genrule"
        srcs = ["/etc/hostname"]
        outs = ["o.txt"]
        cmd = "cat $(SRCS) > $@"
        """))
    r = ws.run("build", "//:abs_src")
    assert r.returncode == 2, r.stderr
    assert "abs_src" in r.stderr and "Traceback" not in r.stderr


def test_failed_actions_are_never_cached(ws):
    ws.write(build_file("""\
        [check]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = ["ok.txt"]
        cmd = "grep -q good $< || { echo 'input is bad' >&2; exit 1; }; cp $< $@"
        """))
    ws.write({"in.txt": "bad\n"})
    r = ws.run("build", "//:check")
    assert r.returncode == 1 and "input is bad" in r.stderr
    # The same failing input again: runs again (a failure is not a cache entry).
    r = ws.run("build", "//:check")
    assert r.returncode == 1 and "input is bad" in r.stderr
    ev = [e for e in ws.events() if e["event"] == "action_finished"]
    assert [e["status"] for e in ev] == ["failed"]
    ws.write({"in.txt": "good\n"})
    r = ws.run("build", "//:check")
    assert r.returncode == 0, r.stderr
    assert [e["label"] for e in ws.executed()] == ["//:check"]
    ws.write({"in.txt": "bad\n"})
    r = ws.run("build", "//:check")
    assert r.returncode == 1 and "input is bad" in r.stderr
    fin = ws.finished()
    assert fin["actions"] == {"total": 1, "executed": 0, "cached": 0, "failed": 1}
    assert not any(e["event"] == "action_finished" and e["status"] == "cached" for e in ws.events())
    # Back to the good input: that successful result is still in the cache.
    ws.write({"in.txt": "good\n"})
    r = ws.run("build", "//:check")
    assert r.returncode == 0 and ws.finished()["actions"]["cached"] == 1, r.stderr


def test_exec_roots_an_older_moltb_left_on_tmpfs_are_removed(ws):
    """Exec roots used to live on /dev/shm: those a dead process left there go too."""
    from molt_build.sandbox import legacy_base
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm here")
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = os.path.join(legacy_base(), f"{dead.pid}-7", "x")
    os.makedirs(left, exist_ok=True)
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\n\n[g]\nrule = "genrule"\nouts = ["g.txt"]\ncmd = "touch $@"\n'})
    assert ws.run("build", "//:g").returncode == 0
    assert not os.path.exists(os.path.dirname(left))
