"""A corpus of hostile BUILD.toml files, as data.

Each `Case` is a small workspace: the root BUILD.toml (a plain `[workspace]` unless the
case gives its own), a package `p/` with a few ordinary sources, and the case's files.
`culprit` is the BUILD.toml the one error message must name. For every case,
`moltb validate` exits 1 and `moltb build //...` exits 2, each with one ERROR line
naming the culprit and no traceback (tests/test_hostile_corpus.py).

Text values are written as UTF-8; `bytes` as they are; the markers (`FIFO`,
`DIRECTORY`, `Symlink`, `Sparse`, `SOCKET`) make what text cannot hold. `CONTROLS`
are workspaces just as odd that are valid: they must validate and build.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


FIFO = _Marker("FIFO")
DIRECTORY = _Marker("DIRECTORY")
SOCKET = _Marker("SOCKET")


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Sparse:
    """A file of `size` bytes that takes no space (all zeros)."""
    size: int


@dataclass
class Case:
    name: str
    files: dict
    culprit: str = "p/BUILD.toml"
    also: tuple = ()          # other files the message may name instead (a cycle spans files)


ROOT = '[workspace]\nname = "h"\n'
SOURCES = {"p/in.txt": "in\n", "p/t.sh": "exit 0\n", "p/m.c": "int main(void) { return 0; }\n",
           "p/c.py": "print(1)\n", "p/h.h": "\n", "p/sub/deep.txt": "deep\n"}


def write_case(root, files: dict) -> None:
    """Create the workspace of a case (or control) under `root` (a pathlib.Path)."""
    everything = {"BUILD.toml": ROOT, **SOURCES, **files}
    for rel, value in everything.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.is_file():
            path.unlink()
        if isinstance(value, str):
            path.write_text(value, encoding="utf-8")
        elif isinstance(value, bytes):
            path.write_bytes(value)
        elif value is FIFO:
            os.mkfifo(path)
        elif value is DIRECTORY:
            path.mkdir()
        elif value is SOCKET:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.bind(str(path))
            finally:
                s.close()
        elif isinstance(value, Symlink):
            os.symlink(value.target, path)
        elif isinstance(value, Sparse):
            with open(path, "wb") as f:
                f.truncate(value.size)
        else:
            raise TypeError(f"{rel}: {value!r}")


def target(name: str = "t", **attrs: str) -> str:
    """A target table; attribute values are TOML text (`rule='"genrule"'`)."""
    key = name if name.replace("_", "").replace("-", "").isalnum() and name.isascii() else \
        '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"[{key}]\n" + "".join(f"{k} = {v}\n" for k, v in attrs.items()) + "\n"


GENRULE = dict(rule='"genrule"', outs='["o.txt"]', cmd='"touch $@"')
SH_TEST = dict(rule='"sh_test"', src='"t.sh"')
C_LIB = dict(rule='"c_library"', srcs='["m.c"]', hdrs='["h.h"]')
C_BIN = dict(rule='"c_binary"', srcs='["m.c"]')
FILEGROUP = dict(rule='"filegroup"', srcs='["in.txt"]')
DIFF = dict(rule='"diff_test"', src='"c.py"')
PY_BIN = dict(rule='"py_binary"', src='"c.py"')


def pkg(text: str, **more) -> dict:
    return {"p/BUILD.toml": text, **more}


CORPUS: list[Case] = []


def case(name: str, files: dict, culprit: str = "p/BUILD.toml", also: tuple = ()) -> None:
    CORPUS.append(Case(name, files, culprit, also))


# ------------------------------------------------------------------ TOML syntax
for name, text in [
    ("unclosed-table-header", '[t\nrule = "genrule"\n'),
    ("unclosed-string", '[t]\nrule = "genrule\n'),
    ("unclosed-array", '[t]\nrule = "genrule"\nouts = ["a"\ncmd = "x"\n'),
    ("unclosed-array-at-end", '[t]\nrule = "genrule"\nouts = ["a"'),
    ("missing-value", '[t]\nrule =\n'),
    ("key-without-equals", '[t]\nrule\n'),
    ("equals-alone", '=\n'),
    ("duplicate-key", '[t]\nrule = "genrule"\nrule = "genrule"\n'),
    ("duplicate-table", target(**GENRULE) + target(**GENRULE)),
    ("bare-word-value", '[t]\nrule = genrule\n'),
    ("bad-escape", '[t]\nrule = "gen\\qrule"\n'),
    ("bad-unicode-escape", '[t]\nrule = "\\uD800"\n'),
    ("extra-closing-bracket", '[t]]\nrule = "genrule"\n'),
    ("trailing-comma-inline-table", '[t]\nrule = "sh_test"\nsrc = "t.sh"\nenv = { A = "1", }\n'),
    ("newline-in-inline-table", '[t]\nrule = "sh_test"\nsrc = "t.sh"\nenv = { A = "1",\n B = "2" }\n'),
    ("bad-number", '[t]\nrule = "sh_test"\nsrc = "t.sh"\nshard_count = 1__2\n'),
    ("leading-zero-number", '[t]\nrule = "sh_test"\nsrc = "t.sh"\nshard_count = 012\n'),
    ("bad-date", '[t]\nrule = "genrule"\nwhen = 2024-13-45\n'),
    ("unterminated-multiline-string", '[t]\nrule = "genrule"\ncmd = """touch $@\n'),
    ("unterminated-literal-string", "[t]\nrule = 'genrule\n"),
    ("table-redefined-by-dotted-key", '[t]\nrule = "genrule"\n[t.outs]\nx = 1\n[t]\ncmd = "x"\n'),
    ("array-of-tables-and-table", '[[t]]\nrule = "genrule"\n[t]\nrule = "genrule"\n'),
    ("bare-cr-line-ending", '[t]\rrule = "genrule"\r'),
    ("control-character-in-string", '[t]\nrule = "gen\x07rule"\n'),
    ("tab-in-bare-key", '[t]\nru\tle = "genrule"\n'),
    ("only-garbage", "}{][\n"),
    ("html-by-mistake", "<!DOCTYPE html>\n<html><body>404</body></html>\n"),
    ("json-by-mistake", '{"t": {"rule": "genrule"}}\n'),
]:
    case(f"syntax-{name}", pkg(text))

