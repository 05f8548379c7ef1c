"""`moltb cache stats|prune|verify|export|import|clear` and `moltb explain`, run as
real processes against real caches."""
from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import uuid

import pytest

from lock_dirs import drop_lock_dirs

from molt_build.digests import hash_bytes
from conftest import HEADER, UPPER




def cas_files(cache) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, inode) of every file under cas/."""
    root = os.path.join(cache, "cas")
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            st = os.stat(p)
            out[os.path.relpath(p, cache)] = (st.st_size, st.st_ino)
    return out


def db_rows(cache, table: str = "actions") -> list[tuple]:
    path = os.path.join(cache, "actions.db")
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(path)
    try:
        return sorted(db.execute(f"SELECT * FROM {table}").fetchall())
    finally:
        db.close()


def results(cache) -> dict[str, list]:
    """key -> decoded result ([outputs, exit_code, stdout, stderr, duration])."""
    return {k: json.loads(r) for k, r, *_ in db_rows(cache)}


def output_blob(cache, rel: str) -> tuple[str, str]:
    """(key, cas path relative to the cache) of the entry whose output ends with `rel`."""
    for key, (outputs, *_rest) in results(cache).items():
        for path, digest, _size, exe in outputs:
            if path.endswith("/" + rel):
                return key, f"cas/{digest[:2]}/{digest}{'.x' if exe else ''}"
    raise AssertionError(f"no cache entry produces {rel}")


def stats(ws) -> dict:
    r = ws.run("cache", "stats", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


# ------------------------------------------------------------- import refusals

@pytest.fixture(scope="module")
def caches(tmp_path_factory):
    """A good export from one cache, and another (non-empty) cache to import into."""
    from conftest import TempWorkspace
    base = tmp_path_factory.mktemp("import")
    src = TempWorkspace(base / "src", base / "src-cache").write(UPPER)
    r = src.run("build", "//...")
    assert r.returncode == 0, r.stderr
    good = base / "good.tar.gz"
    r = src.run("cache", "export", str(good))
    assert r.returncode == 0, r.stderr
    dst = TempWorkspace(base / "dst", base / "dst-cache").write({
        "BUILD.toml": HEADER + """\
        [other]
        rule = "genrule"
        outs = ["other.txt"]
        cmd = "echo other > $@"
        """})
    r = dst.run("build", "//...")
    assert r.returncode == 0, r.stderr
    yield base, good, dst
    drop_lock_dirs(base)


def _member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tuple:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = linkname
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    ti.mode = 0o644
    return ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def _craft(good, dest, extra: list[tuple], drop: set[str] = frozenset()) -> None:
    """Every member of the good export (so that a non-atomic import would already have
    merged real blobs and rows), then the bad member(s)."""
    with tarfile.open(good, "r:*") as src, tarfile.open(dest, "w:gz") as out:
        for m in src.getmembers():
            if m.name not in drop:
                out.addfile(m, src.extractfile(m) if m.isfile() else None)
        for ti, f in extra:
            out.addfile(ti, f)


D_OTHER = hash_bytes(b"what the name promises\n")
D_LINK = "ab" + "0" * 30
EVIL = f"moltb-evil-{uuid.uuid4().hex}"
WRONG_PREFIX = f"cas/{'00' if D_OTHER[:2] != '00' else '11'}/{D_OTHER}"

BAD_MEMBERS = {
    "dotdot": (lambda: [_member(f"../{EVIL}", b"owned\n")], f"../{EVIL}"),
    "dotdot-inside": (lambda: [_member(f"cas/../../{EVIL}", b"owned\n")], f"cas/../../{EVIL}"),
    "absolute": (lambda: [_member(f"/tmp/{EVIL}", b"owned\n")], f"/tmp/{EVIL}"),
    "symlink": (lambda: [_member(f"cas/ab/{D_LINK}", kind=tarfile.SYMTYPE, linkname="/etc/passwd")],
                f"cas/ab/{D_LINK}"),
    "hardlink": (lambda: [_member(f"cas/ab/{D_LINK}", kind=tarfile.LNKTYPE, linkname="actions.db")],
                 f"cas/ab/{D_LINK}"),
    "fifo": (lambda: [_member(f"cas/ab/{D_LINK}", kind=tarfile.FIFOTYPE)], f"cas/ab/{D_LINK}"),
    "digest-mismatch": (lambda: [_member(f"cas/{D_OTHER[:2]}/{D_OTHER}", b"something else entirely\n")],
                        f"cas/{D_OTHER[:2]}/{D_OTHER}"),
    "wrong-prefix": (lambda: [_member(WRONG_PREFIX, b"what the name promises\n")], WRONG_PREFIX),
    "unexpected-name": (lambda: [_member("notes.txt", b"hello\n")], "notes.txt"),
    "unexpected-blob-name": (lambda: [_member("cas/ab/not-a-digest", b"x\n")], "cas/ab/not-a-digest"),
}


@pytest.mark.parametrize("case", sorted(BAD_MEMBERS))
def test_import_refuses_an_unsafe_tarball_whole(caches, case):
    base, good, dst = caches
    make, named = BAD_MEMBERS[case]
    bad = base / f"bad-{case}.tar.gz"
    _craft(good, bad, make())
    before = (cas_files(dst.cache), db_rows(dst.cache), db_rows(dst.cache, "last_keys"))
    r = dst.run("cache", "import", str(bad))
    no_traceback(r)
    assert r.returncode == 2, r.stdout + r.stderr
    assert named in r.stderr, r.stderr
    assert "ERROR" in r.stderr and "imported" not in r.stdout
    assert (cas_files(dst.cache), db_rows(dst.cache), db_rows(dst.cache, "last_keys")) == before
    # Nothing was written where the hostile names point.
    assert not (base / EVIL).exists() and not (base.parent / EVIL).exists()
    assert not os.path.lexists(f"/tmp/{EVIL}")
    assert not os.listdir(os.path.join(dst.cache, "tmp")), "staging files left behind"


def test_import_refuses_a_database_that_is_not_an_action_cache(caches):
    base, good, dst = caches
    bad = base / "bad-db.tar.gz"
    _craft(good, bad, [_member("actions.db", b"this is not sqlite\n" * 100)], drop={"actions.db"})
    before = (cas_files(dst.cache), db_rows(dst.cache))
    r = dst.run("cache", "import", str(bad))
    no_traceback(r)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "actions.db" in r.stderr
    assert (cas_files(dst.cache), db_rows(dst.cache)) == before


def test_import_of_a_file_that_is_not_a_tarball_exits_2(caches):
    base, _good, dst = caches
    junk = base / "junk.tar.gz"
    junk.write_bytes(b"\x00not a tarball at all" * 50)
    before = (cas_files(dst.cache), db_rows(dst.cache))
    r = dst.run("cache", "import", str(junk))
    no_traceback(r)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "junk.tar.gz" in r.stderr
    assert (cas_files(dst.cache), db_rows(dst.cache)) == before


@pytest.mark.parametrize("kind", ["tar", "tar.gz"])
def test_import_of_a_truncated_export_exits_2(caches, kind):
    """What an interrupted CI cache download (or a killed export) leaves behind."""
    base, _good, dst = caches
    src = _export_of_src(base, kind)
    whole = src.read_bytes()
    cut = base / f"truncated.{kind}"
    cut.write_bytes(whole[: len(whole) // 3 if kind == "tar" else 200])
    before = (cas_files(dst.cache), db_rows(dst.cache))
    r = dst.run("cache", "import", str(cut))
    no_traceback(r)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"truncated.{kind}" in r.stderr, r.stderr
    assert (cas_files(dst.cache), db_rows(dst.cache)) == before


def _export_of_src(base, kind: str):
    """An uncompressed or gzipped export of the source cache, made by `moltb cache export`."""
    dest = base / f"export-for-truncation.{kind}"
    if not dest.exists():
        r = subprocess.run([sys.executable, "-m", "molt_build", "cache", "export", str(dest),
                            "--cache-dir", str(base / "src-cache")], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    return dest


def test_export_to_an_unwritable_path_fails_with_a_message(caches):
    base, _good, dst = caches
    r = dst.run("cache", "export", str(base / "no-such-dir" / "x.tar.gz"))
    no_traceback(r)
    assert r.returncode in (2, 36), r.stdout + r.stderr
    assert "no-such-dir" in r.stderr and "ERROR" in r.stderr


def test_import_of_the_good_export_merges_it(caches):
    """The control for the refusals above: the same tarball without the bad member is fine."""
    base, good, dst = caches
    before_rows = db_rows(dst.cache)
    r = dst.run("cache", "import", str(good))
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert "imported" in r.stdout
    after = db_rows(dst.cache)
    assert len(after) == len(before_rows) + 2
    assert {row[0] for row in before_rows} <= {row[0] for row in after}


VICTIM = {"BUILD.toml": HEADER + """\
[victim]
rule = "genrule"
srcs = ["in.txt"]
outs = ["victim.txt"]
cmd = "tr a-z A-Z < $< > $@"
""", "in.txt": "precious source\n"}


@pytest.fixture(scope="module")
def victim_cache(tmp_path_factory):
    """A cache holding the one entry of VICTIM, built for real."""
    from conftest import TempWorkspace
    base = tmp_path_factory.mktemp("maker")
    maker = TempWorkspace(base / "maker", base / "maker-cache").write(VICTIM)
    r = maker.run("build", "//...")
    assert r.returncode == 0, r.stderr
    yield maker.cache
    drop_lock_dirs(base)


def _poisoned_tarball(cache, dest, rewrite) -> tuple[str, str]:
    """A tarball like `moltb cache export` makes, whose one entry's recorded output path
    is rewritten: (key, new path)."""
    snap = dest.parent / "snap.db"
    src = sqlite3.connect(os.path.join(cache, "actions.db"))
    out = sqlite3.connect(snap)
    src.backup(out)
    src.close()
    (key, text), = out.execute("SELECT key, result FROM actions").fetchall()
    res = json.loads(text)
    res[0][0][0] = rewrite
    out.execute("UPDATE actions SET result=? WHERE key=?", (json.dumps(res), key))
    out.commit()
    out.close()
    with tarfile.open(dest, "w") as tar:
        tar.add(snap, arcname="actions.db")
        for rel in cas_files(cache):
            tar.add(os.path.join(cache, rel), arcname=rel)
    return key, rewrite


@pytest.mark.parametrize("where", ["outside-workspace", "absolute", "source-file"])
def test_imported_entry_cannot_write_outside_the_output_tree(victim_cache, make_ws, tmp_path, where):
    """A cache entry whose recorded output path is not the action's declared output (made
    by hand and shipped in a tarball) must never make a build write there."""
    escape = {"outside-workspace": "moltb-out/native-dev/../../../escaped.txt",
              "absolute": f"/tmp/{EVIL}-abs",
              "source-file": "in.txt"}[where]
    tarball = tmp_path / "poisoned.tar"
    key, escape = _poisoned_tarball(victim_cache, tarball, escape)
    victim = make_ws("victim", cache="victim-cache").write(VICTIM)
    try:
        r = victim.run("cache", "import", str(tarball))
        no_traceback(r)
        if r.returncode == 0:   # accepted: then the build must not follow the recorded path
            r = victim.run("build", "//...")
            no_traceback(r)
            assert not (tmp_path / "escaped.txt").exists()
            assert not os.path.lexists(f"/tmp/{EVIL}-abs")
            assert (victim.root / "in.txt").read_text() == "precious source\n"
            assert r.returncode == 0, r.stderr
            assert victim.out("victim.txt").read_text() == "PRECIOUS SOURCE\n"
        else:                   # refused: exit 2, naming the entry or the path
            assert r.returncode == 2, r.stdout + r.stderr
            assert key[:12] in r.stderr or escape in r.stderr, r.stderr
            assert db_rows(victim.cache) == []
    finally:
        if os.path.lexists(f"/tmp/{EVIL}-abs"):
            os.chmod(f"/tmp/{EVIL}-abs", 0o644)
            os.unlink(f"/tmp/{EVIL}-abs")


# ------------------------------------------------------------ warm-cache recipe

C_AND_GEN = {"BUILD.toml": HEADER + """\
[greet]
rule = "c_library"
srcs = ["greet.c"]
hdrs = ["greet.h"]

