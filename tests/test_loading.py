"""Loading BUILD.toml files: sources and globs, dependency resolution, cycles,
visibility, `[package]` defaults and `manual` targets.

Most cases use the Loader in-process (no compiler, no subprocess); the ones a user sees
as command output go through the real CLI."""
from __future__ import annotations

import re

import pytest

from molt_build.errors import BuildFileError, CycleError, LabelError, MoltbError
from molt_build.labels import Label, parse_label
from molt_build.loading import Loader
from molt_build.registry import build_registry
from molt_build.workspace import load_workspace


def loader(ws, collect: bool = False) -> Loader:
    w = load_workspace(str(ws.root))
    return Loader(w, build_registry(w.root, w.config.plugin_dirs), collect=collect)


def srcs_of(ws, label: str, attr: str = "srcs") -> list:
    l = parse_label(label)
    return loader(ws).load_package(l.pkg)[l.name].sources[attr]


def load_error(ws, label: str) -> MoltbError:
    l = parse_label(label)
    with pytest.raises(MoltbError) as info:
        ld = loader(ws)
        ld.closure([l])
    return info.value


def errors(ws) -> list[MoltbError]:
    """Every error found in collecting mode (what `moltb validate` reports)."""
    ld = loader(ws, collect=True)
    pkgs = ld.discover("")
    for p in pkgs:
        ld.load_package(p)
    ld.closure([t.label for p in pkgs for t in ld.packages[p].values()])
    return ld.errors


def genrule(name: str, srcs: list[str] = (), **extra) -> str:
    lines = [f"[{name}]", 'rule = "genrule"', f"srcs = {list(srcs)!r}".replace("'", '"'),
             f'outs = ["{name}.out"]', 'cmd = "cat $(SRCS) > $@"']
    for k, v in extra.items():
        lines.append(f"{k} = {v!r}".replace("'", '"'))
    return "\n".join(lines) + "\n\n"


# -------------------------------------------------------------------------- globs

@pytest.fixture
def globby(ws):
    """lib/ with sources at two depths, a subpackage and a plain directory whose name
    starts like the subpackage's."""
    ws.write({
        "lib/BUILD.toml": """\
            [flat]
            rule = "c_library"
            srcs = ["*.c"]

            [deep]
            rule = "c_library"
            srcs = ["**/*.c"]

            [headers]
            rule = "c_library"
            hdrs = ["**/*.h"]
            """,
        "lib/a.c": "", "lib/b.c": "", "lib/a.h": "",
        "lib/impl/c.c": "", "lib/impl/more/d.c": "", "lib/impl/d.h": "",
        "lib/sub/BUILD.toml": '[s]\nrule = "c_library"\nsrcs = ["s.c"]\n',
        "lib/sub/s.c": "", "lib/sub/s.h": "",
        "lib/sub/nested/n.c": "",
        "lib/impl/inner/BUILD.toml": '[i]\nrule = "c_library"\nsrcs = ["i.c"]\n',
        "lib/impl/inner/i.c": "",
        "lib/subway/w.c": "",
    })
    return ws


def test_star_glob_matches_only_the_package_directory(globby):
    assert srcs_of(globby, "//lib:flat") == ["lib/a.c", "lib/b.c"]


def test_recursive_glob_descends_but_never_into_a_subpackage(globby):
    got = srcs_of(globby, "//lib:deep")
    assert got == ["lib/a.c", "lib/b.c", "lib/impl/c.c", "lib/impl/more/d.c", "lib/subway/w.c"]
    assert not any(p.startswith(("lib/sub/", "lib/impl/inner/")) for p in got)
    assert srcs_of(globby, "//lib:headers", "hdrs") == ["lib/a.h", "lib/impl/d.h"]


def test_glob_naming_a_subpackage_directory_matches_nothing(globby):
    globby.write({"lib/BUILD.toml": '[x]\nrule = "c_library"\nsrcs = ["sub/*.c", "a.c"]\n'})
    err = load_error(globby, "//lib:x")
    assert isinstance(err, BuildFileError)
    assert (err.file, err.target, err.field) == ("lib/BUILD.toml", "x", "srcs")
    assert "sub/*.c" in err.message and "matches no files" in err.message


def test_glob_question_mark_and_brackets(ws):
    ws.write({"p/BUILD.toml": '[x]\nrule = "c_library"\nsrcs = ["f?.c", "g[12].c"]\n',
              "p/f1.c": "", "p/f2.c": "", "p/f10.c": "", "p/g1.c": "", "p/g3.c": ""})
    assert srcs_of(ws, "//p:x") == ["p/f1.c", "p/f2.c", "p/g1.c"]


