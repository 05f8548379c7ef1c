"""REAPI remote execution (`--executor reapi://`) against BuildGrid's Execution service:
PostgreSQL (its scheduler's database) and BuildGrid are started here on free loopback
ports, with a small worker speaking the Bots API (tests/reapi_bot.py); all are stopped
at the end. A C program builds with every action run by the worker; the results land
in the server's cache, so another checkout with an empty cache runs nothing; a failing
action fails the build and is not cached."""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import HEADER, TempWorkspace, free_port, port_open, wait_for
from test_remote_cache import BGD, C_APP, statuses

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
HERE = Path(__file__).resolve().parent


def _why_not() -> str:
    if not os.path.exists(BGD):
        return "BuildGrid (bgd) is not installed"
    if not PG_BIN:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user"
    try:
        import psycopg2  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[dev]')"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")

CONFIG = """\
server: [!channel {{address: "127.0.0.1:{port}", insecure-mode: true}}]
authorization: {{method: none}}
monitoring: {{enabled: false}}
thread-pool-size: 50
connections:
  - !sql-connection &sql
    connection-string: postgresql+psycopg2://postgres@127.0.0.1:{pg}/bgd
storages: [!disk-storage &cas {{path: {cas}}}]
caches: [!lru-action-cache &ac {{storage: *cas, max-cached-refs: 100000}}]
schedulers:
  - !sql-scheduler &state
    sql: *sql
    storage: *cas
    action-cache: *ac
    bot-poll-interval: 0.05
instances:
  - name: ""
    services:
      - !cas {{storage: *cas}}
      - !bytestream {{storage: *cas}}
      - !action-cache {{cache: *ac}}
      - !execution {{scheduler: *state}}
"""


def as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)


@pytest.fixture
def farm(tmp_path):
    """PostgreSQL, BuildGrid with an Execution service, and one worker."""
    # Outside pytest's private tmp tree, which the postgres user cannot enter.
    pg_dir = Path(tempfile.mkdtemp(prefix="moltb-pg."))
    shutil.chown(pg_dir, "postgres")
    pg_port, port = free_port(), free_port()
    binary = PG_BIN[-1]
    procs: list[subprocess.Popen] = []
    as_postgres(f"{binary}/initdb", "-D", str(pg_dir / "data"), "-A", "trust", "-U", "postgres")
    as_postgres(f"{binary}/pg_ctl", "-D", str(pg_dir / "data"), "-l", str(pg_dir / "log"), "-w", "start", "-o",
                f"-p {pg_port} -k {pg_dir} -c listen_addresses=127.0.0.1")
    try:
        as_postgres(f"{binary}/createdb", "-h", "127.0.0.1", "-p", str(pg_port), "bgd")
        from sqlalchemy import create_engine

        from buildgrid.server.sql.models import Base
        engine = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/bgd")
        Base.metadata.create_all(engine)
        engine.dispose()
        (tmp_path / "cas").mkdir()
        cfg = tmp_path / "bgd.yml"
        cfg.write_text(CONFIG.format(port=port, pg=pg_port, cas=tmp_path / "cas"))
        log = open(tmp_path / "bgd.log", "w")
        procs.append(subprocess.Popen([BGD, "server", "start", str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
        assert wait_for(lambda: port_open(port), within=60, proc=procs[0]), \
            (tmp_path / "bgd.log").read_text()[-2000:]
        bot_log = open(tmp_path / "bot.log", "w")
        procs.append(subprocess.Popen([sys.executable, str(HERE / "reapi_bot.py"), f"127.0.0.1:{port}"],
                                      stdout=bot_log, stderr=subprocess.STDOUT, start_new_session=True))
        yield port
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        subprocess.run(["runuser", "-u", "postgres", "--", f"{binary}/pg_ctl", "-D", str(pg_dir / "data"), "-m",
                        "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(pg_dir, ignore_errors=True)


def test_actions_run_on_the_farm_and_their_results_are_shared(tmp_path, farm):
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache-a").write(C_APP)
    r = ws.run("build", "//...", "--executor", f"reapi://127.0.0.1:{farm}", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr + (tmp_path / "bot.log").read_text()[-2000:]
    runs = [e for e in ws.events() if e["event"] == "action_finished"]
    assert len(runs) == 5 and all(e["status"] == "executed" and e["worker"].startswith("moltb-test-bot-")
                                  for e in runs)
    assert subprocess.run([ws.out("app")], capture_output=True, text=True).stdout == "42\n"
    assert len(ws.out("big.bin").read_bytes()) == 6_000_000
    other = TempWorkspace(tmp_path / "b", tmp_path / "cache-b").write(C_APP)
    r = other.run("build", "//...", "--remote", f"grpc://127.0.0.1:{farm}")
    assert r.returncode == 0 and statuses(other) == {"remote_cached": 5}, r.stderr
    assert other.out("app").read_bytes() == ws.out("app").read_bytes()


def test_a_failing_action_fails_the_build_and_is_not_cached(tmp_path, farm):
    ws = TempWorkspace(tmp_path / "a", tmp_path / "cache").write(
        {"BUILD.toml": HEADER + '[x]\nrule = "genrule"\nouts = ["x.txt"]\ncmd = "echo oops >&2; exit 3"\n'})
    url = f"reapi://127.0.0.1:{farm}"
    r = ws.run("build", "//...", "--executor", url, timeout=300)
    assert r.returncode == 1 and "oops" in r.stderr and "0 results uploaded" in r.stderr, r.stderr
    r = ws.run("build", "//...", "--executor", url, timeout=300)
    assert r.returncode == 1 and statuses(ws) == {"failed": 1}, r.stderr
