"""The built-in toolchains (native, wasm, cranelift and the Python lane), built and run
for real: `moltb run`, multi-toolchain builds,
reproducible outputs, WASI behaviour, availability reporting and cranelift settings."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import REPO, TempWorkspace

HELLO = "Hello, moltb!\n"
C_TOOLCHAINS = ("native", "wasm", "cranelift")


def copy_examples(ws: TempWorkspace) -> None:
    shutil.copytree(REPO / "examples", ws.root / "examples")


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    assert "panicked" not in r.stderr, r.stderr


def workspace_toml(settings: str = "", extra: str = "") -> str:
    return '[workspace]\nname = "t"\n' + extra + (f"\n{settings}\n" if settings else "")


def toolchain_listing(ws: TempWorkspace, **env) -> dict[str, list[str]]:
    """`moltb toolchains` as {name: [its lines]}."""
    r = ws.run("toolchains", env=env or None)
    assert r.returncode == 0, r.stderr
    no_traceback(r)
    out: dict[str, list[str]] = {}
    name = None
    for line in r.stdout.splitlines():
        if line and not line.startswith(" "):
            name = line.split(":", 1)[0]
            out[name] = [line]
        else:
            assert name is not None, r.stdout
            out[name].append(line)
    return out


def fingerprint(ws: TempWorkspace, name: str) -> str:
    lines = toolchain_listing(ws)[name]
    assert lines[0] == f"{name}: available", lines
    (fp,) = [line.split("fingerprint:", 1)[1].strip() for line in lines if "fingerprint:" in line]
    return fp


def keys_by_action(ws: TempWorkspace) -> dict[tuple[str, str], str]:
    return {(e["label"], e["mnemonic"]): e["key"] for e in ws.events() if e["event"] == "action_finished"}


# --------------------------------------------------------------------- the example


def test_run_hello_on_every_toolchain_then_build_all_three(ws):
    copy_examples(ws)
    for tc in C_TOOLCHAINS:
        r = ws.run("run", "//examples:hello", "--toolchain", tc)
        assert r.returncode == 0, (tc, r.stderr)
        assert r.stdout == HELLO, (tc, r.stdout, r.stderr)
        no_traceback(r)

    r = ws.run("build", "//examples:hello", "--toolchain", "native", "--toolchain", "wasm",
               "--toolchain", "cranelift")
    assert r.returncode == 0, r.stderr
    configs = sorted({e["config"] for e in ws.events() if e["event"] == "target_configured"})
    assert configs == ["cranelift-dev", "native-dev", "wasm-dev"]
    native = ws.out("examples/hello", "native-dev")
    wasm = ws.out("examples/hello.wasm", "wasm-dev")
    cwasm = ws.out("examples/hello.cwasm", "cranelift-dev")
    assert native.read_bytes()[:4] == b"\x7fELF"
    assert wasm.read_bytes()[:4] == b"\0asm"
    assert cwasm.read_bytes()[:4] == b"\x7fELF"          # wasmtime's serialized module
    assert not ws.out("examples/hello", "wasm-dev").exists()
    assert subprocess.run([native], capture_output=True, text=True).stdout == HELLO

    r = ws.run("build", "//examples:hello", "--toolchain", "native", "--toolchain", "wasm",
               "--toolchain", "cranelift")
    assert r.returncode == 0, r.stderr
    fin = ws.finished()
    assert fin["actions"]["executed"] == 0 and fin["actions"]["total"] == 13, fin
    assert ws.executed() == []


def test_wasm_and_cranelift_outputs_are_reproducible_across_workspaces_and_caches(make_ws):
    outs = []
    for name, cache in (("first", "c1"), ("elsewhere/deeper/second", "c2")):
        w = make_ws(name, cache=cache)
        copy_examples(w)
        r = w.run("build", "//examples:hello", "--toolchain", "native", "--toolchain", "wasm",
                  "--toolchain", "cranelift")
        assert r.returncode == 0, r.stderr
        fin = w.finished()
        assert fin["actions"]["executed"] == fin["actions"]["total"] == 13, fin   # nothing shared
        outs.append(w)
    a, b = outs
    assert a.root != b.root and a.cache != b.cache
    for rel, config in (("examples/hello.wasm", "wasm-dev"), ("examples/hello.cwasm", "cranelift-dev"),
                        ("examples/hello", "native-dev")):
        left, right = a.out(rel, config).read_bytes(), b.out(rel, config).read_bytes()
        assert left == right, f"{config}/{rel} differs between workspaces"
    # The cranelift lane's intermediate .wasm is the wasm lane's (same compiler and flags).
    assert a.out("examples/hello.wasm", "cranelift-dev").read_bytes() == \
        a.out("examples/hello.wasm", "wasm-dev").read_bytes()


# --------------------------------------------------------------------------- WASI

PROBE_C = r"""
#include <stdio.h>
#include <stdlib.h>

