"""A stand-in for Molt's command line (adpena/molt, 2026-12), for the tests of the
documented Molt lanes: `molt build` accepts exactly Molt's flags and rejects any other
(exit 2), so the declaration is checked against the real interface. It "compiles" a
native program into a script that CPython runs, and a wasm one into an empty module.
Each build is recorded in $MOLT_CACHE/builds.log (the compiler's private state)."""
import argparse
import json
import os
import sys


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="molt", allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", allow_abbrev=False)
    b.add_argument("entry")
    b.add_argument("--target", default="native")
    b.add_argument("--build-profile", choices=("dev", "release"), default="release")
    b.add_argument("--profile", choices=("cloudflare", "browser", "wasi", "fastly"))
    b.add_argument("--output")
    b.add_argument("--out-dir")
    b.add_argument("--cache", dest="cache", action="store_true", default=None)
    b.add_argument("--no-cache", dest="cache", action="store_false")
    b.add_argument("--cache-dir")
    b.add_argument("--rebuild", action="store_true")
    b.add_argument("--capabilities")
    b.add_argument("--respect-pythonpath", action="store_true")
    b.add_argument("--json", action="store_true")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    out = args.output or os.path.join(args.out_dir or ".", os.path.splitext(os.path.basename(args.entry))[0])
    cache = os.environ.get("MOLT_CACHE")
    if cache:
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, "builds.log"), "a") as f:
            f.write(json.dumps({"target": args.target, "build_profile": args.build_profile,
                                "capabilities": args.capabilities,
                                "daemon": os.environ.get("MOLT_BACKEND_DAEMON")}) + "\n")
    if args.target == "wasm" or args.target.startswith("wasm32"):
        with open(out, "wb") as f:
            f.write(b"\0asm\x01\0\0\0")
        return 0
    with open(args.entry) as f:
        source = f.read()
    with open(out, "w") as f:
        f.write(f"#!/usr/bin/env python3\n# molt --build-profile {args.build_profile}\n{source}")
    os.chmod(out, 0o755)
    return 0
