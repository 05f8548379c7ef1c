"""`moltb validate`: one clear message per broken BUILD.toml, naming the file (and the
target and field), exit 1; a valid workspace exits 0; no workspace exits 2. Never a
traceback. `moltb build` of the same workspaces fails with exit 2, also cleanly."""
from __future__ import annotations

import json

import pytest

APP = {"app/main.c": "int main(void) { return 0; }\n", "lib/greet.c": "", "lib/greet.h": ""}

VALID_LIB = '[greet]\nrule = "c_library"\nsrcs = ["greet.c"]\nhdrs = ["greet.h"]\n'


def error_lines(stderr: str) -> list[str]:
    return [l for l in stderr.splitlines() if l.startswith("ERROR:")]


# (id, files, file, target, field, fragments the single message must contain)
BROKEN = [
    ("toml-syntax",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"\ndeps = []\n'},
     "app/BUILD.toml", None, None, ["TOML syntax error", "line 4"]),
    ("toml-unclosed-at-end",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"\n'},
     "app/BUILD.toml", None, None, ["TOML syntax error"]),
    ("toml-duplicate-table",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\n\n[prog]\nrule = "c_binary"\n'},
     "app/BUILD.toml", None, None, ["TOML"]),
    ("unknown-rule",
     {"app/BUILD.toml": '[prog]\nrule = "c_binery"\nsrcs = ["main.c"]\n'},
     "app/BUILD.toml", "prog", "rule", ["unknown rule 'c_binery'", "did you mean 'c_binary'?"]),
    ("srcs-is-a-string",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = "main.c"\n'},
     "app/BUILD.toml", "prog", "srcs", ["list", "'main.c'"]),
    ("copts-is-a-number",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ncopts = 3\n'},
     "app/BUILD.toml", "prog", "copts", ["list", "3"]),
    ("list-of-wrong-items",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ndeps = [1]\n'},
     "app/BUILD.toml", "prog", "deps", ["item 0", "string", "got 1"]),
    ("unknown-field",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\nsrc = ["main.c"]\n'},
     "app/BUILD.toml", "prog", "src", ["unknown field"]),
    ("missing-rule",
     {"app/BUILD.toml": '[prog]\nsrcs = ["main.c"]\n'},
     "app/BUILD.toml", "prog", "rule", ["rule"]),
    ("missing-required-field",
     {"app/BUILD.toml": '[gen]\nrule = "genrule"\nouts = ["x"]\n'},
     "app/BUILD.toml", "gen", "cmd", ["missing"]),
    ("not-a-table",
     {"app/BUILD.toml": 'prog = "c_binary"\n'},
     "app/BUILD.toml", "prog", None, ["table"]),
    ("missing-src",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["mian.c"]\n'},
     "app/BUILD.toml", "prog", "srcs", ["mian.c", "did you mean 'main.c'?"]),
    ("empty-glob",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["*.cpp"]\n'},
     "app/BUILD.toml", "prog", "srcs", ["*.cpp", "matches no files"]),
    ("unknown-dep",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ndeps = ["//lib:gret"]\n'},
     "app/BUILD.toml", "prog", "deps", ["//lib:gret", "did you mean '//lib:greet'?"]),
    ("malformed-dep",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ndeps = ["//lib::greet"]\n'},
     "app/BUILD.toml", "prog", "deps", ["//lib::greet"]),
    ("cycle",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ndeps = ["//lib:greet"]\n',
      "lib/BUILD.toml": VALID_LIB + 'deps = ["//app:prog"]\n'},
     None, None, None, ["cycle", "//app:prog -> //lib:greet", "//lib:greet -> //app:prog"]),
    ("not-visible",
     {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ndeps = ["//lib:greet"]\n',
      "lib/BUILD.toml": VALID_LIB + 'visibility = ["//visibility:private"]\n'},
     "app/BUILD.toml", "prog", "deps", ["//lib:greet", "not visible", "//app:prog"]),
    ("workspace-in-a-package",
     {"app/BUILD.toml": '[workspace]\nname = "x"\n\n[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\n'},
     "app/BUILD.toml", "workspace", None, ["[workspace]"]),
    ("bad-workspace-table",
     {"BUILD.toml": '[workspace]\nname = "t"\ndefault_profil = "dev"\n'},
     "BUILD.toml", "workspace", "default_profil", ["unknown field"]),
]


