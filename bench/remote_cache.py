#!/usr/bin/env python3
"""A fresh checkout served by a REAPI remote cache, against one served by a warm local
cache, on the 2,051-action C workspace (gen_peers.py).

A BuildGrid server (disk CAS, LRU action cache) is started on loopback. Copy A builds
cold with `--remote` (uploading every result). Then, timed:
  remote   copy B at another path, its own empty local cache, `--remote` (every action
           a remote hit: outputs fetched, checked and put in B's local cache);
  local    copy C at another path on A's local cache (every action a local hit);
and the cold build of A with and without uploading (the cost of `--remote` for the
first builder).

  bench/remote_cache.py [--gen PATH] [--compiler system|zig] [--record]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import DEFAULT_GEN, moltb_cmd, record  # noqa: E402
from shared_cache import finished, gen  # noqa: E402

CONFIG = """\
server: [!channel {{address: "127.0.0.1:{port}", insecure-mode: true}}]
authorization: {{method: none}}
monitoring: {{enabled: false}}
storages: [!disk-storage &cas {{path: {cas}}}]
caches: [!lru-action-cache &ac {{storage: *cas, max-cached-refs: 1000000}}]
instances:
  - name: ""
    services: [!cas {{storage: *cas}}, !bytestream {{storage: *cas}}, !action-cache {{cache: *ac}}]
"""


def start_buildgrid(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (root / "bgd-cas").mkdir()
    (root / "bgd.yml").write_text(CONFIG.format(port=port, cas=root / "bgd-cas"))
    bgd = shutil.which("bgd") or str(Path(sys.executable).with_name("bgd"))
    proc = subprocess.Popen([bgd, "server", "start", str(root / "bgd.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"grpc://127.0.0.1:{port}"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("BuildGrid did not start")


def build(ws: Path, cache: Path, *extra: str) -> tuple[float, dict]:
    env = dict(os.environ, MOLTB_CACHE_DIR=str(cache))
    t = time.monotonic()
    subprocess.run([*moltb_cmd(), "build", "//...", "-q", *extra], cwd=ws, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t, finished(ws)["actions"]


def run(args, root: Path) -> dict:
    proc, url = start_buildgrid(root)
    res: dict = {}
    try:
        for name in ("plain", "a", "b", "c"):
            gen(args.gen, root / name, args.compiler)
        res["cold_plain"] = build(root / "plain", root / "cache-plain")
        res["cold_upload"] = build(root / "a", root / "cache-a", "--remote", url)
        res["remote"] = build(root / "b", root / "cache-b", "--remote", url)
        res["local"] = build(root / "c", root / "cache-a")
        same = subprocess.run(["cmp", root / "a/moltb-out/native-dev/app/app", root / "b/moltb-out/native-dev/app/app"])
        res["identical"] = same.returncode == 0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return res


def table(r: dict, compiler: str) -> str:
    n = r["remote"][1]["total"]
    rows = [("cold, no remote", r["cold_plain"]), ("cold, uploading to the remote", r["cold_upload"]),
            ("fresh checkout, empty local cache, remote cache", r["remote"]),
            ("fresh checkout, warm local cache", r["local"])]
    lines = [f"C workspace of {n} actions (gen_peers.py), compiler {compiler}, BuildGrid 0.4.4 on loopback "
             f"(disk CAS, LRU action cache). Binary of the remote-served checkout identical to the builder's: "
             f"{'yes' if r['identical'] else 'NO'}.", "",
             "| run | wall (s) | per action (ms) | executed | cached | of which remote |", "|---|---:|---:|---:|---:|---:|"]
    for name, (secs, acts) in rows:
        lines.append(f"| {name} | {secs:.2f} | {secs / n * 1000:.2f} | {acts['executed']} | {acts['cached']} | "
                     f"{acts.get('remote_cached', 0)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gen", type=Path, default=DEFAULT_GEN)
    ap.add_argument("--compiler", default="zig", choices=("zig", "system"))
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="moltb-remote."))
    try:
        text = table(run(args, root), args.compiler)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(text)
    if args.record:
        record("remote-cache.md", "A fresh checkout from a REAPI remote cache (bench/remote_cache.py)", text)


if __name__ == "__main__":
    main()
