"""Labels and target patterns: the spellings users write in BUILD.toml and on the
command line, and the malformed ones that must be rejected where they are written."""
from __future__ import annotations

import pytest

from molt_build.errors import BuildFileError, LabelError
from molt_build.labels import Label, Pattern, parse_label, parse_pattern


# ------------------------------------------------------------------------- labels

@pytest.mark.parametrize("text, current, pkg, name", [
    ("//a/b:c", "", "a/b", "c"),
    ("//a/b:c", "elsewhere", "a/b", "c"),          # absolute ignores the current package
    (":c", "a/b", "a/b", "c"),
    (":c", "", "", "c"),
    ("c", "a/b", "a/b", "c"),                      # a bare name is package-relative
    ("//a/b", "", "a/b", "b"),                     # name = last path segment
    ("//a", "", "a", "a"),
    ("//:x", "", "", "x"),                         # the root package
    ("//a:b/c.txt", "", "a", "b/c.txt"),           # names may contain '/' and '.'
    ("//a-b/c_d.e:x+y@z", "", "a-b/c_d.e", "x+y@z"),
])
def test_parse_label(text, current, pkg, name):
    label = parse_label(text, current)
    assert (label.pkg, label.name) == (pkg, name)
    assert label == Label(pkg, name)


def test_label_str_round_trips():
    for text in ("//a/b:c", "//:x", "//a:b/c.txt"):
        assert str(parse_label(text)) == text
        assert parse_label(str(parse_label(text))) == parse_label(text)
    assert str(parse_label("//a/b")) == "//a/b:b"
    assert str(parse_label(":c", "p/q")) == "//p/q:c"


def test_labels_are_ordered_and_hashable():
    labels = [parse_label(t) for t in ("//b:a", "//a:z", "//a:b", "//:r")]
    assert [str(l) for l in sorted(labels)] == ["//:r", "//a:b", "//a:z", "//b:a"]
    assert len({parse_label("//a/b"), parse_label("//a/b:b"), parse_label(":b", "a/b")}) == 1


@pytest.mark.parametrize("text", [
    "",                 # empty
    "//",               # nothing after //
    "//a//b",           # empty package segment
    "//a//b:c",
    "///a:b",           # leading '/' in the package path
    "//a/:b",           # trailing '/'
    "//a/../b:c",       # '..' segment
    "//../a:b",
    "//./a:b",          # '.' segment
    "//a:",             # empty name
    "//:",
    ":",
    "//a:b:c",          # two colons
    "//a:b c",          # space in the name
    "//a b:c",          # space in the package
    "//a$:b",           # bad package character
    "//a:b$",           # bad name character
    "//a:../x",         # '..' in the name
    "//a:x/..",
    "//a:/x",
    "a/b:c",            # relative package path with a colon: not a label
    "/a:b",
])
def test_malformed_labels_raise_label_error(text):
    with pytest.raises(LabelError) as info:
        parse_label(text, "p")
    # A user error with the offending text, not a crash; LabelError is a BUILD-file error.
    assert isinstance(info.value, BuildFileError)
    if text:
        assert text in str(info.value)


def test_a_name_part_longer_than_a_file_name_is_refused_in_a_short_message():
    parse_label("//a:" + "x" * 255)
    with pytest.raises(LabelError) as info:
        parse_label("//a:" + "x" * 256)
    assert "longer than 255" in str(info.value) and len(str(info.value)) < 200


@pytest.mark.parametrize("text", ["//a\nb:c", "//a:b\tc", "//a:\x1b[31mred"])
def test_control_characters_are_escaped_in_the_message(text):
    with pytest.raises(LabelError) as info:
        parse_label(text)
    assert "\n" not in str(info.value) and "\t" not in str(info.value) and "\x1b" not in str(info.value)


@pytest.mark.parametrize("value", [None, 3, ["//a:b"]])
def test_non_string_label_is_a_label_error(value):
    with pytest.raises(LabelError):
        parse_label(value)


# ----------------------------------------------------------------------- patterns

@pytest.mark.parametrize("text, cwd, pkg, name, recursive", [
    ("//a/b:c", "", "a/b", "c", False),
    ("//a/b", "", "a/b", "b", False),
    ("//:x", "", "", "x", False),
    ("//a/...", "", "a", None, True),
    ("//a/b/...", "", "a/b", None, True),
    ("//...", "", "", None, True),
    ("//...", "x/y", "", None, True),              # absolute ignores the cwd
    ("//a:all", "", "a", None, False),
    ("//a:*", "", "a", None, False),
    ("//a:all-targets", "", "a", None, False),
    ("//:all", "", "", None, False),
    ("//a/...:all", "", "a", None, True),
    ("//...:all", "", "", None, True),
    # relative to the package of the working directory
    (":c", "p/q", "p/q", "c", False),
    (":all", "p", "p", None, False),
    ("...", "p", "p", None, True),
    ("...", "", "", None, True),
    ("sub/...", "p", "p/sub", None, True),
    ("sub:all", "p", "p/sub", None, False),
    ("sub:t", "p", "p/sub", "t", False),
    ("sub", "p", "p/sub", "sub", False),
    ("a/b:c", "", "a/b", "c", False),
])
def test_parse_pattern(text, cwd, pkg, name, recursive):
    assert parse_pattern(text, cwd) == Pattern(pkg, name, recursive)


def test_pattern_str():
    assert str(parse_pattern("//a/...")) == "//a/..."
    assert str(parse_pattern("//...")) == "//..."
    assert str(parse_pattern("//a:*")) == "//a:all"
    assert str(parse_pattern(":x", "p")) == "//p:x"


def test_recursive_pattern_package_matching():
    sub = parse_pattern("//a/...")
    assert sub.package_matches("a") and sub.package_matches("a/b") and sub.package_matches("a/b/c")
    assert not sub.package_matches("ab")           # a prefix of the name is not a subpackage
    assert not sub.package_matches("") and not sub.package_matches("b/a")
    everything = parse_pattern("//...")
    assert all(everything.package_matches(p) for p in ("", "a", "a/b", "z"))
    one = parse_pattern("//a:all")
    assert one.package_matches("a") and not one.package_matches("a/b")


@pytest.mark.parametrize("text, cwd", [
    ("", ""),
    ("//a//...", ""),
    ("///...", ""),
    ("/...", ""),
    ("//../...", ""),
    ("//a/..", ""),
    ("..", "p"),
    ("../x:y", "p"),
    ("//a:b:c", ""),
    ("//a:b c", ""),
    ("//a b/...", ""),
    ("//a//b:all", ""),
])
def test_malformed_patterns_raise_label_error(text, cwd):
    with pytest.raises(LabelError):
        parse_pattern(text, cwd)
