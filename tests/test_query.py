"""`moltb query`: deps, rdeps, kind, somepath/allpaths, set operations and the three
output formats, run through the real CLI. Query only loads, so no compiler is needed.

The graph (edges point from a target to what it depends on):

    //x:app ──> //x:util ──> //x:lib ──> //x:base
        └─────> //y:core ──> //y:gen ───────┘
    //y:tool ──> //x:lib        //z:extra (manual) ──> //y:tool        //z:lone
"""
from __future__ import annotations

import json

import pytest

from molt_build.errors import MoltbError
from molt_build.loading import Loader
from molt_build.query import Query
from molt_build.registry import build_registry
from molt_build.workspace import load_workspace

BUILD = {
    "x/BUILD.toml": """\
        [base]
        rule = "genrule"
        outs = ["base.txt"]
        cmd = "echo base > $@"

        [lib]
        rule = "genrule"
        srcs = [":base"]
        outs = ["lib.h"]
        cmd = "cp $< $@"

        [util]
        rule = "c_library"
        srcs = ["util.c"]
        hdrs = [":lib"]

        [app]
        rule = "c_binary"
        srcs = ["main.c"]
        deps = [":util", "//y:core"]
        """,
    "x/util.c": "", "x/main.c": "",
    "y/BUILD.toml": """\
        [gen]
        rule = "genrule"
        srcs = ["//x:base"]
        outs = ["gen.h"]
        cmd = "cp $< $@"

        [core]
        rule = "c_library"
        srcs = ["core.c"]
        hdrs = [":gen"]

        [tool]
        rule = "genrule"
        srcs = ["//x:lib"]
        outs = ["tool.sh"]
        cmd = "cp $< $@"
        """,
    "y/core.c": "",
    "z/BUILD.toml": """\
        [extra]
        rule = "genrule"
        srcs = ["//y:tool"]
        outs = ["extra"]
        cmd = "cp $< $@"
        tags = ["manual"]

        [lone]
        rule = "genrule"
        outs = ["lone"]
        cmd = "touch $@"
        """,
}

EDGES = {("//x:app", "//x:util"), ("//x:app", "//y:core"), ("//x:util", "//x:lib"),
         ("//x:lib", "//x:base"), ("//y:core", "//y:gen"), ("//y:gen", "//x:base"),
         ("//y:tool", "//x:lib"), ("//z:extra", "//y:tool")}
RULES = {"//x:base": "genrule", "//x:lib": "genrule", "//x:util": "c_library", "//x:app": "c_binary",
         "//y:gen": "genrule", "//y:core": "c_library", "//y:tool": "genrule",
         "//z:extra": "genrule", "//z:lone": "genrule"}


@pytest.fixture(scope="module")
def qws(tmp_path_factory):
    from conftest import TempWorkspace
    base = tmp_path_factory.mktemp("query")
    return TempWorkspace(base / "ws", base / "cache").write(BUILD)


def query(ws, expr: str, *args, cwd=None) -> list[str]:
    """`moltb query EXPR ARGS...` as a user runs it; its stdout lines."""
    r = ws.run("query", expr, *args, cwd=cwd)
    assert r.returncode == 0, (expr, r.stderr)
    assert "Traceback" not in r.stderr
    return r.stdout.splitlines()


def evaluate(ws, expr: str, cwd_pkg: str = "") -> list[str]:
    """The same evaluation in-process (what `query` prints with --output label), for the
    long tables of expressions: a fresh loader each time, as each CLI run has."""
    w = load_workspace(str(ws.root))
    q = Query(Loader(w, build_registry(w.root, w.config.plugin_dirs)), cwd_pkg)
    return q.render(q.evaluate(expr), "label").splitlines()


def labels(*names: str) -> list[str]:
    return sorted(names)


# ------------------------------------------------------------------- functions

