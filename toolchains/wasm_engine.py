"""A wasmtime Engine from the flags the cranelift toolchain validated (`--opt-level`,
`--wasm-simd` / `--no-wasm-simd`, ...): one builder for compiling and for running, so
a .cwasm is always loaded by an engine configured as the one that made it."""
from __future__ import annotations


def parse_engine_flags(argv: list[str]) -> tuple[dict, list[str]]:
    """(settings, remaining argv) from leading engine flags."""
    settings: dict = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--opt-level":
            settings["opt_level"] = argv[i + 1]
            i += 2
        elif a.startswith("--no-wasm-"):
            settings[a[5:].replace("-", "_")] = False
            i += 1
        elif a.startswith("--wasm-"):
            settings[a[2:].replace("-", "_")] = True
            i += 1
        else:
            break
    return settings, argv[i:]


def make_engine(settings: dict):
    import wasmtime
    cfg = wasmtime.Config()
    if "opt_level" in settings:
        cfg.cranelift_opt_level = settings["opt_level"]
    for name, value in settings.items():
        if name.startswith("wasm_"):
            setattr(cfg, name, value)
    return wasmtime.Engine(cfg)


def check_main(argv: list[str]) -> int:
    """`python -m molt_build.toolchains.wasm_engine FLAGS...`: build an engine with the
    flags and compile an empty module. Run in a child process: an invalid
    configuration may abort (a Rust panic) rather than raise."""
    import wasmtime
    settings, rest = parse_engine_flags(argv)
    if rest:
        print(f"unknown engine flags: {rest}")
        return 2
    try:
        wasmtime.Module(make_engine(settings), b"\0asm\x01\0\0\0")
    except wasmtime.WasmtimeError as e:
        print(str(e).splitlines()[0])
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(check_main(sys.argv[1:]))
