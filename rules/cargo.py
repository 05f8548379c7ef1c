"""`cargo_build`: a Cargo workspace built as one action, for code a user does not want
to translate into Rust rules: `cargo build --offline --locked` with declared inputs
(manifests, the lock file, sources) and declared outputs (artifacts copied out of the
target directory: a staticlib, a binary).

cargo's target directory is private state, like a Bazel persistent worker's: one per
workspace and profile under the cache directory (`cargo/target/...`, see the `rust`
toolchain), not keyed, so cargo's own incremental compilation carries over between
runs while moltb's key (every declared input's content) decides when the action runs.
No crates registry is reached: dependencies must be path dependencies (or vendored)."""
from __future__ import annotations

import posixpath
import shlex

from molt_build.api import AnalysisError, Attrs, DefaultInfo, Field, Rule, RuleContext, SourceList
from molt_build.toolchains.rust_toolchain_info import RustToolchainInfo


class CargoAttrs(Attrs):
    srcs: SourceList = Field(description="Every file cargo reads: manifests, Cargo.lock, sources (globs allowed).")
    manifest: str = Field(default="Cargo.toml", description="The workspace manifest, package-relative.")
    outs: list[str] = Field(description="Artifacts to keep, as cargo names them in its target directory "
                                        "(e.g. libruntime.a, app).")
    packages: list[str] = Field(default_factory=list, description="Build only these packages (cargo -p).")
    features: list[str] = Field(default_factory=list, description="cargo --features.")


def cargo_build(ctx: RuleContext):
    a: CargoAttrs = ctx.attrs
    tc = ctx.lane("rust")
    info: RustToolchainInfo = tc[RustToolchainInfo]
    srcs = ctx.files("srcs")
    manifest = posixpath.join(ctx.package, a.manifest) if ctx.package else a.manifest
    if manifest not in {f.path for f in srcs}:
        raise AnalysisError(f"manifest '{a.manifest}' is not among srcs", field="manifest")
    lock = posixpath.join(posixpath.dirname(manifest), "Cargo.lock")
    if lock not in {f.path for f in srcs}:
        raise AnalysisError("Cargo.lock is not among srcs (cargo_build builds --locked)", field="srcs")
    if not a.outs:
        raise AnalysisError("cargo_build needs at least one output", field="outs")
    outs = [ctx.declare_output(o, field="outs") for o in a.outs]
    profile_dir = "release" if ctx.profile == "release" else "debug"
    cargo = [info.cargo, "build", "--offline", "--locked", "--manifest-path", manifest,
             *(["--release"] if ctx.profile == "release" else []),
             *(x for p in a.packages for x in ("-p", p)),
             *(["--features", ",".join(a.features)] if a.features else [])]
    copies = "\n".join(f'cp "$CARGO_TARGET_DIR/{profile_dir}/{posixpath.basename(o)}" {shlex.quote(out.path)}'
                       for o, out in zip(a.outs, outs))
    script = f"set -e\n{shlex.join(cargo)}\n{copies}\n"
    ctx.action(mnemonic="CargoBuild", argv=["/bin/sh", "-c", script], inputs=srcs, outputs=outs, toolchain=tc,
               progress=f"Building Cargo workspace {ctx.label}", ram_mb=2048, cpu=2)
    return [DefaultInfo(files=tuple(outs))]


RULES = [Rule("cargo_build", CargoAttrs, cargo_build, uses_toolchain=False,
              doc="A Cargo workspace built offline (--locked) as one action with declared inputs and outputs.")]