@pytest.mark.parametrize("expr, expected", [
    ("deps(//x:app)", ["//x:app", "//x:util", "//x:lib", "//x:base", "//y:core", "//y:gen"]),
    ("deps(//x:app, 1)", ["//x:app", "//x:util", "//y:core"]),
    ("deps(//x:app, 0)", ["//x:app"]),
    ("deps(//x:base)", ["//x:base"]),
    ("deps(//z:extra)", ["//z:extra", "//y:tool", "//x:lib", "//x:base"]),
    ("rdeps(//..., //x:base)", ["//x:base", "//x:lib", "//x:util", "//x:app", "//y:gen", "//y:core",
                                "//y:tool"]),                  # //z:extra is manual: not in //...
    ("rdeps(//..., //x:base, 1)", ["//x:base", "//x:lib", "//y:gen"]),
    ("rdeps(//y/..., //x:lib)", ["//x:lib", "//y:tool"]),       # the universe bounds the result
    ("rdeps(//z:extra, //x:lib)", ["//x:lib", "//y:tool", "//z:extra"]),
    ("rdeps(//x:util, //y:gen)", []),
    ("kind(c_library, //...)", ["//x:util", "//y:core"]),
    ("kind(genrule, deps(//x:app))", ["//x:lib", "//x:base", "//y:gen"]),
    ('kind("c_.*", //...)', ["//x:app", "//x:util", "//y:core"]),
    ("kind(c_binary, //y:all)", []),
    ("allpaths(//x:app, //x:base)", ["//x:app", "//x:util", "//x:lib", "//x:base", "//y:core", "//y:gen"]),
    ("allpaths(//y:tool, //x:base)", ["//y:tool", "//x:lib", "//x:base"]),
    ("somepath(//x:base, //x:app)", []),                          # edges go the other way
    ("somepath(//z:lone, //x:base)", []),
])
def test_functions(qws, expr, expected):
    assert evaluate(qws, expr) == sorted(expected)


@pytest.mark.parametrize("expr, expected", [
    ("deps(//x:util)", ["//x:util", "//x:lib", "//x:base"]),
    ("rdeps(//..., //y:gen)", ["//y:gen", "//y:core", "//x:app"]),
    ("kind(c_library, //...)", ["//x:util", "//y:core"]),
    ("deps(//x:app) - deps(//x:util) ^ //... + //z:lone", ["//x:app", "//y:core", "//y:gen", "//z:lone"]),
])
def test_functions_through_the_cli(qws, expr, expected):
    assert query(qws, expr) == sorted(expected)


def test_somepath_returns_one_path(qws):
    got = json.loads("".join(l + "\n" for l in query(qws, "somepath(//x:app, //x:base)", "--output", "json")))
    nodes = {e["label"] for e in got}
    assert "//x:app" in nodes and "//x:base" in nodes
    assert nodes in ({"//x:app", "//x:util", "//x:lib", "//x:base"},
                     {"//x:app", "//y:core", "//y:gen", "//x:base"}), nodes
    # Walk it: from app, each node has exactly one successor on the path, ending at base.
    succ = {e["label"]: e["deps"] for e in got}
    node, seen = "//x:app", []
    while node != "//x:base":
        seen.append(node)
        assert len(succ[node]) == 1, succ
        node = succ[node][0]
    assert len(seen) + 1 == len(nodes)


def test_somepath_between_sets(qws):
    got = evaluate(qws, "somepath(//z:lone + //y:tool, //x:base)")
    assert got == labels("//y:tool", "//x:lib", "//x:base")


# -------------------------------------------------------------- set operations

@pytest.mark.parametrize("expr, expected", [
    ("deps(//x:util) + deps(//y:core)", ["//x:util", "//x:lib", "//x:base", "//y:core", "//y:gen"]),
    ("deps(//x:util) union deps(//y:core)", ["//x:util", "//x:lib", "//x:base", "//y:core", "//y:gen"]),
    ("deps(//x:app) - deps(//y:core)", ["//x:app", "//x:util", "//x:lib"]),
    ("deps(//x:app) except deps(//y:core)", ["//x:app", "//x:util", "//x:lib"]),
    ("deps(//x:util) ^ deps(//y:core)", ["//x:base"]),
    ("deps(//x:util) intersect deps(//y:core)", ["//x:base"]),
    ("deps(//x:util) ^ //z:lone", []),
    # left to right, as in Bazel; parentheses group
    ("deps(//x:app) - deps(//x:util) + //x:lib", ["//x:app", "//y:core", "//y:gen", "//x:lib"]),
    ("deps(//x:app) - (deps(//x:util) + //x:lib)", ["//x:app", "//y:core", "//y:gen"]),
    ("//... - kind(genrule, //...)", ["//x:app", "//x:util", "//y:core"]),
    ("//x:all + //z:all", ["//x:app", "//x:util", "//x:lib", "//x:base", "//z:lone"]),
    ("rdeps(//..., //x:lib) ^ kind(c_.*, //...)", ["//x:app", "//x:util"]),
])
def test_set_operations(qws, expr, expected):
    assert evaluate(qws, expr) == sorted(expected)


