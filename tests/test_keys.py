"""Action keys and file digests: what enters a key, what must not, and that an
unchanged file is not read again."""
from __future__ import annotations

import os
import sqlite3
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO
from molt_build import digests as digests_mod
from molt_build.digests import RACY_NS, DigestCache, hash_bytes, hash_file
from molt_build.keys import action_key, declared_env, key_components

# --------------------------------------------------------------------------- keys

BASE = {
    "argv": ("/bin/sh", "-c", "cat pkg/a.txt > moltb-out/native-dev/pkg/b.txt"),
    "env": declared_env((), None),
    "inputs": [("pkg/a.txt", "0" * 32), ("pkg/c.txt", "1" * 32)],
    "outputs": ["moltb-out/native-dev/pkg/b.txt"],
    "fingerprint": "native|zig 0.13.0|x86_64-linux-gnu|-O0",
}


def key_of(**over) -> str:
    c = {**BASE, **over}
    return action_key(key_components(c["argv"], c["env"], c["inputs"], c["outputs"], c["fingerprint"]))[0]


def test_identical_components_give_the_same_key():
    a = key_of()
    b = key_of(argv=tuple(list(BASE["argv"])), env=dict(BASE["env"]), inputs=list(BASE["inputs"]),
               outputs=list(BASE["outputs"]), fingerprint=str(BASE["fingerprint"]))
    assert a == b
    assert len(a) == 32 and int(a, 16) >= 0


def test_key_is_independent_of_input_and_output_listing_order():
    assert key_of(inputs=list(reversed(BASE["inputs"]))) == key_of()
    outs = ["moltb-out/native-dev/pkg/b.txt", "moltb-out/native-dev/pkg/z.txt"]
    assert key_of(outputs=outs) == key_of(outputs=list(reversed(outs)))