# ------------------------------------------------------------- encodings and bytes
GOOD_TEXT = target(**GENRULE)
for name, data in [
    ("latin-1", b'[t]\nrule = "genrule"\nouts = ["o.txt"]\ncmd = "echo caf\xe9 > $@"\n'),
    ("lone-0xff", b'[t]\nrule = "genrule"\n\xff\n'),
    ("truncated-utf8", b'[t]\nrule = "genrule"\ndescription = "\xe2\x82"\n'),
    ("overlong-utf8", b'[t]\nrule = "genrule"\ndescription = "\xc0\x80"\n'),
    ("encoded-surrogate", b'[t]\nrule = "genrule"\ndescription = "\xed\xa0\x80"\n'),
    ("utf16-le-with-bom", b"\xff\xfe" + GOOD_TEXT.encode("utf-16-le")),
    ("utf16-be-without-bom", GOOD_TEXT.encode("utf-16-be")),
    ("utf8-bom", b"\xef\xbb\xbf" + GOOD_TEXT.encode()),
    ("raw-nul-byte", b'[t]\nrule = "genrule"\x00\n'),
    ("only-nul-bytes", b"\x00" * 4096),
    ("random-binary", bytes(range(256)) * 16),
    ("gzip-by-mistake", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(64)),
]:
    case(f"bytes-{name}", pkg(data))

# ------------------------------------------------------------ what is on disk
for name, value in [
    ("fifo", FIFO),
    ("directory", DIRECTORY),
    ("socket", SOCKET),
    ("symlink-to-dev-zero", Symlink("/dev/zero")),
    ("symlink-to-dev-null", Symlink("/dev/null")),
    ("symlink-to-dev-urandom", Symlink("/dev/urandom")),
    ("symlink-to-itself", Symlink("BUILD.toml")),
    ("symlink-loop-of-two", Symlink("other.toml")),
    ("dangling-symlink", Symlink("nowhere.toml")),
    ("symlink-to-a-directory", Symlink("sub")),
    ("sparse-9-mib", Sparse(9 * 1024 * 1024)),
    ("sparse-1-tib", Sparse(1 << 40)),
]:
    files = {"p/BUILD.toml": value}
    if name == "symlink-loop-of-two":
        files["p/other.toml"] = Symlink("BUILD.toml")
    case(f"file-{name}", files)
