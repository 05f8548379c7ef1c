"""The `moltb` console entry point. `moltb build` and `moltb test` with everyday flags
are answered here: a no-op build from the snapshot alone, anything else by the engine
directly. The CLI
framework (and its imports) is loaded only for other commands, `--help`, and flags
the quick parser does not know (it then parses and reports them)."""
from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    try:
        if args[:1] == ["build"] and "--help" not in args and "-h" not in args:
            from molt_build.noop import try_fast_build
            rc = try_fast_build(args[1:])
            if rc is not None:
                sys.exit(rc)
            from molt_build.build import run_build
            from molt_build.build_request import request_from_args
            req = request_from_args(args[1:])
            if req is not None:
                sys.exit(run_build(req).exit_code)
        if args[:1] == ["test"] and "--help" not in args and "-h" not in args:
            from molt_build.build import run_build
            from molt_build.build_request import request_from_test_args
            req = request_from_test_args(args[1:])
            if req is not None:
                sys.exit(run_build(req).exit_code)
        from molt_build.cli import run
        run()
    except KeyboardInterrupt:
        sys.stderr.write("\nERROR: interrupted\n")
        sys.exit(8)
    except Exception as e:      # never a traceback: 36 for the machine, 37 for a bug (crash.py)
        from molt_build import crash
        sys.exit(crash.handle(e, command=" ".join(args[:1])))

if __name__ == "__main__":
    main()