/* Prints its arguments, one environment variable and a file from the current
   directory, then exits with 7: what a native and a WASI run must agree on. */
int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("arg[%d]=<%s>\n", i, argv[i]);
    const char *v = getenv("MOLTB_TEST_VAR");
    printf("env=<%s>\n", v ? v : "(unset)");
    FILE *f = fopen("data.txt", "r");
    if (!f) {
        printf("data.txt: cannot open\n");
        return 3;
    }
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    printf("data=<%s>\n", buf);
    return 7;
}
"""


def test_run_passes_args_env_cwd_and_exit_code_on_every_toolchain(ws):
    ws.write({
        "wasi/BUILD.toml": """
            [probe]
            rule = "c_binary"
            srcs = ["probe.c"]
        """,
        "wasi/probe.c": PROBE_C,
        # Run from a subdirectory: the program sees that directory, not the root.
        "rundir/data.txt": "from the current directory\nsecond line\n",
        "data.txt": "from the workspace root (wrong)\n",
    })
    args = ["a", "b c", "--toolchain", "x", "-v", "--", "last"]
    env = {"MOLTB_TEST_VAR": "hi there = 1"}
    results = {}
    for tc in C_TOOLCHAINS:
        r = ws.run("run", "//wasi:probe", "--toolchain", tc, "--", *args, cwd=ws.root / "rundir", env=env)
        no_traceback(r)
        results[tc] = r
    native = results["native"]
    assert native.returncode == 7, native.stderr
    assert native.stdout == (
        "argc=8\n"
        "arg[1]=<a>\narg[2]=<b c>\narg[3]=<--toolchain>\narg[4]=<x>\narg[5]=<-v>\narg[6]=<-->\n"
        "arg[7]=<last>\n"
        "env=<hi there = 1>\n"
        "data=<from the current directory\nsecond line\n>\n"), native.stdout
    for tc in ("wasm", "cranelift"):
        r = results[tc]
        assert r.returncode == 7, (tc, r.returncode, r.stderr)
        assert r.stdout == native.stdout, (tc, r.stdout, r.stderr)


# ------------------------------------------------------------------ the Python lane


def test_hello_py_matches_cpython_and_is_refused_on_wasm(ws):
    copy_examples(ws)
    expected = subprocess.run([sys.executable, "examples/hello.py"], cwd=ws.root, capture_output=True,
                              text=True, check=True).stdout
    assert expected.startswith(HELLO)

    r = ws.run("build", "//examples:hello_py")
    assert r.returncode == 0, r.stderr
    exe = ws.out("examples/hello_py")
    run = subprocess.run([exe], capture_output=True, text=True, env={})
    assert (run.returncode, run.stdout) == (0, expected), run.stderr
    r = ws.run("run", "//examples:hello_py")
    assert (r.returncode, r.stdout) == (0, expected), r.stderr

    for tc in ("wasm", "cranelift"):
        r = ws.run("build", "//examples:hello_py", "--toolchain", tc)
        assert r.returncode == 2, (tc, r.stderr)
        no_traceback(r)
        assert "hello_py" in r.stderr and "toolchains" in r.stderr and f"'{tc}'" in r.stderr, r.stderr
        assert "native" in r.stderr, r.stderr           # what it may be built with


def test_py_binary_without_restriction_on_wasm_says_it_cannot_compile_python(ws):
    ws.write({
        "py/BUILD.toml": """
            [prog]
            rule = "py_binary"
            src = "prog.py"
        """,
        "py/prog.py": "print('hi')\n",
    })
    for tc in ("wasm", "cranelift"):
        r = ws.run("build", "//py:prog", "--toolchain", tc)
        assert r.returncode == 2, (tc, r.stderr)
        no_traceback(r)
        assert f"toolchain '{tc}' cannot compile Python" in r.stderr, r.stderr
        assert "//py:prog" in r.stderr or "'prog'" in r.stderr, r.stderr
    r = ws.run("run", "//py:prog", "--toolchain", "wasm")
    assert r.returncode == 2 and "cannot compile Python" in r.stderr, r.stderr


# ------------------------------------------------------------- listing, availability


def test_toolchains_lists_available_and_unavailable(ws):
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\n\n[workspace.toolchains.native]\ncompiler = "system"\n'
                             'cc = "no-such-cc"\n'})
    listing = toolchain_listing(ws)
    for name in ("wasm", "cranelift"):
        lines = listing[name]
        assert lines[0] == f"{name}: available", lines
        version = [l for l in lines if l.strip().startswith("version:")]
        fp = [l for l in lines if l.strip().startswith("fingerprint:")]
        assert len(version) == 1 and "zig" in version[0], lines
        assert len(fp) == 1 and fp[0].split(":", 1)[1].strip().startswith(name + "|"), lines
    assert "wasmtime" in "".join(listing["cranelift"])
    (line,) = listing["native"]
    assert line.startswith("native: unavailable: no system cc on PATH"), line
    assert "apt-get install gcc" in line, line          # the hint
    assert "fingerprint" not in line


def test_unavailable_and_unknown_toolchains_exit_2_with_reason(ws):
    ws.write({
        "x/BUILD.toml": """
            [y]
            rule = "py_binary"
            src = "y.py"
        """,
        "x/y.py": "print('y')\n",
    })
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\n\n[workspace.toolchains.native]\ncompiler = "system"\n'
                             'cc = "no-such-cc"\n'})
    for cmd in ("build", "run"):
        r = ws.run(cmd, "//x:y", "--toolchain", "native")
        assert r.returncode == 2, (cmd, r.stderr)
        no_traceback(r)
        assert "toolchain 'native' is not available" in r.stderr, r.stderr
        assert "no system cc on PATH" in r.stderr, r.stderr
        assert "hint: apt-get install gcc" in r.stderr, r.stderr
    ws.write({"BUILD.toml": '[workspace]\nname = "t"\n'})

    for bad, suggestion in (("wasn", "wasm"), ("crane", "cranelift"), ("natve", "native")):
        r = ws.run("build", "//x:y", "--toolchain", bad)
        assert r.returncode == 2, r.stderr
        no_traceback(r)
        assert f"unknown toolchain '{bad}'" in r.stderr and f"did you mean '{suggestion}'?" in r.stderr, r.stderr
    r = ws.run("build", "//x:y", "--toolchain", "zzzzzz")
    assert r.returncode == 2 and "unknown toolchain 'zzzzzz'" in r.stderr, r.stderr
    assert "did you mean" not in r.stderr and "cranelift" in r.stderr, r.stderr   # lists the known ones
    # One bad name among good ones still fails before any work.
    r = ws.run("build", "//x:y", "--toolchain", "native", "--toolchain", "wasn")
    assert r.returncode == 2 and "did you mean 'wasm'?" in r.stderr, r.stderr


# ------------------------------------------------------------- cranelift settings


def test_cranelift_opt_level_changes_fingerprint_and_action_keys(make_ws):
    default = make_ws("default")
    nonopt = make_ws("nonopt")               # same cache: equal keys would be cache hits
    for w, settings in ((default, ""), (nonopt, '[workspace.toolchains.cranelift]\nopt_level = "none"')):
        (w.root / "BUILD.toml").write_text(workspace_toml(settings))
        copy_examples(w)
    fp_default, fp_none = fingerprint(default, "cranelift"), fingerprint(nonopt, "cranelift")
    assert fp_default != fp_none
    assert "none" in fp_none

    r = default.run("build", "//examples:hello", "--toolchain", "cranelift")
    assert r.returncode == 0, r.stderr
    keys_default = keys_by_action(default)
    r = nonopt.run("run", "//examples:hello", "--toolchain", "cranelift")
    assert (r.returncode, r.stdout) == (0, HELLO), r.stderr    # runner's engine matches the compiler's
    fin = nonopt.finished()
    assert fin["actions"]["executed"] == fin["actions"]["total"] == 5, fin
    keys_none = keys_by_action(nonopt)
    assert keys_default.keys() == keys_none.keys()
    assert all(keys_default[k] != keys_none[k] for k in keys_default), (keys_default, keys_none)


@pytest.mark.parametrize("settings, words", [
    ('opt_level = "fast"', ["opt_level", "'fast'", "none, speed, speed_and_size"]),
    ("wasm_relaxed_simd = true\nwasm_simd = false", ["wasm_relaxed_simd", "wasm_simd"]),
    ("opt_level = 3", ["opt_level"]),
    ('wasm_simd = "yes"', ["wasm_simd", "true or false"]),
    ("turbo = true", ["turbo"]),
], ids=["opt-fast", "relaxed-without-simd", "opt-int", "simd-string", "unknown-key"])
def test_invalid_cranelift_settings_exit_2_never_crash(ws, settings, words):
    (ws.root / "BUILD.toml").write_text(workspace_toml("[workspace.toolchains.cranelift]\n" + settings))
    copy_examples(ws)
    for cmd in ("build", "run"):
        r = ws.run(cmd, "//examples:hello", "--toolchain", "cranelift")
        assert r.returncode == 2, (cmd, r.returncode, r.stderr)
        no_traceback(r)
        assert "toolchain 'cranelift' is not available" in r.stderr, r.stderr
        assert "[workspace.toolchains.cranelift]" in r.stderr, r.stderr
        for w in words:
            assert w in r.stderr, (w, r.stderr)
    lines = toolchain_listing(ws)["cranelift"]
    assert lines[0].startswith("cranelift: unavailable: ") and "[workspace.toolchains.cranelift]" in lines[0], \
        lines
    # Other toolchains are unaffected.
    r = ws.run("build", "//examples:hello", "--toolchain", "wasm")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("settings", ["wasm_simd = false", "wasm_reference_types = false"])
def test_cranelift_feature_off_alone_is_checked_not_a_panic(ws, settings):
    (ws.root / "BUILD.toml").write_text(workspace_toml("[workspace.toolchains.cranelift]\n" + settings))
    copy_examples(ws)
    r = ws.run("run", "//examples:hello", "--toolchain", "cranelift")
    no_traceback(r)
    # Either the setting works, or it is refused up front as a settings error.
    assert (r.returncode, r.stdout) == (0, HELLO) or \
        (r.returncode == 2 and "[workspace.toolchains.cranelift]" in r.stderr), (r.returncode, r.stderr)


def test_changing_cranelift_settings_in_place_rebuilds_or_fails(ws):
    copy_examples(ws)
    root_toml = ws.root / "BUILD.toml"
    root_toml.write_text(workspace_toml('[workspace.toolchains.cranelift]\nopt_level = "none"'))
    r = ws.run("build", "//examples:hello", "--toolchain", "cranelift")
    assert r.returncode == 0, r.stderr
    before = keys_by_action(ws)

    root_toml.write_text(workspace_toml('[workspace.toolchains.cranelift]\nopt_level = "speed_and_size"'))
    r = ws.run("build", "//examples:hello", "--toolchain", "cranelift")
    assert r.returncode == 0, r.stderr
    after = keys_by_action(ws)
    assert ws.finished()["actions"]["executed"] == 5, ws.finished()
    assert all(before[k] != after[k] for k in before)

    root_toml.write_text(workspace_toml('[workspace.toolchains.cranelift]\nopt_level = "fast"'))
    r = ws.run("build", "//examples:hello", "--toolchain", "cranelift")
    assert r.returncode == 2 and "opt_level" in r.stderr, r.stderr
