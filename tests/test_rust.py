"""Rust rules with the real rustc and cargo: a staticlib linked into a C program, an rlib
dependency, a Rust test, a Cargo workspace built offline; one rustc action per crate,
so an edit re-runs only its crate and what links it."""
from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import pytest

from conftest import HEADER, REPO

pytestmark = pytest.mark.skipif(shutil.which("rustc") is None or shutil.which("cargo") is None,
                                reason="rustc and cargo are not installed")


def rust_ws(ws):
    shutil.copytree(REPO / "examples/rust", ws.root / "rs")
    return ws.write({"BUILD.toml": HEADER})


def executed(ws) -> Counter:
    return Counter((e["label"], e["mnemonic"]) for e in ws.executed())


def app_output(ws) -> str:
    return subprocess.run([str(ws.out("rs/rust_app"))], capture_output=True, text=True, timeout=30).stdout


def test_a_rust_staticlib_in_a_c_program_and_one_rustc_per_crate(ws):
    rust_ws(ws)
    r = ws.run("build", "//rs/...")
    assert r.returncode == 0, r.stderr
    assert app_output(ws) == "sum of squares 1..10 = 385 (from Rust)\n"
    assert Counter(m for _l, m in executed(ws)) == Counter({"Rustc": 3, "CcCompile": 1, "CcLink": 1})
    # One crate edited: its rustc and the link, nothing else.
    lib = ws.root / "rs/adder/lib.rs"
    lib.write_text(lib.read_text().replace("math::sum_of_squares(n)", "2 * math::sum_of_squares(n)"))
    r = ws.run("build", "//rs/...")
    assert r.returncode == 0, r.stderr
    assert executed(ws) == Counter({("//rs:adder", "Rustc"): 1, ("//rs:rust_app", "CcLink"): 1})
    assert app_output(ws) == "sum of squares 1..10 = 770 (from Rust)\n"
    # The rlib below it: its crate, the crates built against it, the link.
    math = ws.root / "rs/math/lib.rs"
    math.write_text(math.read_text().replace("(1..=n as u64)", "(0..=n as u64)"))
    r = ws.run("build", "//rs/...")
    assert r.returncode == 0, r.stderr
    assert executed(ws) == Counter({("//rs:math", "Rustc"): 1, ("//rs:adder", "Rustc"): 1,
                                    ("//rs:rust_app", "CcLink"): 1, ("//rs:math_test", "Rustc"): 1})


def test_rust_test_passes_and_fails(ws):
    rust_ws(ws)
    r = ws.run("test", "//rs:math_test")
    assert r.returncode == 0, r.stderr
    assert "//rs:math_test" in r.stderr and "PASSED" in r.stderr
    math = ws.root / "rs/math/lib.rs"
    math.write_text(math.read_text().replace("sum_of_squares(3), 14", "sum_of_squares(3), 15"))
    r = ws.run("test", "//rs:math_test", "--test-output=errors")
    assert r.returncode == 3, r.stderr
    assert "small_sums" in r.stderr


def test_a_missing_wasm_std_is_a_clear_error(ws):
    rust_ws(ws)
    from molt_build.api import ToolchainContext
    from molt_build.toolchains.rust import RustToolchain, WASM
    info = RustToolchain().resolve(ToolchainContext({}, "dev", str(ws.cache), str(ws.root)))
    if WASM in info.providers[next(iter(info.providers))].targets:
        pytest.skip("the wasm32-wasip1 std is installed here")
    r = ws.run("build", "//rs:math", "--toolchain", "wasm")
    assert r.returncode == 2, r.stderr
    assert "rustup target add wasm32-wasip1" in r.stderr and "Traceback" not in r.stderr


CARGO = {
    "BUILD.toml": HEADER + '[crates]\nrule = "cargo_build"\nsrcs = ["Cargo.toml", "Cargo.lock", "crates/**"]\n'
                           'outs = ["libcorelib.a", "app"]\n',
    "Cargo.toml": '[workspace]\nmembers = ["crates/corelib", "crates/app"]\nresolver = "2"\n',
    "crates/corelib/Cargo.toml": '[package]\nname = "corelib"\nversion = "0.1.0"\nedition = "2021"\n\n'
                                 '[lib]\ncrate-type = ["staticlib", "rlib"]\n',
    "crates/corelib/src/lib.rs": "pub fn triple(x: u32) -> u32 { x * 3 }\n",
    "crates/app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
                             '[dependencies]\ncorelib = { path = "../corelib" }\n',
    "crates/app/src/main.rs": 'fn main() { println!("triple 14 = {}", corelib::triple(14)); }\n',
}


def test_a_cargo_workspace_with_two_path_crates_builds_offline(ws):
    ws.write(CARGO)
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=ws.root, check=True, capture_output=True)
    r = ws.run("build", "//:crates")
    assert r.returncode == 0, r.stderr
    run = lambda: subprocess.run([str(ws.out("app"))], capture_output=True, text=True).stdout  # noqa: E731
    assert run() == "triple 14 = 42\n"
    assert ws.out("libcorelib.a").read_bytes().startswith(b"!<arch>")
    assert ws.run("build", "//:crates").returncode == 0
    assert not ws.executed()
    (ws.root / "crates/corelib/src/lib.rs").write_text("pub fn triple(x: u32) -> u32 { x * 3 + 1 }\n")
    r = ws.run("build", "//:crates")
    assert r.returncode == 0, r.stderr
    assert [e["mnemonic"] for e in ws.executed()] == ["CargoBuild"]
    assert run() == "triple 14 = 43\n"
    # Undeclared sources do not exist for cargo: a missing Cargo.lock is an analysis error.
    ws.write({"BUILD.toml": CARGO["BUILD.toml"].replace('"Cargo.lock", ', "")})
    r = ws.run("build", "//:crates")
    assert r.returncode == 2 and "Cargo.lock" in r.stderr, r.stderr