case("file-over-8-mib-of-comments", pkg(target(**GENRULE) + ("# " + "x" * 1022 + "\n") * (8 * 1024 + 1)))

# -------------------------------------------------------------------- nesting
for name, value in [
    ("arrays-1000", "[" * 1000 + "]" * 1000),
    ("arrays-100000", "[" * 100_000 + "]" * 100_000),
    ("inline-tables-1000", "{a = " * 1000 + "1" + "}" * 1000),
    ("inline-tables-100000", "{a = " * 100_000 + "1" + "}" * 100_000),
    ("mixed-1000", "[{a = " * 500 + "1" + "}]" * 500),
    ("arrays-65", "[" * 65 + "]" * 65),
    ("unclosed-arrays-100000", "[" * 100_000),
]:
    case(f"nesting-{name}", pkg(target(**{**GENRULE, "outs": value})))
case("nesting-dotted-table-1000", pkg("[" + ".".join(["t"] * 1000) + "]\nrule = \"genrule\"\n"))
case("nesting-dotted-key-1000", pkg(target(**GENRULE) + "[u]\n" + ".".join(["k"] * 1000) + " = 1\n"))
case("nesting-deep-env", pkg(target(**{**SH_TEST, "env": "{a = " * 200 + '"x"' + "}" * 200})))

# -------------------------------------------------------------------- numbers
for name, attrs in [
    ("int-beyond-64-bits", {**SH_TEST, "shard_count": "9223372036854775808"}),
    ("int-5000-digits", {**SH_TEST, "shard_count": "9" * 5000}),
    ("negative-int-beyond-64-bits", {**SH_TEST, "shard_count": "-9223372036854775809"}),
    ("shard-count-max-int64", {**SH_TEST, "shard_count": "9223372036854775807"}),
    ("shard-count-negative", {**SH_TEST, "shard_count": "-1"}),
    ("shard-count-1001", {**SH_TEST, "shard_count": "1001"}),
    ("shard-count-float", {**SH_TEST, "shard_count": "2.5"}),
    ("timeout-negative", {**SH_TEST, "timeout": "-1"}),
    ("timeout-zero", {**SH_TEST, "timeout": "0"}),
    ("timeout-nan", {**SH_TEST, "timeout": "nan"}),
    ("timeout-inf", {**SH_TEST, "timeout": "inf"}),
    ("timeout-minus-inf", {**SH_TEST, "timeout": "-inf"}),
    ("timeout-forever", {**SH_TEST, "timeout": '"forever"'}),
    ("timeout-huge", {**SH_TEST, "timeout": "1e300"}),
    ("timeout-overflowing-float", {**SH_TEST, "timeout": "1e999999"}),
    ("timeout-a-year", {**SH_TEST, "timeout": "31536000"}),
    ("timeout-bool", {**SH_TEST, "timeout": "true"}),
    ("timeout-list", {**SH_TEST, "timeout": "[60]"}),
    ("diff-test-timeout-nan", {**DIFF, "timeout": "nan"}),
    ("diff-test-timeout-negative", {**DIFF, "timeout": "-5"}),
]:
    case(f"number-{name}", pkg(target(**attrs)))