def _ws_with(ws, files: dict[str, str]):
    base = {"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ndeps = ["//lib:greet"]\n',
            "lib/BUILD.toml": VALID_LIB, **APP}
    return ws.write({**base, **files})


# Cases checked through the library function the command runs (the command's own
# printing and exit code are covered by the others): keeps the suite fast.
IN_PROCESS = {"toml-unclosed-at-end", "toml-duplicate-table", "list-of-wrong-items", "unknown-field",
              "missing-rule", "missing-required-field", "not-a-table", "empty-glob", "malformed-dep",
              "workspace-in-a-package", "not-visible"}


@pytest.mark.parametrize("case, files, file, target, field, fragments",
                         [b for b in BROKEN if b[0] in IN_PROCESS],
                         ids=[b[0] for b in BROKEN if b[0] in IN_PROCESS])
def test_validate_finds_one_error(ws, case, files, file, target, field, fragments):
    from molt_build.cli.validate_cmd import validate_workspace
    _ws_with(ws, files)
    errs, npkgs, _ = validate_workspace(str(ws.root))
    assert len(errs) == 1, [str(e) for e in errs]
    assert (errs[0].file, errs[0].target, errs[0].field) == (file, target, field)
    for frag in fragments:
        assert frag in str(errs[0]), (frag, str(errs[0]))


@pytest.mark.parametrize("case, files, file, target, field, fragments",
                         [b for b in BROKEN if b[0] not in IN_PROCESS],
                         ids=[b[0] for b in BROKEN if b[0] not in IN_PROCESS])
def test_validate_reports_one_clear_error(ws, case, files, file, target, field, fragments):
    _ws_with(ws, files)
    r = ws.run("validate")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = error_lines(r.stderr)
    assert len(lines) == 1, r.stderr
    msg = r.stderr[r.stderr.index("ERROR:"):]
    if file:
        assert lines[0].startswith(f"ERROR: {file}: "), lines[0]
    else:   # a cycle spans files: it names one of them
        assert "app/BUILD.toml" in lines[0] or "lib/BUILD.toml" in lines[0]
    if target:
        assert f"target '{target}'" in lines[0]
    if field:
        assert f"field '{field}'" in lines[0]
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert "1 error(s)" in r.stderr


def test_valid_workspace_exits_0(ws):
    _ws_with(ws, {})
    r = ws.run("validate")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and not error_lines(r.stderr)
    assert "OK: 3 package(s), 2 target(s)" in r.stderr


