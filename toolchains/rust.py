"""`rust`: rustc and cargo from the Rust installation on PATH (rustup's or a system one).
The identity is `rustc -vV` (version, commit, host, LLVM). The tools run by their real
paths in the sysroot, which is what the namespace sandbox shows, so neither rustup's
proxies nor its state under HOME are needed. Targets are the host's and
`wasm32-wasip1` when its std is installed (`rustup target add wasm32-wasip1`)."""
from __future__ import annotations

import hashlib
import os
import shutil

from molt_build.api import Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable, probe_tool
from molt_build.toolchains.rust_toolchain_info import RustToolchainInfo

HINT = "install Rust (rustup or the distribution's rustc and cargo) so that rustc is on PATH"
WASM = "wasm32-wasip1"


def _field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def cargo_state(ctx: ToolchainContext) -> dict[str, str]:
    """cargo's private state for `cargo_build` (not keyed; writable in the sandbox): its
    home, and a target directory per workspace and profile, kept in the cache directory so
    cargo's own incremental builds carry over between moltb runs."""
    tag = hashlib.sha256(os.path.realpath(ctx.workspace_root).encode()).hexdigest()[:16]
    return {"CARGO_HOME": os.path.join(ctx.cache_dir, "cargo", "home"),
            "CARGO_TARGET_DIR": os.path.join(ctx.cache_dir, "cargo", "target", tag, ctx.profile)}


class RustToolchain(Toolchain):
    name = "rust"
    doc = "rustc and cargo: rust_library, rust_binary, rust_test and cargo_build."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        found = shutil.which("rustc")
        if found is None:
            raise ToolchainUnavailable("rustc was not found on PATH", hint=HINT)
        # What a staticlib needs from the system when linked into C: rustc says so when it
        # builds one (never with `-o /dev/null`: rustc replaces its output file).
        scratch = os.path.join(ctx.cache_dir, "tmp", "rust-probe")
        source = os.path.join(scratch, "probe.rs")
        os.makedirs(scratch, exist_ok=True)
        if not os.path.exists(source):
            open(source, "w").close()
        try:
            sysroot = probe_tool(ctx, found, [found, "--print", "sysroot"]).strip()
            rustc = os.path.join(sysroot, "bin", "rustc")
            if not os.access(rustc, os.X_OK):
                rustc = os.path.realpath(found)
            verbose = probe_tool(ctx, rustc, [rustc, "-vV"])
            wasm_lib = probe_tool(ctx, rustc, [rustc, "--print", "target-libdir", "--target", WASM]).strip()
            libs = probe_tool(ctx, rustc, [rustc, "--crate-type", "staticlib", "--crate-name", "probe",
                                           "--print", "native-static-libs", "--out-dir", scratch, source])
        except OSError as e:
            raise ToolchainUnavailable(f"rustc at {found} does not run: {e}", hint=HINT) from None
        host = _field(verbose, "host")
        cargo = os.path.join(os.path.dirname(rustc), "cargo")
        if not os.access(cargo, os.X_OK):
            cargo = shutil.which("cargo") or "cargo"
        targets = (host,) + ((WASM,) if os.path.isdir(wasm_lib) else ())
        native = next((line.split(":", 2)[2].split() for line in libs.splitlines()
                       if "native-static-libs:" in line), [])
        version = f"rustc {_field(verbose, 'release')} ({_field(verbose, 'commit-hash')[:9]})"
        info = RustToolchainInfo(rustc=os.path.basename(rustc), cargo=os.path.basename(cargo), host=host,
                                 targets=targets, native_static_libs=tuple(native), version=version)
        fingerprint = "rust|" + "|".join(line.strip() for line in verbose.splitlines() if line.strip())
        dirs = tuple(dict.fromkeys((os.path.dirname(rustc), os.path.dirname(cargo))))
        return ToolchainInfo(name=self.name, fingerprint=fingerprint + f"|targets {','.join(targets)}",
                             version=version, tool_files=(rustc, cargo), tool_dirs=dirs,
                             sandbox_paths=(sysroot,), private_env=cargo_state(ctx),
                             providers={RustToolchainInfo: info})


TOOLCHAINS = [RustToolchain()]