# --------------------------------------------------------- rules and fields
for name, text in [
    ("unknown-rule", target(rule='"cc_binary"', srcs='["m.c"]')),
    ("rule-not-a-string", target(rule="1")),
    ("rule-empty", target(rule='""')),
    ("rule-a-list", target(rule='["genrule"]')),
    ("rule-missing", target(outs='["o"]', cmd='"x"')),
    ("unknown-field", target(**GENRULE, colour='"blue"')),
    ("field-typo", target(**{k: v for k, v in GENRULE.items() if k != "outs"}, out='["o"]')),
    ("missing-required-field", target(rule='"genrule"', outs='["o"]')),
    ("target-not-a-table", 't = "genrule"\n'),
    ("target-an-array", 't = [1, 2]\n'),
    ("array-of-tables-target", '[[t]]\nrule = "genrule"\nouts = ["o"]\ncmd = "x"\n'),
    ("package-unknown-key", '[package]\nvisibilty = ["//visibility:public"]\n\n' + target(**GENRULE)),
    ("package-not-a-table", 'package = 1\n\n' + target(**GENRULE)),
    ("package-with-rule", '[package]\nrule = "genrule"\n\n' + target(**GENRULE)),
    ("package-bad-visibility-type", '[package]\nvisibility = "public"\n\n' + target(**GENRULE)),
    ("workspace-in-a-package", '[workspace]\nname = "x"\n\n' + target(**GENRULE)),
    ("workspace-not-a-table-in-a-package", 'workspace = 3\n\n' + target(**GENRULE)),
    ("genrule-unknown-make-variable", target(**{**GENRULE, "cmd": '"echo $(FOO) > $@"'})),
    ("genrule-dollar-less-with-two-srcs", target(**{**GENRULE, "srcs": '["in.txt", "t.sh"]',
                                                    "cmd": '"cat $< > $@"'})),
    ("genrule-dollar-at-with-two-outs", target(**{**GENRULE, "outs": '["a", "b"]', "cmd": '"touch $@"'})),
    ("c-binary-without-sources", target(rule='"c_binary"', srcs='["h.h"]')),
    ("c-source-with-a-bad-extension", target(rule='"c_library"', srcs='["in.txt"]')),
    ("c-include-escaping", target(**C_LIB, includes='["../../.."]')),
    ("py-test-not-python", target(rule='"py_test"', src='"t.sh"')),
    ("diff-test-bad-extension", target(rule='"diff_test"', src='"in.txt"')),
    ("diff-test-bad-stderr-mode", target(**DIFF, stderr='"loud"')),
    ("filegroup-missing-srcs", target(rule='"filegroup"')),
    ("intrinsics-check-missing-manifest", target(rule='"intrinsics_check"', srcs='["c.py"]', ratchet='"in.txt"')),
    ("py-binary-not-python", target(rule='"py_binary"', src='"m.c"')),
]:
    case(f"rule-{name}", pkg(text))

# ------------------------------------------------- wrong types, attribute by attribute
WRONG = {
    "a-string": '"x"', "an-int": "1", "a-bool": "true", "a-table": "{ a = 1 }", "list-of-ints": "[1, 2]",
    "list-of-lists": '[["a"]]', "a-float": "1.5", "a-date": "1979-05-27",
}
for rule_name, base, attrs in [
    ("genrule", GENRULE, {"deps": "list", "data": "list", "toolchains": "list", "tags": "list",
                          "visibility": "list", "description": "str", "srcs": "list", "outs": "list", "cmd": "str",
                          "tools": "list", "executable": "bool"}),
    ("c_library", C_LIB, {"hdrs": "list", "copts": "list", "defines": "list", "local_defines": "list",
                          "includes": "list"}),
    ("c_binary", C_BIN, {"linkopts": "list"}),
    ("sh_test", SH_TEST, {"src": "str", "args": "list", "env": "dict", "flaky": "bool"}),
    ("diff_test", DIFF, {"xfail": "boolstr", "expected": "str"}),
]:
    for attr, kind in attrs.items():
        wrong = {"list": ("a-string", "list-of-ints", "a-table"), "str": ("an-int", "list-of-ints"),
                 "bool": ("a-string", "an-int"), "dict": ("a-string", "list-of-ints"),
                 "boolstr": ("an-int", "list-of-ints")}[kind]
        if attr in ("deps", "srcs", "outs"):
            wrong += ("a-bool", "list-of-lists", "a-float", "a-date")
        for w in wrong:
            case(f"type-{rule_name}-{attr}-{w}", pkg(target(**{**base, attr: WRONG[w]})))

