"""mc: the compiler the molt_format cases are checked with.

    mc.py [--stdlib-profile P] SRC OUT   compile: OUT is an executable script of SRC
    mc.py --run OUT ...                  run OUT as a program of the wasm-platform lane

A program runs under the interpreter that ran mc (so a lane whose compiler runs under
CPython 3.12 makes programs that behave as 3.12 does), with MC_COMPILED=1 in its
environment, MC_STDLIB_PROFILE=<P> when compiled with a stdlib profile, and
MC_PLATFORM=wasm when run through --run: the cases use these to
behave as a candidate that differs from CPython would. A line holding
`mc: unsupported` makes mc refuse the program (a compile error, exit 1)."""
import os
import sys


def compile_program(src: str, out: str, stdlib_profile: str = "") -> int:
    with open(src) as f:
        text = f.read()
    for n, line in enumerate(text.splitlines(), 1):
        if "mc: unsupported" in line:
            print(f"{src}:{n}: mc does not support this construct", file=sys.stderr)
            return 1
    with open(out, "w") as f:
        profile = f" MC_STDLIB_PROFILE={stdlib_profile}" if stdlib_profile else ""
        f.write(f"#!/usr/bin/env -S MC_COMPILED=1{profile} {os.path.basename(sys.executable)}\n" + text)
    os.chmod(out, 0o755)
    return 0


def run_program(program: str, args: list[str]) -> None:
    os.environ.update(MC_COMPILED="1", MC_PLATFORM="wasm")
    os.execv(sys.executable, [sys.executable, program, *args])


if __name__ == "__main__":
    if sys.argv[1] == "--run":
        run_program(sys.argv[2], sys.argv[3:])
    if sys.argv[1] == "--stdlib-profile":
        sys.exit(compile_program(sys.argv[3], sys.argv[4], sys.argv[2]))
    sys.exit(compile_program(sys.argv[1], sys.argv[2]))
