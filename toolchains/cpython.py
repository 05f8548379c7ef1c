"""`python3.8` … `python3.15`: one toolchain per CPython minor version, the reference
interpreters of a differential suite's version matrix (`reference_pythons`) and the
interpreter a lane's compiler runs under (`toolchain(python = "3.12")`).

An interpreter is found, in this order: `[workspace.toolchains."python3.12"] path`; the
interpreter running moltb when it is that version (then the toolchain is the `python`
one under another name, so the two share every result); pyenv's installations
($PYENV_ROOT or ~/.pyenv, `versions/3.12.*`, the newest patch release); `python3.12`
on PATH (a real executable, not a pyenv shim). Its identity is its implementation,
full version, platform and cache tag and the content of its executable and shared
libpython (probed once per file identity): not where it is installed, so checkouts and
machines with the same interpreter share results."""
from __future__ import annotations

import json
import os
import re
import sys

from molt_build.api import (AnalysisError, Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable,
                            interpreter_paths, probe_tool)
from molt_build.toolchains.host_python import HostPythonToolchain, PythonInterpreterInfo, pyenv_root

VERSIONS = tuple(f"3.{minor}" for minor in range(8, 16))
# Run by the interpreter being identified (any CPython 3.8+): what it is, what it reads.
PROBE = r"""
import hashlib, json, os, sys, sysconfig
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
exe = os.path.realpath(sys.executable)
files = [exe]
cfg = sysconfig.get_config_var
if cfg("Py_ENABLE_SHARED") and cfg("LIBDIR") and cfg("LDLIBRARY"):
    lib = os.path.realpath(os.path.join(cfg("LIBDIR"), cfg("LDLIBRARY")))
    if os.path.exists(lib):
        files.append(lib)
paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(exe),
         os.path.dirname(sys.executable), cfg("LIBDIR") or ""}
print(json.dumps({"executable": sys.executable, "version": "%d.%d" % sys.version_info[:2],
                  "full": sys.version.replace("\n", " "), "implementation": sys.implementation.name,
                  "platform": sysconfig.get_platform(), "cache_tag": sys.implementation.cache_tag,
                  "files": files, "digests": [digest(f) for f in files],
                  "paths": sorted(p for p in paths if p and os.path.isdir(p))}))
"""


class InterpreterMissing(ToolchainUnavailable):
    """The CPython version asked for is not installed here: a differential case reports
    it as unavailable instead of failing the build."""


def _is_shim(path: str) -> bool:
    """A script standing in for an interpreter (pyenv's shims): not an interpreter."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return True


def _pyenv_candidates(version: str) -> list[str]:
    root = os.path.join(pyenv_root(), "versions")
    try:
        names = os.listdir(root)
    except OSError:
        return []
    pattern = re.compile(re.escape(version) + r"\.(\d+)")
    found = sorted(((int(m.group(1)), n) for n in names if (m := pattern.fullmatch(n))), reverse=True)
    return [os.path.join(root, n, "bin", f"python{version}") for _, n in found]


def _path_candidates(version: str) -> list[str]:
    out = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        exe = os.path.join(d or ".", f"python{version}")
        if os.path.isfile(exe) and os.access(exe, os.X_OK) and not _is_shim(exe):
            out.append(exe)
    return out


class CPythonToolchain(Toolchain):
    def __init__(self, version: str):
        self.version = version
        self.name = f"python{version}"
        self.doc = f"CPython {version}: a reference interpreter of a version matrix, found in pyenv or on PATH."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        configured = ctx.settings.get("path")
        if configured:
            exe = os.path.join(ctx.workspace_root, os.path.expanduser(str(configured)))
            if not os.path.isfile(exe):
                raise InterpreterMissing(f"[workspace.toolchains.\"{self.name}\"] path '{configured}' "
                                           "does not exist", hint="point it at a python executable")
            return self._probed(ctx, exe)
        if "%d.%d" % sys.version_info[:2] == self.version:
            host = HostPythonToolchain().resolve(ctx)
            return ToolchainInfo(name=self.name, fingerprint=host.fingerprint, version=host.version,
                                 tool_files=host.tool_files, tool_dirs=host.tool_dirs,
                                 sandbox_paths=host.sandbox_paths, providers=dict(host.providers))
        for exe in (*_pyenv_candidates(self.version), *_path_candidates(self.version)):
            if os.path.isfile(exe):
                return self._probed(ctx, exe)
        raise InterpreterMissing(
            f"CPython {self.version} is not installed (looked in {pyenv_root()}/versions and for "
            f"python{self.version} on PATH)",
            hint=f"pyenv install {self.version}, apt-get install python{self.version}, or set "
                 f"[workspace.toolchains.\"{self.name}\"] path = \"/path/to/python{self.version}\"")

    def _probed(self, ctx: ToolchainContext, exe: str) -> ToolchainInfo:
        real = os.path.realpath(exe)
        try:
            facts = json.loads(probe_tool(ctx, real, [real, "-I", "-S", "-c", PROBE]))
        except (OSError, ValueError) as e:
            raise ToolchainUnavailable(f"{exe} does not run as a Python interpreter: {e}",
                                       hint="check the interpreter, or set another path") from None
        if facts["version"] != self.version:
            raise ToolchainUnavailable(f"{exe} is Python {facts['version']}, not {self.version}",
                                       hint=f"set [workspace.toolchains.\"{self.name}\"] path to a "
                                            f"python{self.version}")
        bindir = os.path.dirname(facts["executable"])
        name = os.path.basename(facts["executable"])
        if not os.path.isfile(os.path.join(bindir, f"python{self.version}")):
            name = facts["executable"]       # a generic name would find another python on PATH
        elif not name.endswith(self.version):
            name = f"python{self.version}"
        identity = (f"{facts['implementation']} {facts['full']} | {facts['platform']} | "
                    f"cache_tag {facts['cache_tag']} | " + " ".join(d[:16] for d in facts["digests"]))
        # The running interpreter's directories come first on PATH (the helpers that
        # drive a run are started as `python3`), this one's after them.
        host_dirs = (os.path.dirname(sys.executable),)
        return ToolchainInfo(name=self.name, fingerprint=f"cpython|{identity}",
                             version=f"{facts['implementation']} {facts['full'].split()[0]}",
                             tool_files=tuple(facts["files"]), tool_dirs=(*host_dirs, bindir),
                             sandbox_paths=tuple(dict.fromkeys((*interpreter_paths(), *facts["paths"]))),
                             providers={PythonInterpreterInfo: PythonInterpreterInfo(name, identity, self.version)})


def python_of_version(ctx, version: str) -> ToolchainInfo:
    """A rule's toolchain for CPython `version` (major.minor): `python<version>`, or the
    `python` one when that is the interpreter running moltb (so their results are one).
    Raises ToolchainUnavailable when it is not installed, AnalysisError for a version
    that is not a CPython 3 minor version moltb knows."""
    if version not in VERSIONS:
        raise AnalysisError(f"'{version}' is not a known CPython version (known: {', '.join(VERSIONS)})")
    found = ctx.lane(f"python{version}")
    host = ctx.lane("python")
    return host if found.fingerprint == host.fingerprint else found


TOOLCHAINS = [CPythonToolchain(v) for v in VERSIONS]