# ----------------------------------------------------------------------- labels
for name, label in [
    ("empty", ""), ("slashes-only", "//"), ("colon-only", ":"), ("two-colons", "//a:b:c"),
    ("double-colon", "//p::t"), ("space-in-package", "//a b:c"), ("space-in-name", ":a b"),
    ("unicode-package", "//ünï:x"), ("unicode-name", ":ñame"), ("dot-dot-package", "//../x:y"),
    ("dot-dot-in-package", "//a/../b:c"), ("dot-dot-name", ":../t"), ("repository", "@repo//x:y"),
    ("triple-slash", "///p:t"), ("trailing-slash", "//p/:t"), ("no-name-after-colon", "//p:"),
    ("leading-space", " :t"), ("newline", ":a\\nb"), ("tab", ":a\\tb"), ("escape-sequence", ":\\u001b[31m"),
    ("nul", ":a\\u0000"), ("very-long", ":" + "x" * 10_000), ("dollar", "//p:$t"),
]:
    case(f"label-deps-{name}", pkg(target("u", **{**GENRULE, "outs": '["u.txt"]'})
                                   + target(**{**GENRULE, "deps": f'["{label}"]'})))
for attr, base in [("srcs", GENRULE), ("tools", GENRULE), ("data", GENRULE), ("visibility", GENRULE)]:
    for name, label in [("two-colons", "//a:b:c"), ("colon-only", ":"), ("unicode", "//ü:x")]:
        text = target(**{**base, attr: f'["{label}"]'})
        case(f"label-{attr}-{name}", pkg(text))

# --------------------------------------------------------------- target names
for name, key in [
    ("with-colon", "a:b"), ("empty", ""), ("with-space", "a b"), ("unicode", "ñame"), ("dot-dot", ".."),
    ("dot", "."), ("leading-slash", "/a"), ("trailing-slash", "a/"), ("dollar", "a$b"),
    ("newline", "a\nb"), ("escape", "\x1b[31mred"), ("very-long", "x" * 10_000), ("part-of-256", "x" * 256),
]:
    case(f"name-{name}", pkg(target(key, **GENRULE)))
for pkg_dir in ["a b", "ünï", "x$y", "a:b"]:
    case(f"package-dir-{pkg_dir.encode().hex()}", {f"{pkg_dir}/BUILD.toml": target(**GENRULE)},
         culprit=f"{pkg_dir}/BUILD.toml")

# ---------------------------------------------------------------------- graph
case("graph-self-dependency", pkg(target(**{**GENRULE, "deps": '[":t"]'})))
case("graph-cycle-of-two", pkg(target("a", **{**GENRULE, "outs": '["a"]', "deps": '[":b"]'})
                               + target("b", **{**GENRULE, "outs": '["b"]', "deps": '[":a"]'})))
case("graph-cycle-across-packages",
     {"p/BUILD.toml": target(**{**GENRULE, "deps": '["//q:u"]'}),
      "q/BUILD.toml": target("u", **{**GENRULE, "deps": '["//r:v"]'}),
      "r/BUILD.toml": target("v", **{**GENRULE, "deps": '["//p:t"]'})},
     also=("q/BUILD.toml", "r/BUILD.toml"))
case("graph-cycle-through-srcs", pkg(target("a", **{**GENRULE, "outs": '["a"]', "srcs": '[":b"]'})
                                     + target("b", **{**GENRULE, "outs": '["b"]', "srcs": '[":a"]'})))
case("graph-missing-target", pkg(target(**{**GENRULE, "deps": '[":nope"]'})))
case("graph-missing-package", pkg(target(**{**GENRULE, "deps": '["//nope:x"]'})))
case("graph-missing-target-elsewhere", {"p/BUILD.toml": target(**{**GENRULE, "deps": '["//q:nope"]'}),
                                        "q/BUILD.toml": target("u", **GENRULE)})
case("graph-private-dependency", {"p/BUILD.toml": target(**{**GENRULE, "deps": '["//q:u"]'}),
                                  "q/BUILD.toml": target("u", **GENRULE, visibility='["//visibility:private"]')})
case("graph-visible-to-another-package", {"p/BUILD.toml": target(**{**GENRULE, "deps": '["//q:u"]'}),
                                          "q/BUILD.toml": target("u", **GENRULE, visibility='["//r:__pkg__"]')})