[hello]
rule = "c_binary"
srcs = ["hello.c"]
deps = [":greet"]

[banner]
rule = "genrule"
srcs = ["in.txt"]
outs = ["banner.txt"]
cmd = "tr a-z A-Z < $< > $@"
""",
    "greet.h": "const char *greeting(void);\n",
    "greet.c": '#include "greet.h"\nconst char *greeting(void) { return "warm cache"; }\n',
    "hello.c": '#include <stdio.h>\n#include "greet.h"\nint main(void) { puts(greeting()); return 0; }\n',
    "in.txt": "restored\n"}


def _check_warm(w) -> None:
    r = w.run("build", "//...")
    assert r.returncode == 0, r.stderr
    fin = w.finished()["actions"]
    assert fin["executed"] == 0 and fin["cached"] == fin["total"] >= 5, fin
    assert w.out("banner.txt").read_text() == "RESTORED\n"
    out = subprocess.run([w.out("hello")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == "warm cache\n"


@pytest.fixture(scope="module")
def c_built(tmp_path_factory):
    from conftest import TempWorkspace
    base = tmp_path_factory.mktemp("warm")
    a = TempWorkspace(base / "a", base / "cache-a").write(C_AND_GEN)
    r = a.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert a.finished()["actions"]["executed"] >= 5
    yield a
    drop_lock_dirs(base)


def test_ci_recipe_export_then_import_in_a_fresh_checkout_rebuilds_nothing(c_built, make_ws, tmp_path):
    a = c_built
    tarball = tmp_path / "x.tar.gz"
    r = a.run("cache", "export", str(tarball))
    assert r.returncode == 0, r.stderr
    with tarfile.open(tarball, "r:gz") as t:    # really gzip, and only the expected members
        names = t.getnames()
    assert "actions.db" in names and all(n == "actions.db" or n.startswith("cas/") for n in names)
    assert len(names) == 1 + len(cas_files(a.cache))
    b = make_ws("b", cache="cache-b").write(C_AND_GEN)
    assert not b.cache.exists()
    r = b.run("cache", "import", str(tarball))
    assert r.returncode == 0, r.stderr
    assert [row[:2] for row in db_rows(b.cache)] == [row[:2] for row in db_rows(a.cache)]
    assert set(cas_files(b.cache)) == set(cas_files(a.cache))
    _check_warm(b)
    # Importing the same tarball again is harmless.
    r = b.run("cache", "import", str(tarball))
    assert r.returncode == 0, r.stderr
    assert len(db_rows(b.cache)) == len(db_rows(a.cache))


def test_ci_recipe_restored_cache_directory_rebuilds_nothing(c_built, make_ws, tmp_path):
    shutil.copytree(c_built.cache, tmp_path / "cache-restored", symlinks=True)
    c = make_ws("c", cache="cache-restored").write(C_AND_GEN)
    _check_warm(c)


# ------------------------------------------------------------------- prune

SIZE_A = 30000
SIZE_B = 20000
TWO_SIZES = {"BUILD.toml": HEADER + f"""\
[a]
rule = "genrule"
outs = ["a.bin"]
cmd = "head -c {SIZE_A} /dev/zero | tr '\\\\0' a > $@"

