"""The `moltb` console entry point. A `moltb build` that has nothing to do is answered
here, before the CLI framework and the build engine are imported."""
from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    try:
        if args[:1] == ["build"]:
            from molt_build.noop import try_fast_build
            rc = try_fast_build(args[1:])
            if rc is not None:
                sys.exit(rc)
        from molt_build.cli import run
        run()
    except KeyboardInterrupt:
        sys.stderr.write("\nERROR: interrupted\n")
        sys.exit(8)


if __name__ == "__main__":
    main()