case("graph-dependency-on-a-broken-package", {"p/BUILD.toml": target(**{**GENRULE, "deps": '["//q:u"]'}),
                                              "q/BUILD.toml": "[u\n"}, culprit="q/BUILD.toml")
case("graph-c-binary-depends-on-a-genrule",
     pkg(target("gen", **{**GENRULE, "outs": '["gen.c"]'}) + target(**{**C_BIN, "deps": '[":gen"]'})))
case("graph-c-library-depends-on-a-filegroup",
     pkg(target("files", **FILEGROUP) + target(**{**C_LIB, "deps": '[":files"]'})))

# -------------------------------------------------------------------- outputs
for name, outs in [
    ("escaping", '["../escape"]'), ("escaping-deep", '["a/../../x"]'), ("absolute", '["/tmp/x"]'),
    ("empty-list", "[]"), ("empty-string", '[""]'), ("dot", '["."]'), ("dot-dot", '[".."]'),
    ("listed-twice", '["x", "x"]'), ("listed-twice-normalised", '["x", "./x"]'), ("file-and-inside", '["d", "d/e"]'),
    ("segment-too-long", '["' + "x" * 300 + '"]'), ("nul", '["a\\u0000"]'),
    ("into-a-subpackage", '["q"]'), ("under-a-subpackage", '["q/x"]'), ("trailing-slash-subpackage", '["q/"]'),
]:
    case(f"outs-{name}", pkg(target(**{**GENRULE, "outs": outs, "cmd": '"touch $(OUTS)"'}),
                             **({"p/q/BUILD.toml": ""} if "subpackage" in name else {})))
case("outs-two-targets-one-output", pkg(target("a", **GENRULE) + target("b", **GENRULE)))
case("outs-output-is-a-directory-of-another",
     pkg(target("a", **{**GENRULE, "outs": '["d"]'}) + target("b", **{**GENRULE, "outs": '["d/e"]'})))
case("outs-collides-with-a-c-library-archive",
     pkg(target("lib", **C_LIB) + target("g", **{**GENRULE, "outs": '["liblib.a"]'})))
case("outs-collides-with-c-objects",
     pkg(target("lib", **C_LIB) + target("g", **{**GENRULE, "outs": '["_objs"]'})))

# --------------------------------------------------------------- sources and globs
for name, srcs in [
    ("glob-matching-nothing", '["*.nothing"]'), ("absolute-glob", '["/etc/*"]'), ("parent-glob", '["../*"]'),
    ("parent-file", '["../BUILD.toml"]'), ("absolute-file", '["/etc/hostname"]'), ("missing-file", '["gone.txt"]'),
    ("directory-as-file", '["sub"]'), ("glob-matching-only-directories", '["su*"]'),
    ("recursive-glob-only-into-subpackage", '["q/**"]'), ("file-in-a-subpackage", '["q/x.txt"]'),
    ("empty-string", '[""]'), ("dot", '["."]'), ("nul", '["in\\u0000.txt"]'),
]:
    case(f"srcs-{name}", pkg(target(**{**GENRULE, "srcs": srcs}),
                             **({"p/q/BUILD.toml": "", "p/q/x.txt": "x\n"} if "subpackage" in name else {})))
case("srcs-missing-test-src", pkg(target(**{**SH_TEST, "src": '"gone.sh"'})))

# --------------------------------------------------------------- NUL everywhere
for attr, value, base in [
    ("cmd", '"touch $@\\u0000"', GENRULE), ("env-value", '{ A = "x\\u0000y" }', SH_TEST),
    ("env-key", '{ "A\\u0000" = "x" }', SH_TEST), ("args", '["a", "b\\u0000"]', SH_TEST),
    ("description", '"x\\u0000"', GENRULE), ("tags", '["a\\u0000"]', GENRULE), ("copts", '["-O\\u0000"]', C_LIB),
    ("deps", '[":t\\u0000"]', GENRULE), ("table-name", None, GENRULE),
]:
    if value is None:
        case(f"nul-in-{attr}", pkg('["t\\u0000"]\nrule = "genrule"\nouts = ["o"]\ncmd = "x"\n'))
    else:
        key = "env" if attr.startswith("env") else attr
        case(f"nul-in-{attr}", pkg(target(**{**base, key: value})))
