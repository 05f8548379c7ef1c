"""Reading one BUILD.toml: whatever is on disk gives a table or one BuildFileError
naming the file (and target and field where there is one); never a hang, a traceback
or unbounded memory. In-process: these are the reader's own limits."""
from __future__ import annotations

import os

import pytest

from molt_build import build_file
from molt_build.build_file import MAX_BYTES, MAX_DEPTH, read_build_file
from molt_build.errors import BuildFileError

GOOD = '[a]\nrule = "genrule"\nouts = ["a"]\ncmd = "touch $@"\n'


def error_of(path, text: str | bytes | None = None) -> BuildFileError:
    if text is not None:
        path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(BuildFileError) as e:
        read_build_file(str(path), "p/BUILD.toml")
    assert e.value.file == "p/BUILD.toml"
    return e.value


def test_a_plain_file_parses(tmp_path):
    (tmp_path / "BUILD.toml").write_text(GOOD)
    assert read_build_file(str(tmp_path / "BUILD.toml"), "BUILD.toml")["a"]["outs"] == ["a"]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "BUILD.toml")
    assert "not a regular file (it is a FIFO)" in error_of(tmp_path / "BUILD.toml").message


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "BUILD.toml").mkdir()
    assert "it is a directory" in error_of(tmp_path / "BUILD.toml").message


def test_a_symlink_to_dev_zero_is_refused_without_reading(tmp_path):
    os.symlink("/dev/zero", tmp_path / "BUILD.toml")
    assert "it is a character device" in error_of(tmp_path / "BUILD.toml").message


@pytest.mark.parametrize("target", ["BUILD.toml", "nowhere"], ids=["loop", "dangling"])
def test_a_broken_symlink_is_refused(tmp_path, target):
    os.symlink(target, tmp_path / "BUILD.toml")
    assert error_of(tmp_path / "BUILD.toml").message.startswith("cannot read: ")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    with open(tmp_path / "BUILD.toml", "wb") as f:
        f.truncate(MAX_BYTES + 1)          # sparse: nothing to read anyway
    assert "too large" in error_of(tmp_path / "BUILD.toml").message


def test_a_byte_order_mark_is_named(tmp_path):
    assert "byte-order mark" in error_of(tmp_path / "BUILD.toml", b"\xef\xbb\xbf" + GOOD.encode()).message


def test_non_utf8_names_line_and_column(tmp_path):
    e = error_of(tmp_path / "BUILD.toml", b'[a]\nrule = "genrule"\ncmd = "\xff"\n')
    assert "not valid UTF-8 (byte 0xff at line 3, column 8)" in e.message


@pytest.mark.parametrize("value", ["[" * 1000 + "]" * 1000, "[" * 100_000 + "]" * 100_000,
                                   "{b = " * 1000 + "1" + "}" * 1000, "[" * 300 + "]" * 300],
                         ids=["arrays-1000", "arrays-100000", "inline-tables-1000", "arrays-300"])
def test_deep_nesting_is_refused(tmp_path, value):
    e = error_of(tmp_path / "BUILD.toml", f"[a]\nrule = \"genrule\"\nouts = {value}\n")
    assert f"nested more than {MAX_DEPTH} levels" in e.message


def test_deep_dotted_keys_are_refused(tmp_path):
    e = error_of(tmp_path / "BUILD.toml", "[" + ".".join(["t"] * 200) + "]\nx = 1\n")
    assert "nested" in e.message and e.target == "t"


def test_nesting_up_to_the_limit_is_fine(tmp_path):
    depth = MAX_DEPTH - 2          # the document and the target table are two levels
    (tmp_path / "BUILD.toml").write_text(f"[a]\nx = {'[' * depth}{']' * depth}\n")
    read_build_file(str(tmp_path / "BUILD.toml"), "BUILD.toml")
    e = error_of(tmp_path / "BUILD.toml", f"[a]\nx = {'[' * (depth + 1)}{']' * (depth + 1)}\n")
    assert (e.target, e.field) == ("a", "x")


@pytest.mark.parametrize("number", ["9223372036854775808", "-9223372036854775809", "9" * 30, "9" * 5000])
def test_integers_beyond_64_bits_are_refused(tmp_path, number):
    e = error_of(tmp_path / "BUILD.toml", f"[a]\nrule = \"sh_test\"\nshard_count = {number}\n")
    assert "64-bit" in e.message


def test_64_bit_integers_are_fine(tmp_path):
    (tmp_path / "BUILD.toml").write_text("[a]\nx = 9223372036854775807\ny = -9223372036854775808\n")
    assert read_build_file(str(tmp_path / "BUILD.toml"), "BUILD.toml")["a"]["x"] == 2 ** 63 - 1


@pytest.mark.parametrize("line, field", [
    ('cmd = "echo \\u0000"', "cmd"),
    ('env = { K = "a\\u0000b" }', "env"),
    ('env = { "K\\u0000" = "v" }', "env"),
    ('args = ["ok", "x\\u0000"]', "args"),
])
def test_nul_bytes_are_refused_naming_target_and_field(tmp_path, line, field):
    e = error_of(tmp_path / "BUILD.toml", f'[t]\nrule = "sh_test"\n{line}\n')
    assert "NUL" in e.message and (e.target, e.field) == ("t", field)


def test_a_nul_byte_in_a_table_name_is_refused(tmp_path):
    e = error_of(tmp_path / "BUILD.toml", '["a\\u0000b"]\nrule = "genrule"\n')
    assert "NUL" in e.message


def test_the_reader_never_follows_a_file_swapped_for_a_fifo(tmp_path, monkeypatch):
    """Checked again once open: a FIFO put in place between stat and open is refused."""
    path = tmp_path / "BUILD.toml"
    path.write_text(GOOD)
    real_open = os.open

    def swap_then_open(p, flags, *a):
        if str(p) == str(path):
            os.unlink(path)
            os.mkfifo(path)
        return real_open(p, flags, *a)

    monkeypatch.setattr(build_file.os, "open", swap_then_open)
    assert "FIFO" in error_of(path).message


def test_shared_analysis_digest_refuses_a_fifo(tmp_path):
    from molt_build.shared_analysis import file_digest
    os.mkfifo(tmp_path / "BUILD.toml")
    with pytest.raises(OSError):
        file_digest(str(tmp_path / "BUILD.toml"))


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf[workspace]\nname = 't'\n", b"[workspace]\nname = '\xff'\n"],
                         ids=["bom", "non-utf8"])
def test_a_broken_root_is_reported_not_passed_over(tmp_path, content):
    from molt_build.workspace import find_root
    (tmp_path / "BUILD.toml").write_text('[workspace]\nname = "outer"\n')
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner/BUILD.toml").write_bytes(content)
    with pytest.raises(BuildFileError) as e:
        find_root(str(tmp_path / "inner"))
    assert e.value.file == str(tmp_path / "inner/BUILD.toml")


@pytest.mark.parametrize("data, where", [(b'[a]\nrule = "genrule"\x00\n', "line 2, column 17"),
                                         ("[a]\nx = 1\n".encode("utf-16-be"), "line 1, column 1")],
                         ids=["raw-nul", "utf-16"])
def test_a_raw_nul_byte_is_named_with_its_position(tmp_path, data, where):
    e = error_of(tmp_path / "BUILD.toml", data)
    assert f"holds a NUL byte at {where}" in e.message and "UTF-16" in e.hint
