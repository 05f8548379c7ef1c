"""The Cython lane: `cython --embed -3` turns a program into C with a `main`, which
compiles against this interpreter's headers and links against its libpython (with an
rpath, so the binary runs with an empty environment)."""
from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig

from molt_build.api import ToolchainContext
from molt_build.toolchains.py_toolchain_info import PyToolchainInfo

HINT = "pip install cython"


def _cython_version() -> str | None:
    spec = importlib.util.find_spec("Cython")
    if spec is None:
        return None
    try:
        import Cython
        return Cython.__version__
    except ImportError:
        return None


def python_frontend(ctx: ToolchainContext) -> tuple[PyToolchainInfo, tuple[str, ...], tuple[str, ...], str]:
    """(info, tool dirs, tool files, fingerprint part) for the running interpreter."""
    cython = _cython_version()
    if cython is None:
        return PyToolchainInfo(False, "Cython is not installed", HINT), (), (), "python:none"
    cfg = sysconfig.get_config_var
    version = cfg("VERSION")
    libdir = cfg("LIBDIR")
    include = sysconfig.get_paths()["include"]
    if cfg("Py_ENABLE_SHARED"):
        libs = (f"-L{libdir}", f"-lpython{version}{cfg('ABIFLAGS') or ''}", f"-Wl,-rpath,{libdir}")
        libfile = os.path.join(libdir, cfg("LDLIBRARY"))
    else:
        libfile = os.path.join(cfg("LIBPL"), cfg("LIBRARY"))
        libs = (libfile,)
    extra = tuple(x for x in f"{cfg('LIBS') or ''} {cfg('SYSLIBS') or ''}".split() if x.startswith("-l"))
    py = os.path.basename(sys.executable)
    info = PyToolchainInfo(
        True, to_c=(py, "-m", "cython", "--embed", "-3", "{src}", "-o", "{out}"),
        compile_flags=("-I", include, "-Wno-unused-function", "-Wno-unused-but-set-variable",
                       "-Wno-unreachable-code-fallthrough", "-fwrapv", "-fno-strict-aliasing"),
        link_flags=(*libs, *extra), version=f"Python {sys.version.split()[0]} / Cython {cython}",
        python_version=version)
    files = tuple(p for p in (sys.executable, libfile) if os.path.exists(p))
    fp = f"python {sys.version.split()[0]} {sysconfig.get_platform()} {include} cython {cython}"
    return info, (os.path.dirname(sys.executable),), files, fp
