"""Run a WASI program under wasmtime, as a native program would run:

    python -m molt_build.toolchains.wasi_run [--precompiled] [engine flags] -- MODULE [ARGS...]

Arguments and the environment pass through, the current directory is visible to the
program (WASI preopen of "."), stdin/stdout/stderr are the process's own (so a caller
captures them to files by redirecting), and the exit code is the program's
`proc_exit` status (0 when `_start` returns). `--precompiled` loads a Cranelift
`.cwasm` with an engine of the given settings."""
from __future__ import annotations

import os
import sys

from molt_build.toolchains.wasm_engine import make_engine, parse_engine_flags

TRAP_EXIT = 134   # like a native program killed by SIGABRT


def main(argv: list[str]) -> int:
    precompiled = False
    if argv and argv[0] == "--precompiled":
        precompiled = True
        argv = argv[1:]
    settings, rest = parse_engine_flags(argv)
    if rest and rest[0] == "--":
        rest = rest[1:]
    if not rest:
        sys.stderr.write("usage: wasi_run [--precompiled] [engine flags] -- MODULE [ARGS...]\n")
        return 2
    path, args = rest[0], rest[1:]
    import wasmtime
    engine = make_engine(settings)
    with open(path, "rb") as f:
        data = f.read()
    try:
        module = wasmtime.Module.deserialize(engine, data) if precompiled else wasmtime.Module(engine, data)
    except wasmtime.WasmtimeError as e:
        sys.stderr.write(f"{path}: cannot load: {e}\n")
        return 126
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [os.path.basename(path), *args]
    wasi.env = [[k, v] for k, v in os.environ.items()]
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    wasi.preopen_dir(".", ".")
    store.set_wasi(wasi)
    try:
        instance = linker.instantiate(store, module)
        instance.exports(store)["_start"](store)
        return 0
    except wasmtime.ExitTrap as e:
        return e.code
    except wasmtime.Trap as e:
        sys.stdout.flush()
        sys.stderr.write(f"wasm trap: {e}\n")
        return TRAP_EXIT


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)   # the exit status is the program's, whatever interpreter teardown would do
