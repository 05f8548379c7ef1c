"""The system C compiler (`cc` and `ar` on PATH) for the `native` toolchain: found,
checked to work (a probe program compiled and linked once per compiler identity), and
identified by content. Its identity, in the fingerprint of every action that uses it,
is the realpath and SHA-256 of the driver and of what the driver runs (for gcc: `cc1`,
`as`, `collect2` and `ld`, as `cc -print-prog-name=...` names them; clang compiles
in-process, so its binary and its linker), the same for `ar`, and both `--version`
lines. Every probe is memoised per file identity (path, inode, size, mtime): an
unchanged compiler costs no subprocess and no hashing, a replaced one changes the keys."""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass

from molt_build.api import ToolchainContext, ToolchainUnavailable, probe_tool
from molt_build.keys import DEFAULT_PATH

HINT = "apt-get install gcc binutils, or use compiler = \"zig\""
# What a gcc-style driver runs to compile, assemble and link (clang answers only for
# the linker; a name it cannot place is looked up on the action's PATH, or skipped).
PROGRAMS = ("cc1", "as", "collect2", "ld")
PROBE_C = "int main(void) { return 0; }\n"
# Run by this interpreter on one file: its SHA-256 (memoised per file identity).
DIGEST = ("import hashlib, sys\n"
          "h = hashlib.sha256()\n"
          "with open(sys.argv[1], 'rb') as f:\n"
          "    for chunk in iter(lambda: f.read(1 << 20), b''):\n"
          "        h.update(chunk)\n"
          "print(h.hexdigest())\n")


@dataclass(frozen=True)
class SystemCc:
    cc: str                                   # the driver as found on PATH (absolute: argv[0])
    ar: str
    version: str                              # first line of `cc --version`
    ar_version: str
    programs: tuple[tuple[str, str, str], ...]   # (role, realpath, sha256): driver, what it runs, ar

    @property
    def fingerprint(self) -> str:
        files = "|".join(f"{role}={path}@{digest}" for role, path, digest in self.programs)
        return f"system {self.version}|{self.ar_version}|{files}"

    @property
    def files(self) -> tuple[str, ...]:
        """The programs' realpaths: stat'ed by the no-op check, so a replaced one re-resolves."""
        return tuple(path for _, path, _ in self.programs)


def _digest(ctx: ToolchainContext, path: str) -> str:
    return probe_tool(ctx, path, [sys.executable, "-I", "-S", "-c", DIGEST, path])


def _program(ctx: ToolchainContext, cc: str, name: str) -> str | None:
    """Where the driver finds `name`, or None when it runs no such program."""
    try:
        found = probe_tool(ctx, cc, [cc, f"-print-prog-name={name}"]).strip()
    except OSError:
        return None
    if not found:
        return None
    if not os.path.isabs(found):      # the driver would look it up on PATH
        found = shutil.which(found, path=os.pathsep.join((os.path.dirname(cc), DEFAULT_PATH)))
    return os.path.realpath(found) if found and os.path.isfile(found) else None


def _check_works(ctx: ToolchainContext, cc: str) -> None:
    """Compile and link a probe program (once per driver identity); OSError if it fails."""
    scratch = os.path.join(ctx.cache_dir, "tmp", "cc-probe")
    os.makedirs(scratch, exist_ok=True)
    src = os.path.join(scratch, "probe.c")
    if not os.path.exists(src):
        tmp = f"{src}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(PROBE_C)
        os.replace(tmp, src)
    probe_tool(ctx, cc, [cc, src, "-o", os.path.join(scratch, "probe")])


def find_system_cc(ctx: ToolchainContext) -> SystemCc:
    """The system compiler named by `cc`/`ar` (settings, default "cc" and "ar" on PATH),
    or ToolchainUnavailable saying what is missing or broken."""
    cc = shutil.which(ctx.settings.get("cc", "cc"))
    ar = shutil.which(ctx.settings.get("ar", "ar"))
    if cc is None or ar is None:
        raise ToolchainUnavailable(f"no system {'cc' if cc is None else 'ar'} on PATH", hint=HINT)
    cc, ar = os.path.abspath(cc), os.path.abspath(ar)
    try:
        version = probe_tool(ctx, cc, [cc, "--version"]).splitlines()[0]
        ar_version = probe_tool(ctx, ar, [ar, "--version"]).splitlines()[0]
        _check_works(ctx, cc)
    except (OSError, IndexError) as e:
        raise ToolchainUnavailable(f"the system cc at {cc} does not work: {e}", hint=HINT) from None
    programs = [("cc", os.path.realpath(cc))]
    for name in PROGRAMS:
        path = _program(ctx, cc, name)
        if path is not None and path not in (p for _, p in programs):
            programs.append((name, path))
    programs.append(("ar", os.path.realpath(ar)))
    try:
        identity = tuple((role, path, _digest(ctx, path)) for role, path in programs)
    except OSError as e:
        raise ToolchainUnavailable(f"cannot read the system compiler's programs: {e}", hint=HINT) from None
    return SystemCc(cc=cc, ar=ar, version=version, ar_version=ar_version, programs=identity)