[b]
rule = "genrule"
outs = ["b.bin"]
cmd = "head -c {SIZE_B} /dev/zero | tr '\\\\0' b > $@"
"""}


def _build_a_then_b(make_ws):
    w = make_ws("w").write(TWO_SIZES)
    for target in ("//:a", "//:b"):
        r = w.run("build", target)
        assert r.returncode == 0, r.stderr
        assert w.finished()["actions"]["executed"] == 1
    assert w.out("a.bin").read_bytes() == b"a" * SIZE_A
    assert w.out("b.bin").read_bytes() == b"b" * SIZE_B
    return w


def _prune(w, *args, grace: str | None = "0") -> dict:
    env = {"MOLTB_PRUNE_GRACE_S": grace} if grace is not None else {}
    r = w.run("cache", "prune", *args, "--json", env=env)
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _fresh_build(make_ws, name: str, target: str) -> int:
    f = make_ws(name).write(TWO_SIZES)
    r = f.run("build", target)
    assert r.returncode == 0, r.stderr
    out = {"//:a": ("a.bin", b"a" * SIZE_A), "//:b": ("b.bin", b"b" * SIZE_B)}[target]
    assert f.out(out[0]).read_bytes() == out[1]
    return f.finished()["actions"]["executed"]


def test_prune_max_size_keeps_the_most_recently_used(make_ws):
    w = _build_a_then_b(make_ws)
    rep = _prune(w, "--max-size", str(SIZE_A + SIZE_B))      # fits: nothing goes
    assert rep["rows_removed"] == 0 and rep["blobs_removed"] == 0
    # Default grace: the row goes, but a blob this young may belong to a running build.
    rep = _prune(w, "--max-size", str(SIZE_B + 1000), grace=None)
    assert rep["rows_removed"] == 1 and rep["blobs_removed"] == 0
    assert stats(w)["blobs"] == 2
    rep = _prune(w, "--max-size", str(SIZE_B + 1000))
    assert rep["blobs_removed"] == 1 and rep["bytes_removed"] == SIZE_A
    assert rep["bytes_kept"] == SIZE_B
    s = stats(w)
    assert s["entries"] == 1 and s["blobs"] == 1 and s["bytes"] == SIZE_B
    assert _fresh_build(make_ws, "fresh-b", "//:b") == 0
    assert _fresh_build(make_ws, "fresh-a", "//:a") == 1


def test_prune_max_size_units_are_binary_multiples(make_ws):
    w = _build_a_then_b(make_ws)
    rep = _prune(w, "--max-size", "1M")              # 1 MiB holds both
    assert rep["rows_removed"] == 0, rep
    rep = _prune(w, "--max-size", "25K")             # 25 KiB holds b (20000) only
    assert rep["rows_removed"] == 1 and rep["bytes_kept"] == SIZE_B, rep


def test_prune_max_age(make_ws):
    w = _build_a_then_b(make_ws)
    rep = _prune(w, "--max-age", "1h")
    assert rep["rows_removed"] == 0 and rep["blobs_removed"] == 0
    assert list((w.cache / "analysis").iterdir())        # the build's shared analysis
    rep = _prune(w, "--max-age", "0s")
    assert rep["rows_removed"] == 2 and rep["blobs_removed"] == 2
    assert rep["analyses_removed"] >= 1 and not list((w.cache / "analysis").iterdir())
    s = stats(w)
    assert s["entries"] == 0 and s["blobs"] == 0 and s["bytes"] == 0
    assert _fresh_build(make_ws, "fresh-a", "//:a") == 1
    assert _fresh_build(make_ws, "fresh-b", "//:b") == 1


@pytest.fixture(scope="module")
def built_two(tmp_path_factory):
    from conftest import TempWorkspace
    base = tmp_path_factory.mktemp("prune")
    w = TempWorkspace(base / "w", base / "cache").write(TWO_SIZES)
    r = w.run("build", "//...")
    assert r.returncode == 0, r.stderr
    yield w
    drop_lock_dirs(base)


@pytest.mark.parametrize("args, word", [
    (["--max-size", "lots"], "lots"),
    (["--max-size", "12XB"], "12XB"),
    (["--max-size", "-5M"], "-5M"),
    (["--max-age", "3 days"], "3 days"),
    (["--max-age", "yesterday"], "yesterday"),
    (["--max-age", "10y"], "10y"),
    ([], "--max-size"),
])
def test_prune_bad_arguments_exit_2_with_a_message(built_two, args, word):
    w = built_two
    before = (cas_files(w.cache), db_rows(w.cache))
    r = w.run("cache", "prune", *args, env={"MOLTB_PRUNE_GRACE_S": "0"})
    no_traceback(r)
    assert r.returncode == 2, r.stdout + r.stderr
    assert word in r.stderr, r.stderr
    assert (cas_files(w.cache), db_rows(w.cache)) == before


# ------------------------------------------------------------------ verify

def test_verify_finds_a_corrupt_blob_drops_its_entry_and_a_rebuild_repairs_it(make_ws):
    w = make_ws("w").write(UPPER)
    r = w.run("build", "//...")
    assert r.returncode == 0, r.stderr
    r = w.run("cache", "verify", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    clean = json.loads(r.stdout)
    assert clean["corrupt"] == [] and clean["rows_dropped"] == 0 and clean["blobs"] >= 2
    key, blob = output_blob(w.cache, "upper.txt")
    path = os.path.join(w.cache, blob)
    size = os.path.getsize(path)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(b"Z" * size)    # same size, other bytes
    r = w.run("cache", "verify")
    no_traceback(r)
    assert r.returncode == 1, r.stdout + r.stderr
    assert blob in r.stdout and "corrupt" in r.stdout
    assert key not in results(w.cache) and len(results(w.cache)) == 1
    assert not os.path.exists(path)
    r = w.run("cache", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["corrupt"] == []
    # A rebuild runs exactly the action whose entry went, and stores it again.
    shutil.rmtree(w.root / "moltb-out")
    r = w.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert [e["label"] for e in w.executed()] == ["//:upper"]
    assert w.out("upper.txt").read_text() == "HELLO\n"
    assert w.out("use.txt").read_text() == "HELLO\nown 1\n"
    assert key in results(w.cache)
    r = w.run("cache", "verify", "--json")
    assert r.returncode == 0, r.stdout
    rep = json.loads(r.stdout)
    assert rep["corrupt"] == [] and rep["rows_dropped"] == 0
    f = make_ws("fresh").write(UPPER)
    r = f.run("build", "//...")
    assert r.returncode == 0 and f.finished()["actions"]["executed"] == 0, r.stderr


def test_verify_json_names_every_corrupt_blob(make_ws):
    w = make_ws("w").write(UPPER)
    assert w.run("build", "//...").returncode == 0
    blobs = [output_blob(w.cache, n)[1] for n in ("upper.txt", "use.txt")]
    for b in blobs:
        p = os.path.join(w.cache, b)
        os.chmod(p, 0o644)
        with open(p, "ab") as f:
            f.write(b"trailing garbage\n")
    r = w.run("cache", "verify", "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert sorted(rep["corrupt"]) == sorted(blobs)
    assert rep["rows_dropped"] == 2
    assert results(w.cache) == {}


# ------------------------------------------------------------------- clear

def test_clear_then_build_executes_everything_again(make_ws):
    w = make_ws("w").write(UPPER)
    assert w.run("build", "//...").returncode == 0
    assert stats(w)["entries"] == 2
    r = w.run("cache", "clear")
    assert r.returncode == 0, r.stderr
    assert str(w.cache) in r.stdout
    s = stats(w)
    assert s["entries"] == 0 and s["blobs"] == 0 and s["bytes"] == 0
    assert db_rows(w.cache, "last_keys") == []
    # The workspace's own outputs survive a cache clear.
    assert w.out("use.txt").read_text() == "HELLO\nown 1\n"
    shutil.rmtree(w.root / "moltb-out")
    r = w.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert w.finished()["actions"] == {"total": 2, "executed": 2, "cached": 0, "failed": 0}
    assert w.out("use.txt").read_text() == "HELLO\nown 1\n"
    f = make_ws("fresh").write(UPPER)
    assert f.run("build", "//...").returncode == 0
    assert f.finished()["actions"]["executed"] == 0


# ----------------------------------------------------------------- explain

EXPLAINED = {"BUILD.toml": HEADER, "pkg/BUILD.toml": """\
[t]
rule = "genrule"
srcs = ["in.txt"]
outs = ["t.txt"]
cmd = "tr a-z A-Z < $< > $@"

