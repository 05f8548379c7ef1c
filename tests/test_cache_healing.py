"""A cache that heals instead of lying or crashing: bit rot in a blob is caught before it
spreads (the producer runs again, the right bytes come out, in this checkout and in a
fresh one), a damaged database is moved aside with one warning, and `cache clear` /
`cache prune` running between concurrent builds never break them."""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time

from conftest import HEADER

LIB = {
    "BUILD.toml": HEADER + """\
[value]
rule = "c_library"
srcs = ["value.c"]
hdrs = ["value.h"]

[app]
rule = "c_binary"
srcs = ["main.c"]
deps = [":value"]
""",
    "value.h": "int value(void);\n",
    "value.c": "int value(void) { return 1528; }\n",
    "main.c": '#include <stdio.h>\n#include "value.h"\nint main(void) { printf("%d\\n", value()); return 0; }\n',
}


def blob_of(ws, rel: str) -> str:
    """The CAS blob an output was materialized from (a hard link: the same inode)."""
    ino = os.stat(ws.out(rel)).st_ino
    found = [os.path.join(root, f) for root, _dirs, files in os.walk(ws.cache / "cas") for f in files
             if os.stat(os.path.join(root, f)).st_ino == ino]
    assert len(found) == 1, f"no blob shares {rel}'s inode"
    return found[0]


def rot_in_place(path: str, data: bytes) -> None:
    """Overwrite a file's first bytes, keeping its size and modification time."""
    st = os.stat(path)
    os.chmod(path, 0o644)
    fd = os.open(path, os.O_WRONLY)
    os.write(fd, data)
    os.close(fd)
    os.chmod(path, st.st_mode & 0o777)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size


def run_app(ws) -> str:
    return subprocess.run([str(ws.out("app"))], capture_output=True, text=True, timeout=30).stdout.strip()


def test_bit_rot_in_an_archive_is_rebuilt_not_linked(ws, make_ws):
    ws.write(LIB)
    assert ws.run("build", "//:app").returncode == 0
    assert run_app(ws) == "1528"
    # An archive with the other value, same size: what bit rot that keeps size looks like.
    other = make_ws("other", cache="other-cache").write({**LIB, "value.c": "int value(void) { return 1535; }\n"})
    assert other.run("build", "//:value").returncode == 0
    rotten = other.out("libvalue.a").read_bytes()
    blob = blob_of(ws, "libvalue.a")
    assert len(rotten) == os.path.getsize(blob)
    rot_in_place(blob, rotten)
    # An edit that relinks the program: the archive is staged into a new exec root.
    edited = LIB["main.c"].replace('"%d', '"value %d')
    ws.write({"main.c": edited})
    r = ws.run("build", "//:app")
    assert r.returncode == 0, r.stderr
    assert "libvalue.a was corrupt in the cache" in r.stderr, r.stderr
    assert run_app(ws) == "value 1528"
    executed = {e["mnemonic"] for e in ws.executed()}
    assert {"CcArchive", "CcLink"} <= executed
    assert [e for e in ws.events() if e["event"] == "cache_corrupt"]
    # A fresh checkout on the same cache gets the right program, from the cache.
    fresh = make_ws("fresh").write({**LIB, "main.c": edited})
    r = fresh.run("build", "//:app")
    assert r.returncode == 0, r.stderr
    assert run_app(fresh) == "value 1528"
    r = ws.run("cache", "verify")
    assert r.returncode == 0 and "0 corrupt" in r.stdout, r.stdout + r.stderr


def test_a_rotten_output_in_a_fresh_checkout_is_rebuilt(ws, make_ws):
    ws.write(LIB)
    assert ws.run("build", "//:app").returncode == 0
    blob = blob_of(ws, "app")
    rot_in_place(blob, b"\0\0\0\0")
    fresh = make_ws("fresh").write(LIB)
    r = fresh.run("build", "//:app")
    assert r.returncode == 0, r.stderr
    assert "corrupt" in r.stderr
    assert run_app(fresh) == "1528"
    assert [e["mnemonic"] for e in fresh.executed()] == ["CcLink"]


CHAIN = {"BUILD.toml": HEADER + """\
[gen]
rule = "genrule"
srcs = ["in.txt"]
outs = ["gen.txt"]
cmd = "cat $< > $@"

[use]
rule = "genrule"
srcs = [":gen"]
outs = ["use.txt"]
cmd = "cat $< > $@"
""", "in.txt": "payload\n"}