case("env-name-with-equals", pkg(target(**SH_TEST, env='{ "A=B" = "x" }')))
case("env-name-empty", pkg(target(**SH_TEST, env='{ "" = "x" }')))

# ------------------------------------------------------------------ toolchains
case("toolchains-unknown", pkg(target(**GENRULE, toolchains='["bogus"]')))
case("toolchains-typo", pkg(target(**C_LIB, toolchains='["natve"]')))
case("toolchains-a-string", pkg(target(**GENRULE, toolchains='"native"')))
case("toolchains-unknown-in-package-defaults", pkg('[package]\ntoolchains = ["bogus"]\n\n' + target(**GENRULE)))
case("toolchains-unknown-lane", pkg(target(**DIFF, toolchains='["bogus"]')))

# ------------------------------------------------------------------- workspace
for name, extra in [
    ("unknown-key", 'colour = "blue"'), ("name-an-int", "name = 1"), ("default-profile-unknown", 'default_profile = "fast"'),
    ("default-toolchain-unknown", 'default_toolchain = "bogus"'), ("default-toolchain-a-list", 'default_toolchain = ["native"]'),
    ("plugin-dirs-a-string", 'plugin_dirs = "plugins"'), ("plugin-dirs-missing", 'plugin_dirs = ["nowhere"]'),
    ("cache-dir-an-int", "cache_dir = 1"), ("ignore-a-string", 'ignore = "x"'), ("remote-an-int", "remote = 1"),
    ("toolchains-not-a-table", "toolchains = 1"), ("settings-for-unknown-toolchain", '[workspace.toolchains.bogus]\nx = 1'),
    ("nul-in-name", 'name = "h\\u0000"'),
]:
    text = ("[workspace]\n" if extra.startswith("name") else ROOT) + extra + "\n\n" + target(**GENRULE)
    case(f"workspace-{name}", {"BUILD.toml": text}, culprit="BUILD.toml")

# ---------------------------------------------------- one bad target among many
MANY = "".join(target(f"t{i}", rule='"genrule"', outs=f'["o{i}.txt"]', cmd='"touch $@"') for i in range(10_000))
case("many-targets-one-unknown-field", pkg(MANY + target("bad", **GENRULE, colour='"blue"')))
case("many-targets-one-colliding-output", pkg(MANY + target("bad", **{**GENRULE, "outs": '["o9999.txt"]'})))

# -------------------------------------------------------------------- controls
CONTROLS: dict[str, dict] = {
    "genrule-and-test": pkg(target("g", rule='"genrule"', srcs='["in.txt"]', outs='["g.txt"]', cmd='"cp $< $@"')
                            + target("t", **SH_TEST, timeout='"short"', shard_count="2", env='{ A = "1" }')
                            + target("f", **FILEGROUP)),
    "crlf-line-endings": pkg(target(**GENRULE).replace("\n", "\r\n")),
    "unicode-in-strings": pkg(target(**GENRULE, description='"café ☕ — ünïcode"')),
    "symlinked-build-file": {"p/real.toml": target(**GENRULE), "p/BUILD.toml": Symlink("real.toml")},
    "a-thousand-targets": pkg("".join(target(f"t{i}", rule='"genrule"', outs=f'["o{i}.txt"]', cmd='"touch $@"')
                                      for i in range(1000))),
    "long-names": pkg(target("n" * 200, **GENRULE) + target("a/b/c", **{**GENRULE, "outs": '["abc/d.txt"]'})),
    "just-under-the-size-limit": pkg(target(**GENRULE) + ("#" * 1023 + "\n") * (8 * 1024 - 1)),
    "empty-package": {"p/BUILD.toml": ""},
    "deps-outputs-and-subpackage": {"p/BUILD.toml": target("a", **{**GENRULE, "outs": '["q.txt", "sub/x"]',
                                                                   "cmd": '"touch $(OUTS)"'}),
                                    "p/q/BUILD.toml": target("b", **{**GENRULE, "srcs": '["//p:a"]'})},
}
