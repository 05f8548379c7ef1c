"""The content-addressed store and the action cache: atomic, verified, shared."""
from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading

import pytest

from molt_build import cas as cas_mod
from molt_build.cas import CAS
from molt_build.digests import hash_bytes
from conftest import HEADER, UPPER


# --------------------------------------------------------------------------- CAS


def test_cas_put_bytes_is_content_addressed_and_read_only(tmp_path):
    cas = CAS(str(tmp_path / "cache"))
    data = b"some bytes\n"
    d = hash_bytes(data)
    p = cas.put_bytes(data, d)
    assert p == cas.path(d)
    assert os.path.basename(p) == d and p.startswith(str(tmp_path / "cache" / "cas"))
    assert open(p, "rb").read() == data
    assert cas.has(d) and cas.read_bytes(d) == data
    assert not (os.stat(p).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    assert os.listdir(tmp_path / "cache" / "tmp") == []
    # An existing entry is never rewritten.
    ino = os.stat(p).st_ino
    cas.put_bytes(data, d)
    assert os.stat(p).st_ino == ino


def test_cas_put_file_moves_and_marks_executables(tmp_path):
    cas = CAS(str(tmp_path / "cache"))
    src = tmp_path / "tool.sh"
    src.write_bytes(b"#!/bin/sh\necho hi\n")
    d = hash_bytes(src.read_bytes())
    p = cas.put_file(str(src), d, executable=True, move=True)
    assert not src.exists()
    assert p == cas.path(d, True) and p != cas.path(d, False)
    assert open(p, "rb").read() == b"#!/bin/sh\necho hi\n"
    assert os.stat(p).st_mode & stat.S_IXUSR
    assert not cas.has(d, executable=False)
    # Same digest again: the existing blob stays, the source is consumed.
    src.write_bytes(b"#!/bin/sh\necho hi\n")
    ino = os.stat(p).st_ino
    assert cas.put_file(str(src), d, executable=True, move=True) == p
    assert not src.exists() and os.stat(p).st_ino == ino


def test_cas_failed_write_leaves_no_entry(tmp_path, monkeypatch):
    """A write that dies before the rename never leaves a partial blob under its digest."""
    cas = CAS(str(tmp_path / "cache"))
    data = b"x" * 100_000
    d = hash_bytes(data)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cas_mod.os, "replace", boom)
    with pytest.raises(OSError):
        cas.put_bytes(data, d)
    assert not cas.has(d)
    src = tmp_path / "f"
    src.write_bytes(data)
    with pytest.raises(OSError):
        cas.put_file(str(src), d, executable=False, move=False)
    assert not cas.has(d)


def test_cas_verify_detects_and_drops_a_corrupt_blob(tmp_path):
    cas = CAS(str(tmp_path / "cache"))
    data = b"good content\n"
    d = hash_bytes(data)
    p = cas.put_bytes(data, d)
    assert cas.verify(d)
    os.chmod(p, 0o644)
    with open(p, "wb") as f:
        f.write(b"evil content\n")  # same size
    assert not cas.verify(d)
    assert not cas.has(d)


def test_cas_concurrent_writers_of_one_blob_in_one_process(tmp_path):
    errors: list[str] = []
    for trial in range(30):
        cas = CAS(str(tmp_path / f"cache{trial}"))
        data = os.urandom(1 << 16)
        d = hash_bytes(data)
        barrier = threading.Barrier(6)

        def writer():
            barrier.wait()
            try:
                cas.put_bytes(data, d)
            except OSError as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=writer) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cas.read_bytes(d) == data
    assert errors == []


# ------------------------------------------------------------------ end to end



def _blobs(cache) -> list[str]:
    return [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(cache, "cas")) for f in fs]


def test_corrupt_blob_is_detected_reported_and_rebuilt(ws):
    ws.write(UPPER)
    r = ws.run("build", "//:upper")
    assert r.returncode == 0, r.stderr
    good = ws.out("upper.txt").read_bytes()
    assert good == b"HELLO\n"
    shutil.rmtree(ws.root / "moltb-out")
    blobs = _blobs(ws.cache)
    assert blobs
    for b in blobs:
        os.chmod(b, 0o644)
        size = os.path.getsize(b)
        with open(b, "wb") as f:
            f.write(b"Z" * size)   # same size, other bytes
    r = ws.run("build", "//:upper")
    assert r.returncode == 0, r.stderr
    assert "corrupt" in r.stderr.lower()
    assert ws.out("upper.txt").read_bytes() == good
    ev = ws.events()
    assert any(e["event"] == "cache_corrupt" for e in ev) or "corrupt" in r.stderr
    assert [e["label"] for e in ws.executed()] == ["//:upper"]
    # The cache is healthy again: from scratch, a pure cache hit with the right bytes.
    shutil.rmtree(ws.root / "moltb-out")
    r = ws.run("build", "//:upper")
    assert r.returncode == 0, r.stderr
    fin = ws.finished()
    assert fin["actions"]["executed"] == 0 and fin["actions"]["cached"] == 1
    assert "corrupt" not in r.stderr.lower()
    assert ws.out("upper.txt").read_bytes() == good