def test_glob_matching_nothing_is_an_error(ws):
    ws.write({"p/BUILD.toml": '[x]\nrule = "c_library"\nsrcs = ["*.cc"]\n', "p/a.c": ""})
    err = load_error(ws, "//p:x")
    assert (err.file, err.target, err.field) == ("p/BUILD.toml", "x", "srcs")
    assert "'*.cc'" in err.message and "matches no files" in err.message


def test_glob_matching_only_directories_is_an_error(ws):
    ws.write({"p/BUILD.toml": '[x]\nrule = "c_library"\nsrcs = ["d*"]\n', "p/dir/a.c": ""})
    assert "matches no files" in load_error(ws, "//p:x").message


def test_root_package_glob_skips_outputs_logs_and_cache(ws, monkeypatch):
    monkeypatch.delenv("MOLTB_CACHE_DIR", raising=False)
    ws.write({
        "BUILD.toml": '[workspace]\nname = "t"\nignore = ["third_party"]\n\n'
                      '[all]\nrule = "c_library"\nsrcs = ["**/*.c"]\n',
        "main.c": "", "src/util.c": "",
        # build outputs, event logs, the default cache and an ignored directory
        "moltb-out/native-dev/gen.c": "", "logs/moltb/x.c": "", "cache/tmp/y.c": "",
        "third_party/vendored.c": "",
    })
    assert srcs_of(ws, "//:all") == ["main.c", "src/util.c"]


def test_glob_entries_outside_the_package_are_rejected(ws):
    ws.write({"p/BUILD.toml": '[x]\nrule = "c_library"\nsrcs = ["../*.c"]\n', "a.c": "", "p/b.c": ""})
    err = load_error(ws, "//p:x")
    assert err.field == "srcs" and "inside the package" in err.message


# ------------------------------------------------------------------------ sources