def test_key_is_stable_across_processes():
    """No hash randomisation or object identity in a key: another interpreter agrees."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from test_keys import key_of; "
            "print(key_of())")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], capture_output=True,
                         text=True, env=env, cwd=REPO, check=True).stdout.strip()
    assert out == key_of()


@pytest.mark.parametrize("change", [
    pytest.param({"argv": ("/bin/sh", "-c", "cat pkg/a.txt >> moltb-out/native-dev/pkg/b.txt")}, id="argv-text"),
    pytest.param({"argv": ("/bin/sh", "cat pkg/a.txt > moltb-out/native-dev/pkg/b.txt", "-c")}, id="argv-order"),
    pytest.param({"argv": ("/bin/sh", "-c cat pkg/a.txt > moltb-out/native-dev/pkg/b.txt")}, id="argv-split"),
    pytest.param({"env": {**BASE["env"], "LC_ALL": "en_US.UTF-8"}}, id="env-value"),
    pytest.param({"env": {**BASE["env"], "EXTRA": "1"}}, id="env-extra-var"),
    pytest.param({"inputs": [("pkg/a.txt", "2" * 32), ("pkg/c.txt", "1" * 32)]}, id="input-content"),
    pytest.param({"inputs": [("pkg/a.txt", "1" * 32), ("pkg/c.txt", "0" * 32)]}, id="input-digests-swapped"),
    pytest.param({"inputs": [("pkg/a2.txt", "0" * 32), ("pkg/c.txt", "1" * 32)]}, id="input-path"),
    pytest.param({"inputs": [("pkg/a.txt", "0" * 32)]}, id="input-removed"),
    pytest.param({"outputs": ["moltb-out/native-dev/pkg/b2.txt"]}, id="output-renamed"),
    pytest.param({"outputs": ["moltb-out/native-dev/pkg/b.txt", "moltb-out/native-dev/pkg/x"]},
                 id="output-added"),
    pytest.param({"fingerprint": "native|zig 0.13.1|x86_64-linux-gnu|-O0"}, id="toolchain-version"),
    pytest.param({"fingerprint": "native|zig 0.13.0|x86_64-linux-gnu|-O2"}, id="toolchain-flags"),
    pytest.param({"fingerprint": ""}, id="no-toolchain"),
])
def test_key_changes_with_each_component(change):
    assert key_of(**change) != key_of()


def test_declared_env_is_clean_and_action_env_wins(monkeypatch):
    monkeypatch.setenv("MOLTB_TEST_LEAK", "1")
    monkeypatch.setenv("HOME", "/somewhere/else")
    env = declared_env((("LC_ALL", "C.UTF-8"), ("MODE", "x")), {"MODE": "tc", "CC": "zig cc"})
    assert "MOLTB_TEST_LEAK" not in env and "HOME" not in env
    assert env["MODE"] == "x" and env["CC"] == "zig cc" and env["LC_ALL"] == "C.UTF-8"
    assert env["PATH"] == declared_env((), None)["PATH"]
    # The host environment does not change the key of an action.
    monkeypatch.setenv("PATH", "/opt/elsewhere/bin:" + os.environ.get("PATH", ""))
    assert key_of(env=declared_env((), None)) == key_of()


# ------------------------------------------------------------------------ digests

def _old_file(path, data: bytes, age_s: float = 10.0) -> str:
    with open(path, "wb") as f:
        f.write(data)
    t = time.time() - age_s
    os.utime(path, (t, t))
    return str(path)


@pytest.fixture
def count_hashes(monkeypatch):
    calls: list[str] = []

    def counting(path):
        calls.append(path)
        return hash_file(path)
    monkeypatch.setattr(digests_mod, "hash_file", counting)
    return calls


def test_digest_cache_does_not_reread_an_unchanged_file(tmp_path, count_hashes):
    p = _old_file(tmp_path / "a.txt", b"hello\n")
    dc = DigestCache(str(tmp_path / "state" / "digests.marshal"))
    d1 = dc.digest("a.txt", p)
    d2 = dc.digest("a.txt", p)
    assert d1 == d2 == hash_bytes(b"hello\n")
    assert len(count_hashes) == 1
    # Persisted: a later build (new DigestCache from the same file) does not read it either.
    dc.save()
    dc2 = DigestCache(str(tmp_path / "state" / "digests.marshal"))
    assert dc2.digest("a.txt", p) == d1
    assert len(count_hashes) == 1


def test_digest_cache_rehashes_same_size_content_change(tmp_path, count_hashes):
    p = _old_file(tmp_path / "a.txt", b"aaaa\n", age_s=20)
    dc = DigestCache(str(tmp_path / "digests.marshal"))
    assert dc.digest("a.txt", p) == hash_bytes(b"aaaa\n")
    _old_file(tmp_path / "a.txt", b"bbbb\n", age_s=10)   # same size, different (old) mtime
    dc.new_build()
    assert dc.digest("a.txt", p) == hash_bytes(b"bbbb\n")
    assert len(count_hashes) == 2
    # A fresh edit (mtime = now) is re-hashed as well.
    with open(p, "wb") as f:
        f.write(b"cccc\n")
    dc.new_build()
    assert dc.digest("a.txt", p) == hash_bytes(b"cccc\n")


def test_digest_cache_does_not_trust_racily_clean_files(tmp_path, count_hashes):
    """A file modified in the same instant it is hashed could change again without its
    stat changing: such entries are not kept."""
    p = tmp_path / "a.txt"
    p.write_bytes(b"x\n")
    dc = DigestCache(str(tmp_path / "digests.marshal"))
    if time.time_ns() - os.stat(p).st_mtime_ns >= RACY_NS:
        pytest.skip("machine too slow to observe a racily clean file")
    dc.digest("a.txt", str(p))
    dc.new_build()
    dc.digest("a.txt", str(p))
    assert len(count_hashes) == 2


def test_digest_cache_survives_a_corrupt_state_file(tmp_path):
    state = tmp_path / "digests.marshal"
    state.write_bytes(b"\x00not marshal at all")
    p = _old_file(tmp_path / "a.txt", b"ok\n")
    assert DigestCache(str(state)).digest("a.txt", p) == hash_bytes(b"ok\n")


# ------------------------------------------------------------------ end to end

GEN = {
    "BUILD.toml": """\
        [workspace]
        name = "t"
        """,
    "pkg/BUILD.toml": """\
        [upper]
        rule = "genrule"
        srcs = ["in.txt"]
        outs = ["upper.txt"]
        cmd = "tr a-z A-Z < $< > $@"

        [both]
        rule = "genrule"
        srcs = [":upper", "in.txt"]
        outs = ["both.txt"]
        cmd = "cat $(SRCS) > $@"
        """,
    "pkg/in.txt": "hello\n",
    "pkg/unrelated.txt": "not an input\n",
}


def _last_key_components(cache) -> list[str]:
    db = sqlite3.connect(os.path.join(cache, "actions.db"))
    try:
        return [r[0] for r in db.execute("SELECT components FROM last_keys")]
    finally:
        db.close()


def test_workspace_path_is_not_in_any_key(make_ws):
    a = make_ws("checkout-a").write(GEN)
    b = make_ws("somewhere/else/checkout-b").write(GEN)
    r = a.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert a.finished()["actions"]["executed"] == 2
    r = b.run("build", "//...")
    assert r.returncode == 0, r.stderr
    fin = b.finished()
    assert fin["actions"]["executed"] == 0 and fin["actions"]["cached"] == 2, r.stderr
    assert b.out("pkg/both.txt").read_text() == "HELLO\nhello\n"
    comps = _last_key_components(a.cache)
    assert comps
    for text in comps:
        assert str(a.root) not in text and str(b.root) not in text
        assert str(a.cache) not in text


def test_c_build_at_another_path_is_all_cache_hits(make_ws):
    a = make_ws("one")
    b = make_ws("two/deeper")
    for w in (a, b):
        shutil.copytree(REPO / "examples", w.root / "examples")
    r = a.run("build", "//examples:hello")
    assert r.returncode == 0, r.stderr
    assert a.finished()["actions"]["executed"] >= 3
    r = b.run("build", "//examples:hello")
    assert r.returncode == 0, r.stderr
    assert b.finished()["actions"]["executed"] == 0
    out = subprocess.run([b.out("examples/hello")], capture_output=True, text=True)
    assert out.stdout == "Hello, moltb!\n"


def test_unrelated_edit_and_touch_rerun_nothing(ws):
    ws.write(GEN)
    assert ws.run("build", "//...").returncode == 0
    (ws.root / "pkg/unrelated.txt").write_text("changed\n")
    r = ws.run("build", "//...")
    assert r.returncode == 0 and ws.finished()["actions"]["executed"] == 0, r.stderr
    # A touched input (new mtime, same bytes) is re-hashed but its actions are cache hits.
    t = time.time() + 5
    os.utime(ws.root / "pkg/in.txt", (t, t))
    os.utime(ws.root / "pkg/BUILD.toml", (t, t))
    r = ws.run("build", "//...")
    assert r.returncode == 0 and ws.finished()["actions"]["executed"] == 0, r.stderr


def test_input_content_change_reruns_its_actions(ws):
    ws.write(GEN)
    assert ws.run("build", "//...").returncode == 0
    (ws.root / "pkg/in.txt").write_text("world\n")
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert sorted(e["label"] for e in ws.executed()) == ["//pkg:both", "//pkg:upper"]
    assert ws.out("pkg/both.txt").read_text() == "WORLD\nworld\n"


def test_host_environment_neither_visible_nor_keyed(ws):
    ws.write({"BUILD.toml": """\
        [workspace]
        name = "t"

        [env]
        rule = "genrule"
        outs = ["env.txt"]
        cmd = "echo ${MOLTB_TEST_SECRET:-unset} > $@; echo $$HOME >> $@"
        """})
    r = ws.run("build", "//:env", env={"MOLTB_TEST_SECRET": "one"})
    assert r.returncode == 0, r.stderr
    assert ws.out("env.txt").read_text().splitlines()[0] == "unset"
    t = time.time() + 5
    os.utime(ws.root / "BUILD.toml", (t, t))   # force a full (not no-op) build
    r = ws.run("build", "//:env", env={"MOLTB_TEST_SECRET": "two", "HOME": "/nowhere"})
    assert r.returncode == 0, r.stderr
    assert ws.finished()["actions"]["executed"] == 0


PLUGIN = '''\
from molt_build.api import Attrs, DefaultInfo, Field, Rule, Toolchain, ToolchainInfo


class StampAttrs(Attrs):
    outs: list[str] = Field(description="outputs")


def stamp(ctx):
    out = ctx.declare_output(ctx.attrs.outs[0])
    ctx.action(mnemonic="Stamp", argv=["/bin/sh", "-c", "echo stamped > " + out.path],
               inputs=[], outputs=[out])
    return [DefaultInfo(files=(out,))]


class FakeToolchain(Toolchain):
    name = "fake"

    def resolve(self, ctx):
        return ToolchainInfo(name="fake", fingerprint="fake|" + str(ctx.settings.get("version", "1")),
                             version=str(ctx.settings.get("version", "1")))


RULES = [Rule("stamp", StampAttrs, stamp)]
TOOLCHAINS = [FakeToolchain()]
'''


def _fake_ws(ws, version: str):
    ws.write({"BUILD.toml": f"""\
        [workspace]
        name = "t"
        default_toolchain = "fake"
        plugin_dirs = ["plugins"]

        [workspace.toolchains.fake]
        version = "{version}"

        [s]
        rule = "stamp"
        outs = ["s.txt"]
        """})


def test_toolchain_fingerprint_enters_the_key(ws):
    (ws.root / "plugins").mkdir(parents=True)
    (ws.root / "plugins" / "fake_tc.py").write_text(PLUGIN)
    _fake_ws(ws, "1")
    r = ws.run("build", "//:s")
    assert r.returncode == 0, r.stderr
    assert [e["label"] for e in ws.executed()] == ["//:s"]
    k1 = ws.executed()[0]["key"]
    _fake_ws(ws, "2")  # same argv, inputs, outputs; only the fingerprint differs
    r = ws.run("build", "//:s")
    assert r.returncode == 0, r.stderr
    assert [e["label"] for e in ws.executed()] == ["//:s"]
    assert ws.executed()[0]["key"] != k1
    _fake_ws(ws, "1")
    r = ws.run("build", "//:s")
    assert r.returncode == 0, r.stderr
    fin = ws.finished()
    assert fin["actions"]["executed"] == 0 and fin["actions"]["cached"] == 1
