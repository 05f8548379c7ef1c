"""The `moltb` console entry point.

`moltb build` and `moltb test` go to the workspace's server (server_client.py) unless
`--no-server` or MOLTB_SERVER=0 say otherwise; the server runs them with `run_here`
in a process of its own. `run_here` answers a no-op build from the snapshot alone and
anything else by the engine directly. The CLI framework (and its imports) is loaded
only for other commands, `--help`, and flags the quick parser does not know (it then
parses and reports them)."""
from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    try:
        if args[:1] in (["build"], ["test"]):
            from molt_build import server_client
            if server_client.wanted(args[0], args[1:]):
                rc = server_client.run(args)
                if rc is not None:
                    _exit_now(rc)
        sys.exit(run_here(args))
    except KeyboardInterrupt:
        sys.stderr.write("\nERROR: interrupted\n")
        sys.exit(8)
    except Exception as e:      # never a traceback: 36 for the machine, 37 for a bug (crash.py)
        from molt_build import crash
        sys.exit(crash.handle(e, command=" ".join(args[:1])))


def _exit_now(rc: int) -> None:
    """Exit without tearing the interpreter down (the client has nothing to clean up:
    its command ran elsewhere)."""
    import os
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)


def run_here(args: list[str]) -> int:
    """Run one command line in this process; its exit code."""
    if args[:1] in (["build"], ["test"]) and "--help" not in args and "-h" not in args:
        from molt_build.build_request import request_from_args
        if args[0] == "build":
            from molt_build.noop import try_fast_build
            rc = try_fast_build(args[1:])
            if rc is not None:
                return rc
        req = request_from_args(args[1:], args[0])
        if req is not None:
            return run_request(req)
    from molt_build.cli import run
    try:
        run()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return 0


def run_request(req) -> int:
    """A parsed build or test request: once, or on every change with --watch."""
    if getattr(req, "watch", False):
        from molt_build.watch_loop import watch
        return watch(req)
    from molt_build.build import run_build
    return run_build(req).exit_code


if __name__ == "__main__":
    main()
