"""Cranelift ahead-of-time compilation, run as an action:

    python -m molt_build.toolchains.cranelift_aot [engine flags] IN.wasm OUT.cwasm

The output is wasmtime's serialized module (an ELF with machine code); it is
deterministic for the same input, wasmtime version, settings and host CPU."""
from __future__ import annotations

import sys

from molt_build.toolchains.wasm_engine import make_engine, parse_engine_flags


def main(argv: list[str]) -> int:
    settings, rest = parse_engine_flags(argv)
    if len(rest) != 2:
        sys.stderr.write("usage: cranelift_aot [engine flags] IN.wasm OUT.cwasm\n")
        return 2
    src, dst = rest
    import wasmtime
    engine = make_engine(settings)
    with open(src, "rb") as f:
        wasm = f.read()
    try:
        module = wasmtime.Module(engine, wasm)
    except wasmtime.WasmtimeError as e:
        sys.stderr.write(f"{src}: not a valid wasm module: {e}\n")
        return 1
    with open(dst, "wb") as f:
        f.write(module.serialize())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
