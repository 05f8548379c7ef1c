"""A build killed with SIGKILL at any moment never leaves a corrupt or partial cache
entry: real `moltb` processes, killed (with their whole process group) after a random
delay, then the cache is verified, and finally every output is checked byte for byte."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time
import pytest

from conftest import HEADER, SANDBOXES, kill_named, procs_named, unique_sleep, wait_for




SEED = 20240611
ROUNDS = 20
MAX_DELAY_S = 1.5
WIDTH = 10            # three layers of WIDTH genrules
LINES = 150


def _build_file() -> str:
    parts = [HEADER]
    for i in range(WIDTH):
        parts.append(f"""\
[a{i}]
rule = "genrule"
srcs = ["salt.txt"]
outs = ["a{i}.txt"]
cmd = "sleep 0.05; s=$$(cat $<); seq 1 {LINES} | sed \\"s/^/a{i} $$s line /\\" > $@"

""")
    for i in range(WIDTH):
        parts.append(f"""\
[b{i}]
rule = "genrule"
srcs = [":a{i}", ":a{(i + 1) % WIDTH}"]
outs = ["b{i}.txt"]
cmd = "sleep 0.05; cat $(SRCS) > $@; echo b{i} >> $@"

""")
    for i in range(WIDTH):
        parts.append(f"""\
[c{i}]
rule = "genrule"
srcs = [":b{i}", ":b{(i + 3) % WIDTH}"]
outs = ["c{i}.txt"]
cmd = "sleep 0.05; cat $(SRCS) > $@; echo c{i} >> $@"

""")
    return "".join(parts)


def _expected(salt: str) -> dict[str, str]:
    out = {}
    for i in range(WIDTH):
        out[f"a{i}.txt"] = "".join(f"a{i} {salt} line {n}\n" for n in range(1, LINES + 1))
    for i in range(WIDTH):
        out[f"b{i}.txt"] = out[f"a{i}.txt"] + out[f"a{(i + 1) % WIDTH}.txt"] + f"b{i}\n"
    for i in range(WIDTH):
        out[f"c{i}.txt"] = out[f"b{i}.txt"] + out[f"b{(i + 3) % WIDTH}.txt"] + f"c{i}\n"
    return out


def _rows(cache) -> int:
    db = sqlite3.connect(os.path.join(cache, "actions.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT count(*) FROM actions").fetchone()[0]
    finally:
        db.close()


def _verify(ws, why: str) -> dict:
    r = ws.run("cache", "verify", "--json")
    assert r.returncode == 0, f"{why}: {r.stdout}{r.stderr}"
    report = json.loads(r.stdout)
    assert report["corrupt"] == [], why
    assert report["rows_dropped"] == 0, f"{why}: an entry named a blob that was never stored"
    return report


def _build_and_check(ws, salt: str, why: str) -> dict:
    ws.write({"salt.txt": salt + "\n"})
    r = ws.run("build", "//...", "-j", "2", timeout=120)
    assert r.returncode == 0, f"{why}: {r.stderr}"
    fin = ws.finished()
    assert fin["actions"]["total"] == 3 * WIDTH and fin["actions"]["failed"] == 0
    for name, text in _expected(salt).items():
        assert ws.out(name).read_text() == text, f"{why}: {name}"
    return fin


def test_sigkill_at_random_moments_never_corrupts_the_cache(ws):
    rng = random.Random(SEED)
    ws.write({"BUILD.toml": _build_file(), "salt.txt": "initial\n"})
    killed = partial = 0
    rows_before = 0
    for n in range(ROUNDS):
        salt = f"round-{n}"
        ws.write({"salt.txt": salt + "\n"})
        delay = rng.uniform(0, MAX_DELAY_S)
        why = f"seed {SEED}, round {n}, SIGKILL after {delay:.3f}s"
        p = ws.popen("build", "//...", "-j", "2", start_new_session=True)
        try:
            time.sleep(delay)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        assert "Traceback" not in err, f"{why}: {err}"
        assert p.returncode in (0, -signal.SIGKILL), f"{why}: {p.returncode} {err}"
        _verify(ws, why)
        rows = _rows(ws.cache)
        if p.returncode == -signal.SIGKILL:
            killed += 1
            if 0 < rows - rows_before < 3 * WIDTH:
                partial += 1
        rows_before = rows
    # The rounds really did kill builds, several of them in the middle of executing actions.
    assert killed >= ROUNDS // 2, killed
    assert partial >= 3, partial

    # After the last round: a complete build with exactly the right bytes everywhere.
    fin = _build_and_check(ws, f"round-{ROUNDS - 1}", "final build")
    assert fin["actions"]["cached"] + fin["actions"]["executed"] == 3 * WIDTH
    # Results stored by killed rounds are served as hits; whatever is served must be right.
    for n in sorted(rng.sample(range(ROUNDS - 1), 2)):
        _build_and_check(ws, f"round-{n}", f"rebuild of round {n}")
    _verify(ws, "after the rebuilds")
    # And a second build of the final state is all hits.
    fin = _build_and_check(ws, f"round-{ROUNDS - 1}", "no-op build")
    assert fin["actions"]["executed"] == 0


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_sigkill_of_moltb_kills_the_actions_it_was_running(ws, sandbox):
    sleeps = [unique_sleep(120 + i) for i in (1, 2)]
    ws.write({"BUILD.toml": HEADER + "".join(
        f'[s{i}]\nrule = "genrule"\nouts = ["s{i}.txt"]\ncmd = "{sleeps[i - 1]}; echo > $@"\n\n' for i in (1, 2))})
    p = ws.popen("build", "//...", "-j", "2", f"--sandbox={sandbox}", start_new_session=True)
    try:
        assert wait_for(lambda: all(procs_named(s) for s in sleeps), within=60, proc=p), "the actions never started"
        # moltb tells the reaper about an action right after spawning it: a kill within
        # those microseconds (or before the first spawn has started the reaper) is not
        # covered in the light sandbox. Kill it while the actions are well under way.
        time.sleep(0.5)
        os.kill(p.pid, signal.SIGKILL)          # moltb alone: its actions have their own sessions
        p.wait(timeout=10)
        assert wait_for(lambda: not any(procs_named(s) for s in sleeps), within=10), \
            "actions outlived the killed build"
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        for s in sleeps:
            kill_named(s)
        p.stdout.close()
        p.stderr.close()
    # The next build runs them again (nothing of the killed run was kept) and succeeds.
    text = (ws.root / "BUILD.toml").read_text()
    for s in sleeps:
        text = text.replace(s, "sleep 0")
    ws.write({"BUILD.toml": text})
    r = ws.run("build", "//...")
    assert r.returncode == 0, r.stderr
