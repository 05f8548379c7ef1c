"""A small compiler for the tests of workspace lanes: it "compiles" a Python case into an
executable script. BROKEN makes it miscompile (every ` + ` becomes ` - `), as a
compiler under development sometimes does."""
import os
import sys

BROKEN = False


def main() -> int:
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as f:
        text = f.read()
    if BROKEN:
        text = text.replace(" + ", " - ")
    with open(out, "w") as f:
        f.write("#!/usr/bin/env python3\n" + text)
    os.chmod(out, 0o755)
    return 0