def test_missing_blob_is_treated_as_a_miss(ws):
    ws.write(UPPER)
    assert ws.run("build", "//:upper").returncode == 0
    shutil.rmtree(ws.root / "moltb-out")
    shutil.rmtree(os.path.join(ws.cache, "cas"))
    r = ws.run("build", "//:upper")
    assert r.returncode == 0, r.stderr
    assert ws.out("upper.txt").read_text() == "HELLO\n"


@pytest.mark.parametrize("remove", ["cas", "whole-cache"])
def test_deleted_cache_with_outputs_present_still_builds(ws, remove):
    ws.write(UPPER)
    assert ws.run("build", "//:use").returncode == 0
    if remove == "cas":
        shutil.rmtree(os.path.join(ws.cache, "cas"))
    else:
        shutil.rmtree(ws.cache)
    ws.write({"own.txt": "own 2\n"})
    r = ws.run("build", "//:use")
    assert r.returncode == 0, r.stderr
    assert ws.out("use.txt").read_text() == "HELLO\nown 2\n"


def test_action_cache_is_sqlite_in_wal_mode(ws):
    ws.write(UPPER)
    assert ws.run("build", "//:upper").returncode == 0
    db_path = os.path.join(ws.cache, "actions.db")
    assert os.path.isfile(db_path)
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_early_cutoff_unchanged_output_keeps_dependent_cached(ws):
    ws.write({"BUILD.toml": HEADER + """\
        [count]
        rule = "genrule"
        srcs = ["lines.txt"]
        outs = ["count.txt"]
        cmd = "wc -l < $< | tr -d ' ' > $@"

        [report]
        rule = "genrule"
        srcs = [":count"]
        outs = ["report.txt"]
        cmd = "echo lines: $$(cat $<) > $@"
        """, "lines.txt": "one\ntwo\nthree\n"})
    r = ws.run("build", "//:report")
    assert r.returncode == 0, r.stderr
    assert ws.out("report.txt").read_text() == "lines: 3\n"
    ws.write({"lines.txt": "uno\ndos\ntres, longer\n"})   # other content, same line count
    r = ws.run("build", "//:report")
    assert r.returncode == 0, r.stderr
    assert [e["label"] for e in ws.executed()] == ["//:count"]
    status = {e["label"]: e["status"] for e in ws.events() if e["event"] == "action_finished"}
    assert status == {"//:count": "executed", "//:report": "cached"}
    ws.write({"lines.txt": "uno\ndos\n"})   # the count changes: the dependent runs
    r = ws.run("build", "//:report")
    assert r.returncode == 0, r.stderr
    assert sorted(e["label"] for e in ws.executed()) == ["//:count", "//:report"]
    assert ws.out("report.txt").read_text() == "lines: 2\n"


def test_warm_cache_in_a_fresh_checkout_rebuilds_nothing(make_ws):
    a = make_ws("a").write(UPPER)
    assert a.run("build", "//...").returncode == 0
    b = make_ws("b").write(UPPER)
    r = b.run("build", "//...")
    assert r.returncode == 0, r.stderr
    assert b.finished()["actions"] == {"total": 2, "executed": 0, "cached": 2, "failed": 0}
    assert b.out("use.txt").read_text() == "HELLO\nown 1\n"


def test_concurrent_builds_sharing_a_cache_run_an_action_once(make_ws, tmp_path):
    runs = tmp_path / "runs.log"
    spec = {"BUILD.toml": HEADER + f"""\
        [slow]
        rule = "genrule"
        outs = ["s.txt"]
        tags = ["no-sandbox"]   # the run log is a side channel to the assertions
        cmd = "echo run >> {runs}; sleep 1; echo done > $@"
        """}
    a = make_ws("a").write(spec)
    b = make_ws("b").write(spec)
    pa = a.popen("build", "//:slow")
    pb = b.popen("build", "//:slow")
    _, ea = pa.communicate(timeout=60)
    _, eb = pb.communicate(timeout=60)
    assert pa.returncode == 0 and pb.returncode == 0, ea + eb
    assert a.out("s.txt").read_text() == b.out("s.txt").read_text() == "done\n"
    assert runs.read_text().count("run") == 1


def test_a_result_row_is_written_as_json_dumps_writes_it():
    """ActionResult.encode is written by hand (once per executed action): the same text
    json.dumps gives, for odd paths, large sizes, and the optional test fields."""
    import json
    from molt_build.action_cache import ActionResult
    rows = [ActionResult([("out/a b\"\u00e9\\.txt", "0" * 32, 4, False), ("x", "f" * 32, 10 ** 12, True)], 0, "",
                         "a" * 32, 0.12345678),
            ActionResult([], 0, "", "", 0),
            ActionResult([("p", "1" * 32, 1, True)], 0, "", "", 3.0, "XFAIL", 12, 99),
            ActionResult([("p", "1" * 32, 1, True)], 0, "", "", 1e-7)]
    for r in rows:
        row = [r.outputs, r.exit_code, r.stdout, r.stderr, round(r.duration, 4)]
        if r.status or r.max_rss_kb or r.peak_kb:
            row += [r.status, r.max_rss_kb, r.peak_kb]
        assert r.encode() == json.dumps(row, separators=(",", ":"))
        assert ActionResult.decode(r.encode()).outputs == r.outputs