[u]
rule = "genrule"
srcs = [":t"]
outs = ["u.txt"]
cmd = "cat $< $< > $@"
""", "pkg/in.txt": "one\n"}


def _verdicts(stdout: str) -> dict[str, str]:
    """'//pkg:t Genrule pkg/t.txt: would run' -> {'//pkg:t': 'would run'}"""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("//") and ": " in line:
            out[line.split()[0]] = line.rsplit(": ", 1)[1]
    return out




def test_explain_names_the_changed_source(ws):
    ws.write(EXPLAINED)
    r = ws.run("explain", "//pkg:t")
    assert r.returncode == 0, r.stderr
    assert _verdicts(r.stdout) == {"//pkg:t": "would run"} and "never built" in r.stdout
    assert ws.run("build", "//pkg:u").returncode == 0
    r = ws.run("explain", "//pkg:t")
    assert r.returncode == 0, r.stderr
    assert "would run" not in r.stdout.replace("actions would run", "")
    assert "0 of 1 actions would run" in r.stdout
    r = ws.run("explain", "//pkg:u")
    assert r.returncode == 0, r.stderr
    assert "0 of 2 actions would run" in r.stdout
    ws.write({"pkg/in.txt": "two\n"})
    r = ws.run("explain", "//pkg:t")
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert _verdicts(r.stdout) == {"//pkg:t": "would run"}
    assert "input changed: pkg/in.txt" in r.stdout
    assert "1 of 1 actions would run" in r.stdout
    r = ws.run("explain", "//pkg:u")
    assert _verdicts(r.stdout) == {"//pkg:t": "would run", "//pkg:u": "may run"}
    assert "input rebuilt first" in r.stdout
    # explain is a dry run: nothing was built, the old output is still there.
    assert ws.out("pkg/t.txt").read_text() == "ONE\n"
    r = ws.run("build", "//pkg:u")
    assert r.returncode == 0 and ws.finished()["actions"]["executed"] == 2
    r = ws.run("explain", "//pkg:u")
    assert "0 of 2 actions would run" in r.stdout


C_LIB = {"BUILD.toml": HEADER, "lib/BUILD.toml": """\
[lvl]
rule = "c_library"
srcs = ["lvl.c"]
copts = ["-DLEVEL=1"]
""", "lib/lvl.c": "int level(void) { return LEVEL; }\n"}


def test_explain_names_the_changed_compiler_flag(ws):
    ws.write(C_LIB)
    r = ws.run("build", "//lib:lvl")
    assert r.returncode == 0, r.stderr
    r = ws.run("explain", "//lib:lvl")
    assert r.returncode == 0, r.stderr
    assert "would run" not in r.stdout.replace("actions would run", ""), r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("0 of ")
    ws.write({"lib/BUILD.toml": C_LIB["lib/BUILD.toml"].replace("LEVEL=1", "LEVEL=2")})
    r = ws.run("explain", "//lib:lvl")
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert "would run" in r.stdout
    assert "argv changed" in r.stdout
    assert "'-DLEVEL=1'" in r.stdout and "'-DLEVEL=2'" in r.stdout
    assert "input changed" not in r.stdout
    r = ws.run("build", "//lib:lvl")
    assert r.returncode == 0, r.stderr
    r = ws.run("explain", "//lib:lvl")
    assert r.stdout.rstrip().splitlines()[-1].startswith("0 of "), r.stdout


def test_build_explain_prints_why_each_action_runs(ws):
    ws.write(EXPLAINED)
    assert ws.run("build", "//pkg:u").returncode == 0
    r = ws.run("build", "//pkg:u", "--explain")
    assert r.returncode == 0, r.stderr
    assert "EXPLAIN" not in r.stderr
    ws.write({"pkg/in.txt": "two\n"})
    r = ws.run("build", "//pkg:u", "--explain")
    assert r.returncode == 0, r.stderr
    assert "EXPLAIN: //pkg:t" in r.stderr
    assert "input changed: pkg/in.txt" in r.stderr
    blocks = r.stderr.split("EXPLAIN: ")
    u_block = next(b for b in blocks if b.startswith("//pkg:u"))
    assert "input changed:" in u_block and "pkg/t.txt" in u_block, u_block
    assert ws.out("pkg/u.txt").read_text() == "TWO\nTWO\n"