def test_missing_source_names_file_target_field_and_a_close_match(ws):
    ws.write({"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["mian.c"]\n', "app/main.c": ""})
    err = load_error(ws, "//app:prog")
    assert (err.file, err.target, err.field) == ("app/BUILD.toml", "prog", "srcs")
    assert "mian.c" in err.message and "does not exist" in err.message
    assert err.hint == "did you mean 'main.c'?"
    text = str(err)
    assert "app/BUILD.toml" in text and "prog" in text and "srcs" in text and "main.c" in text


def test_missing_source_in_a_subdirectory_suggests_from_that_directory(ws):
    ws.write({"app/BUILD.toml": '[lib]\nrule = "c_library"\nhdrs = ["inc/gret.h"]\n',
              "app/inc/greet.h": ""})
    err = load_error(ws, "//app:lib")
    assert err.field == "hdrs" and err.hint == "did you mean 'greet.h'?"


def test_missing_source_without_anything_close_has_no_suggestion(ws):
    ws.write({"app/BUILD.toml": '[prog]\nrule = "c_binary"\nsrcs = ["zzzz.c"]\n', "app/main.c": ""})
    err = load_error(ws, "//app:prog")
    assert "zzzz.c" in err.message and not err.hint


def test_explicit_source_inside_a_subpackage_is_an_error(ws):
    ws.write({"p/BUILD.toml": '[x]\nrule = "c_library"\nsrcs = ["sub/s.c"]\n',
              "p/sub/BUILD.toml": '[s]\nrule = "c_library"\nsrcs = ["s.c"]\n', "p/sub/s.c": ""})
    err = load_error(ws, "//p:x")
    assert (err.target, err.field) == ("x", "srcs")
    assert "//p/sub" in err.message


def test_source_labels_resolve_to_targets(ws):
    ws.write({"p/BUILD.toml": genrule("gen") + genrule("use", [":gen", "//q:other", "in.txt"]),
              "p/in.txt": "",
              "q/BUILD.toml": genrule("other")})
    got = srcs_of(ws, "//p:use")
    assert got == [Label("p", "gen"), Label("q", "other"), "p/in.txt"]


# ------------------------------------------------------------------- dependencies

def test_unknown_dep_in_same_package_suggests_the_close_name(ws):
    ws.write({"p/BUILD.toml": genrule("library") + genrule("app", [":libary"])})
    err = load_error(ws, "//p:app")
    assert isinstance(err, BuildFileError)
    assert (err.file, err.target, err.field) == ("p/BUILD.toml", "app", "srcs")
    assert "//p:libary" in err.message
    assert err.hint == "did you mean '//p:library'?"


def test_unknown_dep_in_other_package_suggests_the_close_name(ws):
    ws.write({"app/BUILD.toml": '[prog]\nrule = "c_library"\ndeps = ["//lib:gret"]\n',
              "lib/BUILD.toml": '[greet]\nrule = "c_library"\n'})
    err = load_error(ws, "//app:prog")
    assert (err.target, err.field) == ("prog", "deps")
    assert "//lib:gret" in err.message and err.hint == "did you mean '//lib:greet'?"


def test_dep_on_missing_package_suggests_a_package(ws):
    ws.write({"app/BUILD.toml": '[prog]\nrule = "c_library"\ndeps = ["//libs:greet"]\n',
              "lib/BUILD.toml": '[greet]\nrule = "c_library"\n'})
    err = load_error(ws, "//app:prog")
    assert "//libs" in err.message and err.hint == "did you mean '//lib'?"


def test_malformed_dep_label_names_the_field(ws):
    ws.write({"app/BUILD.toml": '[prog]\nrule = "c_library"\ndeps = ["//lib//x:y"]\n'})
    err = load_error(ws, "//app:prog")
    assert (err.file, err.target, err.field) == ("app/BUILD.toml", "prog", "deps")
    assert "//lib//x:y" in err.message


def test_closure_order_puts_dependencies_first(ws):
    ws.write({"p/BUILD.toml": genrule("a", [":b", ":c"]) + genrule("b", [":d"]) + genrule("c", [":d"])
              + genrule("d") + genrule("unrelated")})
    targets, order = loader(ws).closure([Label("p", "a")])
    assert set(targets) == {Label("p", n) for n in "abcd"}
    pos = {l.name: i for i, l in enumerate(order)}
    assert sorted(pos) == ["a", "b", "c", "d"]
    assert pos["d"] < pos["b"] < pos["a"] and pos["d"] < pos["c"] < pos["a"]


def _cycle_in(text: str) -> list[str]:
    m = re.search(r"(//\S*(?: -> //\S*)+)", text)
    assert m, text
    return m.group(1).split(" -> ")


def _assert_is_cycle(chain: list[str], edges: set[tuple[str, str]], members: set[str]):
    assert chain[0] == chain[-1], chain
    assert set(chain) == members, chain
    for a, b in zip(chain, chain[1:]):
        assert (a, b) in edges, f"{a} -> {b} is not a dependency edge (chain {chain})"


def test_cycle_error_prints_the_cycle_in_dependency_order(ws):
    ws.write({"a/BUILD.toml": genrule("x", [":y"]) + genrule("y", ["//b:z"]) + genrule("top", [":x"]),
              "b/BUILD.toml": genrule("z", ["//a:x"])})
    err = load_error(ws, "//a:top")
    assert isinstance(err, CycleError)
    assert "cycle" in err.message
    chain = _cycle_in(err.message)
    edges = {("//a:x", "//a:y"), ("//a:y", "//b:z"), ("//b:z", "//a:x"), ("//a:top", "//a:x")}
    _assert_is_cycle(chain, edges, {"//a:x", "//a:y", "//b:z"})   # //a:top leads in, is not in it


def test_self_dependency_is_a_cycle(ws):
    ws.write({"a/BUILD.toml": '[x]\nrule = "c_library"\ndeps = [":x"]\n'})
    err = load_error(ws, "//a:x")
    assert isinstance(err, CycleError) and _cycle_in(err.message) == ["//a:x", "//a:x"]


def test_cycle_through_the_cli(ws):
    ws.write({"a/BUILD.toml": genrule("x", [":y"]) + genrule("y", [":x"])})
    r = ws.run("query", "deps(//a:x)")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "a/BUILD.toml" in r.stderr
    _assert_is_cycle(_cycle_in(r.stderr), {("//a:x", "//a:y"), ("//a:y", "//a:x")}, {"//a:x", "//a:y"})


# --------------------------------------------------------------------- visibility

@pytest.fixture
def visws(ws):
    ws.write({
        "lib/BUILD.toml": genrule("public") + genrule("default")
        + genrule("private", visibility=["//visibility:private"])
        + genrule("for_app", visibility=["//app:__pkg__"])
        + genrule("for_tree", visibility=["//lib:__subpackages__"])
        + genrule("for_one", visibility=["//app:a"])
        + genrule("same_pkg_user", [":private", ":for_app"]),
        "lib/inner/BUILD.toml": genrule("i"),
        "app/BUILD.toml": genrule("a") + genrule("b"),
        "app/sub/BUILD.toml": genrule("s"),
        "lib2/BUILD.toml": genrule("x"),
    })
    return ws


def _uses(ws, user: str, dep: str) -> MoltbError | None:
    """Make `user` depend on `dep` and load it: None if allowed, else the error."""
    pkg, name = parse_label(user).pkg, parse_label(user).name
    path = ws.root / pkg / "BUILD.toml"
    text = path.read_text()
    text, n = re.subn(rf'(\[{name}\]\nrule = "genrule"\nsrcs = )\[[^\]]*\]', rf'\1["{dep}"]', text)
    assert n == 1, text
    path.write_text(text)
    try:
        loader(ws).closure([parse_label(user)])
    except MoltbError as e:
        return e
    return None


@pytest.mark.parametrize("user, dep, allowed", [
    ("//app:a", "//lib:public", True),
    ("//app:a", "//lib:default", True),                  # default visibility is public
    ("//app:a", "//lib:private", False),
    ("//lib:same_pkg_user", "//lib:private", True),      # same package always sees it
    ("//app:a", "//lib:for_app", True),                  # __pkg__ names the package ...
    ("//app/sub:s", "//lib:for_app", False),             # ... and not its subpackages
    ("//lib2:x", "//lib:for_app", False),
    ("//lib/inner:i", "//lib:for_tree", True),           # __subpackages__: the tree below
    ("//app:a", "//lib:for_tree", False),
    ("//lib2:x", "//lib:for_tree", False),               # a name prefix is not a subpackage
    ("//app:a", "//lib:for_one", True),                  # an explicit label
    ("//app:b", "//lib:for_one", False),
])
def test_visibility(visws, user, dep, allowed):
    err = _uses(visws, user, dep)
    if allowed:
        assert err is None, str(err)
    else:
        assert isinstance(err, BuildFileError), err
        assert "not visible" in err.message and dep in err.message and user in err.message
        assert err.file == f"{parse_label(user).pkg}/BUILD.toml"
        assert err.target == parse_label(user).name and err.field == "srcs"


# ------------------------------------------------------------- [package] defaults

def test_package_defaults_apply_and_targets_override_them(ws):
    ws.write({
        "lib/BUILD.toml": '[package]\nvisibility = ["//visibility:private"]\ntags = ["slow"]\n\n'
                          + genrule("hidden") + genrule("shown", visibility=["//visibility:public"]),
        "app/BUILD.toml": genrule("a", ["//lib:shown"]) + genrule("b", ["//lib:hidden"]),
    })
    ld = loader(ws)
    lib = ld.load_package("lib")
    assert lib["hidden"].attrs.visibility == ["//visibility:private"]
    assert lib["shown"].attrs.visibility == ["//visibility:public"]
    assert lib["hidden"].tags == ["slow"] and lib["shown"].tags == ["slow"]
    ld.closure([Label("app", "a")])
    err = load_error(ws, "//app:b")
    assert "not visible" in err.message


def test_package_defaults_only_fill_fields_the_rule_has(ws):
    # `outs` is a genrule field; the c_library in the same package must not receive it.
    ws.write({"p/BUILD.toml": '[package]\nouts = ["default.out"]\n\n'
                              '[g]\nrule = "genrule"\ncmd = "touch $@"\n\n[c]\nrule = "c_library"\n'})
    pkg = loader(ws).load_package("p")
    assert pkg["g"].attrs.outs == ["default.out"] and set(pkg) == {"g", "c"}


def test_unknown_package_default_is_an_error(ws):
    ws.write({"p/BUILD.toml": '[package]\nvisibilty = ["//visibility:private"]\n\n' + genrule("x")})
    errs = errors(ws)
    assert len(errs) == 1, [str(e) for e in errs]
    assert (errs[0].file, errs[0].field) == ("p/BUILD.toml", "visibilty")
    assert errs[0].hint == "did you mean 'visibility'?"


# ------------------------------------------------------------------------- manual

@pytest.fixture
def manualws(ws):
    ws.write({"p/BUILD.toml": genrule("normal") + genrule("by_hand", tags=["manual"])
              + genrule("user", [":by_hand"]),
              "p/q/BUILD.toml": genrule("deep_manual", tags=["manual"]) + genrule("deep")})
    return ws


def test_manual_targets_are_skipped_by_wildcards(manualws):
    ld = loader(manualws)
    names = lambda pats, cwd="": sorted(str(l) for l in ld.expand(pats, cwd))
    assert names(["//..."]) == ["//p/q:deep", "//p:normal", "//p:user"]
    assert names(["//p/..."]) == ["//p/q:deep", "//p:normal", "//p:user"]
    assert names(["//p:all"]) == ["//p:normal", "//p:user"]
    assert names(["..."], "p/q") == ["//p/q:deep"]


def test_manual_targets_are_selected_by_name_and_as_deps(manualws):
    ld = loader(manualws)
    assert ld.expand(["//p:by_hand"]) == [Label("p", "by_hand")]
    assert ld.expand([":deep_manual"], "p/q") == [Label("p/q", "deep_manual")]
    targets, _ = ld.closure(ld.expand(["//..."]))
    assert Label("p", "by_hand") in targets           # still loaded as a dependency


def test_manual_target_builds_by_name_but_not_with_everything(manualws):
    r = manualws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    out = manualws.root / "moltb-out/native-dev/p"
    assert (out / "normal.out").exists() and (out / "q/deep.out").exists()
    assert (out / "user.out").exists()                # its manual dependency was built for it
    assert not (out / "q/deep_manual.out").exists()
    r = manualws.run("build", "//p/q:deep_manual")
    assert r.returncode == 0, r.stderr
    assert (out / "q/deep_manual.out").exists()


# --------------------------------------------------------------------- patterns

def test_pattern_errors_name_what_is_missing(ws):
    ws.write({"lib/BUILD.toml": genrule("greet")})
    ld = loader(ws)
    with pytest.raises(LabelError) as info:
        ld.expand(["//lib:gret"])
    assert info.value.hint == "did you mean '//lib:greet'?"
    with pytest.raises(LabelError) as info:
        ld.expand(["//lbi:greet"])
    assert info.value.hint == "did you mean '//lib'?"
    with pytest.raises(LabelError):
        ld.expand(["//nothing/..."])


def test_recursive_pattern_from_a_directory_without_build_file(ws):
    ws.write({"top/a/BUILD.toml": genrule("x"), "top/b/c/BUILD.toml": genrule("y")})
    assert sorted(map(str, loader(ws).expand(["//top/..."]))) == ["//top/a:x", "//top/b/c:y"]


# ------------------------------------------------------------- collecting errors

def test_dependents_of_a_broken_target_get_no_second_error(ws):
    ws.write({"p/BUILD.toml": '[broken]\nrule = "genrule"\nouts = ["o"]\ncmd = 3\n\n'
                              + genrule("user", [":broken"]),
              "q/BUILD.toml": genrule("far", ["//p:broken", "//r:t"]),
              "r/BUILD.toml": "[t\n"})
    errs = errors(ws)
    got = sorted((e.file, e.target, e.field) for e in errs)
    assert got == [("p/BUILD.toml", "broken", "cmd"), ("r/BUILD.toml", None, None)], \
        [str(e) for e in errs]


@pytest.mark.parametrize("entry, words", [("sub", "'sub' is a directory, not a file"), (".", "'.' is a directory"),
                                          ("", "a source path is empty")])
def test_a_directory_or_empty_source_says_so(ws, entry, words):
    ws.write({"p/BUILD.toml": f'[g]\nrule = "filegroup"\nsrcs = ["{entry}"]\n', "p/sub/x.txt": "x\n"})
    with pytest.raises(BuildFileError) as e:
        loader(ws).load_package("p")
    assert (e.value.target, e.value.field) == ("g", "srcs") and words in str(e.value)


@pytest.mark.parametrize("vis", [":", "//a:b:c", "//ü:x", ""])
def test_a_malformed_visibility_is_a_load_error(ws, vis):
    ws.write({"p/BUILD.toml": f'[g]\nrule = "filegroup"\nsrcs = ["x.txt"]\nvisibility = ["{vis}"]\n', "p/x.txt": ""})
    with pytest.raises(BuildFileError) as e:
        loader(ws).load_package("p")
    assert (e.value.target, e.value.field) == ("g", "visibility")


def test_one_error_per_field_however_many_items_are_wrong(ws):
    ws.write({"p/BUILD.toml": '[g]\nrule = "filegroup"\nsrcs = [1, 2, 3]\ntags = [4]\n'})
    ld = loader(ws, collect=True)
    ld.load_package("p")
    assert sorted((e.field, e.message) for e in ld.errors) == [
        ("srcs", "item 0: Input should be a valid string, got 1 (int) (and 2 more errors in this field)"),
        ("tags", "item 0: Input should be a valid string, got 4 (int)")]


def test_a_long_or_unprintable_target_name_stays_on_one_short_line(ws):
    ws.write({"p/BUILD.toml": f'["{"x" * 5000}"]\nrule = "filegroup"\nsrcs = []\n\n["a\\tb"]\nrule = "filegroup"\n'})
    ld = loader(ws, collect=True)
    ld.load_package("p")
    assert len(ld.errors) == 2 and all("\n" not in str(e) and "\t" not in str(e) and len(str(e)) < 400
                                       for e in ld.errors), [str(e) for e in ld.errors]