def test_garbage_in_the_result_column_is_a_miss_and_a_warning(ws):
    ws.write(CHAIN)
    assert ws.run("build", "//:use").returncode == 0
    db = sqlite3.connect(ws.cache / "actions.db")
    db.execute("UPDATE actions SET result = 'not json {'")
    db.commit()
    db.close()
    shutil.rmtree(ws.root / "moltb-out")
    r = ws.run("build", "//:use")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "damaged action cache row" in r.stderr
    assert ws.out("use.txt").read_text() == "payload\n"
    r = ws.run("cache", "verify")
    assert "Traceback" not in r.stderr and r.returncode in (0, 1), r.stderr


def test_a_damaged_database_is_moved_aside_and_the_build_goes_on(ws):
    ws.write(CHAIN)
    assert ws.run("build", "//:use").returncode == 0
    db = ws.cache / "actions.db"
    rng = random.Random(7)
    with open(db, "r+b") as f:
        f.seek(0)
        f.write(bytes(rng.randrange(256) for _ in range(8192)))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{db}{suffix}"):
            os.unlink(f"{db}{suffix}")
    shutil.rmtree(ws.root / "moltb-out")
    r = ws.run("build", "//:use")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("WARNING") and "damaged" in line]
    assert len(warnings) == 1, r.stderr
    assert [p for p in os.listdir(ws.cache) if p.startswith("actions.db.corrupt-")]
    assert ws.out("use.txt").read_text() == "payload\n"
    assert [e for e in ws.events() if e["event"] == "cache_recovered"]
    # The next build is all hits from the fresh database.
    shutil.rmtree(ws.root / "moltb-out")
    r = ws.run("build", "//:use")
    assert r.returncode == 0 and "2 cached" in r.stderr, r.stderr


def test_cache_verify_checks_the_database_too(ws):
    ws.write(CHAIN)
    assert ws.run("build", "//:use").returncode == 0
    db = ws.cache / "actions.db"
    with open(db, "r+b") as f:
        f.seek(0)
        f.write(b"garbage" * 1000)
    r = ws.run("cache", "verify")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "damaged" in r.stdout and "Traceback" not in r.stderr
    r = ws.run("cache", "verify")
    assert r.returncode == 0 and "database: ok" in r.stdout, r.stdout + r.stderr


def test_a_blob_replaced_by_a_directory_is_rebuilt(ws, make_ws):
    ws.write(CHAIN)
    assert ws.run("build", "//:use").returncode == 0
    blob = blob_of(ws, "gen.txt")
    os.unlink(blob)
    os.mkdir(blob)
    fresh = make_ws("fresh").write(CHAIN)
    r = fresh.run("build", "//:use")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert fresh.out("use.txt").read_text() == "payload\n"


WIDTH = 12


def wide_build() -> dict:
    parts = [HEADER]
    for i in range(WIDTH):
        parts.append(f'[a{i}]\nrule = "genrule"\nsrcs = ["salt.txt"]\nouts = ["a{i}.txt"]\n'
                     f'cmd = "(cat $<; echo a{i}) > $@"\n\n')
        parts.append(f'[b{i}]\nrule = "genrule"\nsrcs = [":a{i}", ":a{(i + 1) % WIDTH}"]\nouts = ["b{i}.txt"]\n'
                     f'cmd = "cat $(SRCS) > $@; echo b{i} >> $@"\n\n')
    parts.append('[top]\nrule = "genrule"\nsrcs = [' + ", ".join(f'":b{i}"' for i in range(WIDTH)) +
                 ']\nouts = ["top.txt"]\ncmd = "cat $(SRCS) > $@"\n')
    return {"BUILD.toml": "".join(parts)}


def expected_top(salt: str) -> str:
    a = [f"{salt}a{i}\n" for i in range(WIDTH)]
    return "".join(a[i] + a[(i + 1) % WIDTH] + f"b{i}\n" for i in range(WIDTH))