def test_valid_workspace_json(ws):
    _ws_with(ws, {})
    r = ws.run("validate", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["valid"] is True and report["errors"] == []
    assert (report["packages"], report["targets"]) == (3, 2)


def test_json_lists_every_error_with_file_target_field(ws):
    _ws_with(ws, {
        "app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["mian.c"]\ncopts = 3\n',
        "lib/BUILD.toml": VALID_LIB + '\n[other]\nrule = "c_libary"\n',
        "tools/BUILD.toml": '[t\n',
    })
    r = ws.run("validate", "--json")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    report = json.loads(r.stdout)
    assert report["valid"] is False
    got = sorted((e["file"], e["target"], e["field"]) for e in report["errors"])
    assert got == [("app/BUILD.toml", "prog", "copts"), ("lib/BUILD.toml", "other", "rule"),
                   ("tools/BUILD.toml", None, None)], report["errors"]
    by_file = {e["file"]: e for e in report["errors"]}
    assert by_file["lib/BUILD.toml"]["hint"] == "did you mean 'c_library'?"
    assert by_file["lib/BUILD.toml"]["kind"] == "BuildFileError"
    for e in report["errors"]:
        assert e["message"]


def test_errors_in_several_packages_are_all_reported(ws):
    _ws_with(ws, {
        "app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["main.c"]\ndeps = ["//lib:nope"]\n',
        "lib/BUILD.toml": VALID_LIB + '\n[bad]\nrule = "c_library"\nsrcs = "greet.c"\n',
        "z/BUILD.toml": '[x]\nrule = "genrule"\nouts = ["o"]\ncmd = "x"\nsrcs = ["gone.txt"]\n',
    })
    r = ws.run("validate")
    assert r.returncode == 1
    lines = error_lines(r.stderr)
    assert len(lines) == 3, r.stderr
    assert any(l.startswith("ERROR: app/BUILD.toml: target 'prog': field 'deps'") for l in lines)
    assert any(l.startswith("ERROR: lib/BUILD.toml: target 'bad': field 'srcs'") for l in lines)
    assert any(l.startswith("ERROR: z/BUILD.toml: target 'x': field 'srcs'") for l in lines)
    assert "3 error(s) in 4 package(s)" in r.stderr


def test_validate_from_inside_a_broken_package_finds_the_workspace(ws):
    _ws_with(ws, {"app/BUILD.toml": '[prog\n', "lib/BUILD.toml": '[greet]\nrule = "nope"\n'})
    r = ws.run("validate", cwd=ws.root / "app")
    assert r.returncode == 1, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith("ERROR: app/BUILD.toml: TOML syntax error")
    assert lines[1].startswith("ERROR: lib/BUILD.toml: target 'greet': field 'rule'")


def test_broken_root_build_file_is_invalid(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\n[oops\n'})
    r = ws.run("validate")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "BUILD.toml" in lines[0] and "TOML syntax error" in lines[0]


def test_broken_nested_root_is_not_replaced_by_the_outer_workspace(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "outer"\nignore = ["inner"]\n',
              "inner/BUILD.toml": '[workspace]\nname = "inner"\n\n[x\n'})
    r = ws.run("validate", cwd=ws.root / "inner")
    assert r.returncode == 1, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "inner/BUILD.toml" in lines[0] and "TOML syntax error" in lines[0]


def test_no_workspace_exits_2(tmp_path):
    from conftest import TempWorkspace
    empty = tmp_path / "empty"
    empty.mkdir()
    ws = TempWorkspace(tmp_path / "unused", tmp_path / "cache")
    r = ws.run("validate", cwd=empty)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "no workspace" in r.stderr
    r = ws.run("validate", "--json", cwd=empty)
    assert r.returncode == 2
    report = json.loads(r.stdout)
    assert report["valid"] is False and "no workspace" in report["error"]["message"]


@pytest.mark.parametrize("case", ["toml-syntax", "srcs-is-a-string", "unknown-dep", "cycle"])
def test_build_of_a_broken_workspace_exits_2(ws, case):
    _, files, file, target, field, fragments = next(b for b in BROKEN if b[0] == case)
    _ws_with(ws, files)
    pattern = "//..." if case in ("toml-syntax", "srcs-is-a-string", "unknown-dep") else "//app:prog"
    r = ws.run("build", pattern)
    assert r.returncode == 2, (pattern, r.returncode, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = error_lines(r.stderr)
    assert lines, r.stderr
    if file:
        assert lines[0].startswith(f"ERROR: {file}: "), lines[0]
    assert fragments[0] in r.stderr
    assert not (ws.root / "moltb-out/native-dev/app/prog").exists()


# --------------------------------------------------- analysis errors (as `build` finds them)

GEN = 'rule = "genrule"\ncmd = "touch $(OUTS)"\n'

# (id, files, file, target, field, fragments): errors only analysis finds; `validate`
# runs the analysis `build //...` runs, so it reports each of them (and exits 1).
ANALYSIS = [
    ("escaping-out", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["../escape"]\n'},
     "g/BUILD.toml", "a", "outs", ["'../escape' escapes the output directory"]),
    ("absolute-out", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["/etc/passwd"]\n'},
     "g/BUILD.toml", "a", "outs", ["'/etc/passwd' escapes"]),
    ("no-outs", {"g/BUILD.toml": f'[a]\n{GEN}outs = []\n'},
     "g/BUILD.toml", "a", "outs", ["at least one output"]),
    ("same-out-twice", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["x", "./x"]\n'},
     "g/BUILD.toml", "a", "outs", ["'x' is listed twice"]),
    ("two-targets-one-out", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["x"]\n\n[b]\n{GEN}outs = ["x"]\n'},
     "g/BUILD.toml", None, "outs", ["output 'x' is also an output of '//g:"]),
    ("out-is-a-directory-of-outs", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["d"]\n\n[b]\n{GEN}outs = ["d/e"]\n'},
     "g/BUILD.toml", None, "outs", ["'d'", "//g:"]),
    ("out-in-a-subpackage", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["q"]\n', "g/q/BUILD.toml": ""},
     "g/BUILD.toml", "a", "outs", ["'q' lies in subpackage '//g/q'"]),
    ("out-under-a-subpackage", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["q/r/x"]\n', "g/q/BUILD.toml": ""},
     "g/BUILD.toml", "a", "outs", ["subpackage '//g/q'"]),
    ("c-binary-depends-on-a-genrule",
     {"g/BUILD.toml": f'[gen]\n{GEN}outs = ["gen.c"]\n\n[prog]\nrule = "c_binary"\nsrcs = ["m.c"]\ndeps = [":gen"]\n',
      "g/m.c": "int main(void) { return 0; }\n"},
     "g/BUILD.toml", "prog", "deps", ["'//g:gen' is not a C target", 'srcs = ["//g:gen"]']),
    ("unknown-toolchain", {"g/BUILD.toml": f'[a]\n{GEN}outs = ["x"]\ntoolchains = ["bogus"]\n'},
     "g/BUILD.toml", "a", "toolchains", ["unknown toolchain 'bogus'"]),
    ("unknown-default-toolchain", {"BUILD.toml": '[workspace]\nname = "t"\ndefault_toolchain = "natve"\n'},
     "BUILD.toml", "workspace", "default_toolchain", ["unknown toolchain 'natve'", "did you mean 'native'?"]),
    ("settings-for-an-unknown-toolchain",
     {"BUILD.toml": '[workspace]\nname = "t"\n\n[workspace.toolchains.natve]\ncompiler = "system"\n'},
     "BUILD.toml", "workspace", "toolchains", ["unknown toolchain 'natve'"]),
]


@pytest.mark.parametrize("case, files, file, target, field, fragments", ANALYSIS, ids=[a[0] for a in ANALYSIS])
def test_validate_finds_what_analysis_finds(ws, case, files, file, target, field, fragments):
    from molt_build.cli.validate_cmd import validate_workspace
    ws.write(files)
    errs, _, _ = validate_workspace(str(ws.root))
    assert len(errs) == 1, [str(e) for e in errs]
    e = errs[0]
    assert (e.file, e.field) == (file, field) and (target is None or e.target == target), str(e)
    for frag in fragments:
        assert frag in str(e), (frag, str(e))


def test_validate_json_lists_analysis_errors_with_file_target_field(ws):
    ws.write({"g/BUILD.toml": f'[a]\n{GEN}outs = ["../up"]\n\n[b]\n{GEN}outs = ["ok"]\ntoolchains = ["nope"]\n'})
    r = ws.run("validate", "--json")
    assert r.returncode == 1, r.stderr
    got = sorted((e["file"], e["target"], e["field"]) for e in json.loads(r.stdout)["errors"])
    assert got == [("g/BUILD.toml", "a", "outs"), ("g/BUILD.toml", "b", "toolchains")]


UNAVAILABLE = """
from molt_build.api import Toolchain, ToolchainUnavailable

class Never(Toolchain):
    name = "never"
    def resolve(self, ctx):
        raise ToolchainUnavailable("'never-cc' was not found on PATH", hint="install never-cc")

TOOLCHAINS = [Never()]
"""


def test_a_toolchain_missing_on_this_machine_does_not_make_validate_fail(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\nplugin_dirs = ["plugins"]\n', "plugins/never.py": UNAVAILABLE,
              "g/BUILD.toml": f'[a]\n{GEN}outs = ["a"]\ntoolchains = ["never"]\n\n'
                              '[lib]\nrule = "c_library"\nsrcs = ["l.c"]\ntoolchains = ["never"]\n\n'
                              '[bin]\nrule = "c_binary"\nsrcs = ["m.c"]\ndeps = [":lib"]\ntoolchains = ["never"]\n',
              "g/l.c": "int f(void) { return 1; }\n", "g/m.c": "int f(void);\nint main(void) { return f(); }\n",
              "d/BUILD.toml": '[case]\nrule = "diff_test"\nsrc = "case.py"\ntoolchains = ["never"]\n',
              "d/case.py": "print(1)\n"})
    r = ws.run("validate")
    assert r.returncode == 0, r.stderr
    assert "OK: 3 package(s), 4 target(s)" in r.stderr
    r = ws.run("build", "//g:lib", "--toolchain", "never")     # building with it says why it cannot
    assert r.returncode == 2 and "toolchain 'never' is not available" in r.stderr, r.stderr
    r = ws.run("build", "//d:case")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert error_lines(r.stderr)[0].startswith("ERROR: d/BUILD.toml: target 'case': field 'toolchains': lane "
                                               "'never' is not available"), r.stderr


def test_validate_analyses_each_target_with_its_own_toolchains(ws):
    """A target built only with wasm is analysed in the wasm configuration, where a
    dependency restricted to native cannot follow it: `build --toolchain wasm` fails so."""
    ws.write({"g/BUILD.toml": '[lib]\nrule = "c_library"\nsrcs = ["l.c"]\ntoolchains = ["native"]\n\n'
                              '[mid]\nrule = "c_library"\nsrcs = ["m.c"]\ndeps = [":lib"]\n\n'
                              '[top]\nrule = "c_binary"\nsrcs = ["t.c"]\ndeps = [":mid"]\ntoolchains = ["wasm"]\n',
              "g/l.c": "", "g/m.c": "", "g/t.c": "int main(void) { return 0; }\n"})
    from molt_build.cli.validate_cmd import validate_workspace
    errs, _, _ = validate_workspace(str(ws.root))
    assert [(e.file, e.target) for e in errs] == [("g/BUILD.toml", "mid")], [str(e) for e in errs]
    assert "dependency '//g:lib' cannot be built with toolchain 'wasm'" in str(errs[0])


def test_a_crashing_rule_plugin_makes_validate_exit_37(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\nplugin_dirs = ["plugins"]\n',
              "plugins/boom.py": "from molt_build.api import Attrs, Rule\n\ndef impl(ctx):\n    return 1 / 0\n\n"
                                 "RULES = [Rule('boom', Attrs, impl, uses_toolchain=False)]\n",
              "g/BUILD.toml": '[x]\nrule = "boom"\n'})
    r = ws.run("validate")
    assert r.returncode == 37, r.stderr
    assert "Traceback" not in r.stderr and len(error_lines(r.stderr)) == 1
    assert "moltb crashed: ZeroDivisionError" in r.stderr and "plugins/boom.py" in r.stderr


# ------------------------------------------------------- numbers and names that make no sense

SH_TEST = '[t]\nrule = "sh_test"\nsrc = "t.sh"\n'


@pytest.mark.parametrize("line, field, fragment", [
    ("timeout = -1", "timeout", "got -1"),
    ("timeout = 0", "timeout", "above 0"),
    ("timeout = nan", "timeout", "got nan"),
    ("timeout = inf", "timeout", "got inf"),
    ("timeout = -inf", "timeout", "got -inf"),
    ("timeout = 1e300", "timeout", "at most 86400"),
    ('timeout = "forever"', "timeout", "short, moderate, long, eternal"),
    ("timeout = true", "timeout", "got True"),
    ("shard_count = -1", "shard_count", "greater than or equal to 0"),
    ("shard_count = 1001", "shard_count", "less than or equal to 1000"),
    ("shard_count = 9223372036854775807", "shard_count", "less than or equal to 1000"),
    ('env = { "A=B" = "x" }', "env", "'A=B'"),
    ('env = { "" = "x" }', "env", "empty"),
    ('env = { A = "x\\u0000" }', "env", "NUL"),
    ('args = ["\\u0000"]', "args", "NUL"),
])
def test_test_attributes_out_of_range_are_load_errors(ws, line, field, fragment):
    from molt_build.cli.validate_cmd import validate_workspace
    ws.write({"g/BUILD.toml": f"{SH_TEST}{line}\n", "g/t.sh": "exit 0\n"})
    errs, _, _ = validate_workspace(str(ws.root))
    assert [(e.file, e.target, e.field) for e in errs] == [("g/BUILD.toml", "t", field)], [str(e) for e in errs]
    assert fragment in str(errs[0]), str(errs[0])


def test_a_diff_test_timeout_is_checked_alike(ws):
    from molt_build.cli.validate_cmd import validate_workspace
    ws.write({"g/BUILD.toml": '[c]\nrule = "diff_test"\nsrc = "c.py"\ntimeout = nan\n', "g/c.py": "print(1)\n"})
    errs, _, _ = validate_workspace(str(ws.root))
    assert [(e.target, e.field) for e in errs] == [("c", "timeout")], [str(e) for e in errs]


def test_shards_times_runs_per_test_is_bounded(ws):
    ws.write({"g/BUILD.toml": f"{SH_TEST}shard_count = 100\n", "g/t.sh": "exit 0\n"})
    r = ws.run("test", "//g:t", "--runs-per-test", "1000")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "field 'shard_count'" in r.stderr and "10000 test runs" in r.stderr
    r = ws.run("test", "//g:t", "--runs-per-test", "1001")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--runs-per-test" in r.stderr, r.stderr


def test_an_output_named_like_a_subpackage_leaves_that_package_alone(ws):
    """It used to report success, delete the subpackage's outputs, then crash."""
    ws.write({"p/q/BUILD.toml": f'[b]\n{GEN}outs = ["y"]\n'})
    assert ws.run("build", "//...").returncode == 0
    made = ws.out("p/q/y")
    assert made.exists()
    ws.write({"p/BUILD.toml": f'[a]\n{GEN}outs = ["q"]\n'})
    for args, code in ((("validate",), 1), (("build", "//..."), 2), (("build", "//p:a"), 2)):
        r = ws.run(*args)
        assert r.returncode == code and "Traceback" not in r.stderr, (args, r.stderr)
        assert error_lines(r.stderr) == ["ERROR: p/BUILD.toml: target 'a': field 'outs': output 'q' lies in "
                                         "subpackage '//p/q': a package's outputs stay out of its subpackages"]
    assert made.exists()


def test_a_plugin_rule_declaring_one_output_from_two_actions_is_an_analysis_error(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\nplugin_dirs = ["plugins"]\n',
              "plugins/twice.py": "from molt_build.api import Attrs, Rule\n\ndef impl(ctx):\n"
                                  "    out = ctx.declare_output('o')\n"
                                  "    for _ in range(2):\n"
                                  "        ctx.action(mnemonic='W', argv=['touch', out.path], inputs=[], outputs=[out])\n"
                                  "    return []\n\nRULES = [Rule('twice', Attrs, impl, uses_toolchain=False)]\n",
              "g/BUILD.toml": '[x]\nrule = "twice"\n'})
    from molt_build.cli.validate_cmd import validate_workspace
    errs, _, _ = validate_workspace(str(ws.root))
    assert [(e.file, e.target) for e in errs] == [("g/BUILD.toml", "x")], [str(e) for e in errs]
    assert "already produced by another action of this target" in errs[0].message
