"""Memory-aware scheduling: an action starts only when its RAM fits beside what runs
(`--local-ram-mb`), with estimates from the target's `resources`, else what the action
measured last time (the scheduler learns)."""
from __future__ import annotations

from datetime import datetime

from conftest import HEADER


def spans(ws) -> dict[str, tuple[float, float]]:
    def ts(e):
        return datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()
    started = {e["label"]: ts(e) for e in ws.events() if e["event"] == "action_started"}
    finished = {e["label"]: ts(e) for e in ws.events() if e["event"] == "action_finished"}
    return {label: (started[label], finished[label]) for label in started}


def overlapping(s: dict[str, tuple[float, float]]) -> bool:
    (a0, a1), (b0, b1) = s.values()
    return a0 < b1 and b0 < a1


def two(cmd: str, extra: str = "") -> dict:
    return {"BUILD.toml": HEADER + "".join(
        f'[s{i}]\nrule = "genrule"\nsrcs = ["salt.txt"]\nouts = ["s{i}.txt"]\ncmd = "{cmd}; cat $< > $@"\n{extra}\n'
        for i in (1, 2)), "salt.txt": "1\n"}


def test_declared_ram_that_does_not_fit_twice_runs_one_at_a_time(ws):
    ws.write(two("sleep 1", "resources = {ram_mb = 600}\n"))
    r = ws.run("build", "//...", "-j", "2", "--local-ram-mb", "1000")
    assert r.returncode == 0, r.stderr
    assert not overlapping(spans(ws)), spans(ws)
    assert {e["ram_mb"] for e in ws.events() if e["event"] == "action_started"} == {600}
    # With room for both, they run together.
    ws.write({"salt.txt": "2\n"})
    r = ws.run("build", "//...", "-j", "2", "--local-ram-mb", "1300")
    assert r.returncode == 0, r.stderr
    assert overlapping(spans(ws)), spans(ws)


def test_the_scheduler_learns_an_actions_peak_rss(ws):
    hog = "python3 -c 'x = bytearray(300 << 20); x[::4096] = bytes(len(x[::4096])); import time; time.sleep(1)'"
    ws.write(two(hog))
    r = ws.run("build", "//...", "-j", "2", "--local-ram-mb", "500")
    assert r.returncode == 0, r.stderr
    assert overlapping(spans(ws)), "with nothing learned yet, the small default estimate lets both run"
    ws.write({"salt.txt": "2\n"})
    r = ws.run("build", "//...", "-j", "2", "--local-ram-mb", "500")
    assert r.returncode == 0, r.stderr
    estimates = [e["ram_mb"] for e in ws.events() if e["event"] == "action_started"]
    assert all(300 <= m < 400 for m in estimates), estimates
    assert not overlapping(spans(ws)), spans(ws)


def test_an_action_bigger_than_the_budget_still_runs_alone(ws):
    ws.write(two("true", "resources = {ram_mb = 5000}\n"))
    r = ws.run("build", "//...", "-j", "2", "--local-ram-mb", "1000")
    assert r.returncode == 0, r.stderr
    assert not overlapping(spans(ws))


def test_bad_resources_are_errors_naming_the_field(ws):
    ws.write(two("true", "resources = {ram_mb = -1}\n"))
    r = ws.run("build", "//...")
    assert r.returncode == 2 and "resources" in r.stderr and "Traceback" not in r.stderr, r.stderr
    ws.write(two("true"))
    r = ws.run("build", "//...", "--local-ram-mb", "0")
    assert r.returncode == 2 and "local-ram-mb" in r.stderr, r.stderr


def test_test_runs_are_bounded_and_learned_too(ws):
    hog = "python3 -c 'x = bytearray(300 << 20); x[::4096] = bytes(len(x[::4096])); import time; time.sleep(1)'\n"
    ws.write({"BUILD.toml": HEADER + "".join(f'[t{i}]\nrule = "sh_test"\nsrc = "t.sh"\nsrcs = ["salt.txt"]\n\n'
                                             for i in (1, 2)), "t.sh": hog, "salt.txt": "1\n"})
    # The rule's default estimate for a test run (512 MiB) does not fit twice in 800.
    r = ws.run("test", "//...", "-j", "2", "--local-ram-mb", "800")
    assert r.returncode == 0, r.stderr
    assert not overlapping(spans(ws)), spans(ws)
    # Learned: about 300 MiB each, so two fit in 800.
    ws.write({"salt.txt": "2\n"})
    r = ws.run("test", "//...", "-j", "2", "--local-ram-mb", "800")
    assert r.returncode == 0, r.stderr
    estimates = [e["ram_mb"] for e in ws.events() if e["event"] == "action_started"]
    assert all(300 <= m < 400 for m in estimates), estimates
    assert overlapping(spans(ws)), spans(ws)