def test_eight_builders_with_cache_clear_and_prune_between_them(make_ws):
    builders = [make_ws(f"w{i}").write(wide_build()) for i in range(8)]
    maint = builders[0]
    env = {"MOLTB_PRUNE_GRACE_S": "0"}
    for rnd in range(5):
        salt = f"salt {rnd}\n"
        for ws in builders:
            ws.write({"salt.txt": salt})
        procs = [ws.popen("build", "//:top", "-j", "2", f"--sandbox={'light' if n % 2 else 'auto'}")
                 for n, ws in enumerate(builders)]
        ops = []
        deadline = time.monotonic() + 120
        i = 0
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            cmd = ("cache", "clear") if i % 2 == 0 else ("cache", "prune", "--max-size", "1")
            ops.append(maint.run(*cmd, env=env))
            i += 1
            time.sleep(0.05)
        outs = [p.communicate(timeout=120) for p in procs]
        for ws, p, (out, err) in zip(builders, procs, outs):
            assert p.returncode == 0, err
            assert "Traceback" not in err and "Traceback" not in out, err
            assert ws.out("top.txt").read_text() == expected_top(salt)
        for r in ops:
            assert "Traceback" not in r.stderr, r.stderr
            assert r.returncode == 0, r.stderr
        assert ops, "the maintenance never overlapped the builds"


def test_lock_files_go_with_their_last_holder_and_prune_sweeps_stale_ones(ws):
    from molt_build.locks import KeyLocks, lock_dir
    ws.write(CHAIN)
    assert ws.run("build", "//:use").returncode == 0
    d = lock_dir(str(ws.cache))
    assert not os.path.exists(d), os.listdir(d)
    # A holder killed with SIGKILL leaves its lock file; prune removes it (not a held one).
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from molt_build.locks import KeyLocks
locks = KeyLocks({str(ws.cache)!r})
assert locks.try_acquire("a" * 32)
print("held", flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        live = KeyLocks(str(ws.cache))
        assert live.try_acquire("b" * 32)
        holder.kill()
        holder.wait()
        assert sorted(os.listdir(d)) == ["a" * 32 + ".lock", "b" * 32 + ".lock"]
        r = ws.run("cache", "prune", "--max-age", "30d", "--json")
        assert r.returncode == 0, r.stderr
        assert '"locks_removed": 1' in r.stdout, r.stdout
        assert os.listdir(d) == ["b" * 32 + ".lock"]          # held: kept
        live.release_all()
        assert not os.path.exists(d)
    finally:
        holder.kill()
        holder.wait()


def test_a_shard_directory_removed_between_mkdir_and_makedirs_check_is_made_again(tmp_path, monkeypatch):
    """The race the eight builders once hit: another process makes a CAS shard directory
    (mkdir fails with EEXIST here), then a `cache clear` removes it before makedirs
    checks that it is a directory. Storing a blob must still succeed."""
    from molt_build.cas import CAS
    from molt_build.digests import hash_bytes
    cas = CAS(str(tmp_path / "cache"))
    data = b"raced\n"
    digest = hash_bytes(data)
    shard = os.path.dirname(cas.path(digest))
    real_mkdir = os.mkdir
    raced = []

    def mkdir(path, mode=0o777, **kw):
        if os.fspath(path) == shard and not raced:
            raced.append(path)
            real_mkdir(path, mode)          # "another process" makes it ...
            os.rmdir(path)                  # ... and "cache clear" removes it
            raise FileExistsError(17, "File exists", path)
        return real_mkdir(path, mode, **kw)
    monkeypatch.setattr(os, "mkdir", mkdir)
    cas.put_bytes(data, digest)
    assert raced and cas.read_bytes(digest) == data


def test_a_lock_directory_removed_while_it_is_made_again_is_made_again(tmp_path, monkeypatch):
    """The same race on the per-cache lock directory: its last holder removes it while
    another process makes it again. Taking a lock must still succeed."""
    from molt_build.locks import KeyLocks
    (tmp_path / "cache").mkdir()
    locks = KeyLocks(str(tmp_path / "cache"))
    shutil.rmtree(locks.dir)
    real_mkdir = os.mkdir
    raced = []

    def mkdir(path, mode=0o777, **kw):
        if os.fspath(path) == locks.dir and not raced:
            raced.append(path)
            real_mkdir(path, mode)
            os.rmdir(path)
            raise FileExistsError(17, "File exists", path)
        return real_mkdir(path, mode, **kw)
    monkeypatch.setattr(os, "mkdir", mkdir)
    assert locks.try_acquire("k" * 32) and raced
    locks.release_all()