def test_manual_targets_only_by_name(qws):
    assert "//z:extra" not in evaluate(qws, "//...")
    assert evaluate(qws, "//z:all") == ["//z:lone"]
    assert evaluate(qws, "//z:extra") == ["//z:extra"]


def test_relative_patterns_resolve_against_the_working_directory(qws):
    assert query(qws, "deps(:util)", cwd=qws.root / "x") == labels("//x:util", "//x:lib", "//x:base")
    assert evaluate(qws, "...", "y") == labels("//y:core", "//y:gen", "//y:tool")
    assert evaluate(qws, "rdeps(//..., :gen)", "y") == labels("//y:gen", "//y:core", "//x:app")


# --------------------------------------------------------------------- outputs

def test_label_output_is_one_sorted_label_per_line(qws):
    r = qws.run("query", "//...")
    assert r.returncode == 0, r.stderr
    expected = sorted(l for l in RULES if l != "//z:extra")
    assert r.stdout == "".join(f"{l}\n" for l in expected)


def test_json_output(qws):
    r = qws.run("query", "deps(//x:app)", "--output", "json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert isinstance(got, list)
    want = ["//x:app", "//x:util", "//x:lib", "//x:base", "//y:core", "//y:gen"]
    assert sorted(e["label"] for e in got) == sorted(want)
    for e in got:
        assert e["rule"] == RULES[e["label"]]
        assert sorted(e["deps"]) == sorted(b for a, b in EDGES if a == e["label"]), e


def _render(ws, expr: str, output: str) -> str:
    w = load_workspace(str(ws.root))
    q = Query(Loader(w, build_registry(w.root, w.config.plugin_dirs)))
    return q.render(q.evaluate(expr), output)


def test_json_output_only_lists_edges_inside_the_result(qws):
    got = json.loads(_render(qws, "kind(c_.*, //...)", "json"))
    by = {e["label"]: e["deps"] for e in got}
    assert by == {"//x:app": ["//x:util", "//y:core"], "//x:util": [], "//y:core": []}


def test_empty_results(qws):
    assert json.loads(_render(qws, "somepath(//x:base, //x:app)", "json")) == []
    assert _render(qws, "somepath(//x:base, //x:app)", "label") == ""
    dot = _render(qws, "somepath(//x:base, //x:app)", "dot")
    assert dot.startswith("digraph") and "->" not in dot


def test_dot_output(qws):
    r = qws.run("query", "deps(//x:app)", "--output", "dot")
    assert r.returncode == 0, r.stderr
    text = r.stdout.strip()
    assert text.startswith("digraph") and text.endswith("}")
    edges = {tuple(part.strip().strip(";").strip().strip('"') for part in line.split("->"))
             for line in text.splitlines() if "->" in line}
    inside = {"//x:app", "//x:util", "//x:lib", "//x:base", "//y:core", "//y:gen"}
    assert edges == {(a, b) for a, b in EDGES if a in inside}
    for label in inside:
        assert f'"{label}"' in text
    assert "//y:tool" not in text


# ---------------------------------------------------------------------- errors

@pytest.mark.parametrize("args, fragment", [
    (["deps(//x:ap)"], "did you mean '//x:app'?"),
    (["deps(//x:app"], "syntax error"),
    (["frobnicate(//x:app)"], "unknown query function 'frobnicate'"),
    (["//x:app", "--output", "yaml"], "unknown output format"),
])
def test_errors_exit_2_without_traceback(qws, args, fragment):
    r = qws.run("query", *args)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("ERROR:") and fragment in r.stderr, r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("expr, fragment", [
    ("deps(//nope:x)", "//nope"),
    ("deps(//x:app))", "syntax error"),
    ("deps(//x:app,)", "syntax error"),
    ("deps(//x:app, many)", "depth"),
    ('kind("c_, //...)', "syntax error"),
    ("rdeps(//...)", "syntax error"),
    ("//x:app -", "syntax error"),
])
def test_more_errors_are_user_errors(qws, expr, fragment):
    with pytest.raises(MoltbError) as info:
        evaluate(qws, expr)
    assert info.value.exit_code == 2 and fragment in str(info.value)
