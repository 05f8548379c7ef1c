"""Tools as inputs: a helper program an action runs is staged into its exec root and
keyed by content, like a source (Buck2 puts the tool in the command line; Pants merges
the tool's digest into the process's input digest).

For moltb's own Python helpers (the compare tool of differential cases, the intrinsics
scanner, the WASI runner, ...) that means the module and every `molt_build` module it
imports, found by reading their import statements (including imports inside
functions): editing any of them changes the key of exactly the actions that run the
helper. The files are staged under `moltb-out/tools/py/`, which the action finds
through a keyed `PYTHONPATH`; the interpreter runs with `-P`, so the exec root itself
is never searched for modules. The third-party modules a helper imports come from the
interpreter's installation, whose identity the `python` toolchain's fingerprint names.
"""
from __future__ import annotations

import ast
import functools
import os

from molt_build.errors import AnalysisError
from molt_build.model import File, Tool

TOOLS_PY = "moltb-out/tools/py"
PACKAGE = "molt_build"


def _package_dir() -> str:
    import molt_build
    return os.path.dirname(os.path.abspath(molt_build.__file__))


def _module_file(name: str) -> str | None:
    """The file of a `molt_build` module (a .py file or a package's __init__.py)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = os.path.join(_package_dir(), *parts[1:])
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _imports(path: str, name: str) -> set[str]:
    """Every module name an import statement of the file can load, within molt_build."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), filename=path)
    is_pkg = os.path.basename(path) == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)   # `from pkg import module`
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


@functools.cache
def module_closure(module: str) -> tuple[tuple[str, str], ...]:
    """(import path such as `molt_build/rules/difftool.py`, absolute file) for the
    module, every molt_build module it imports (transitively) and their packages'
    `__init__.py` files, sorted."""
    if _module_file(module) is None:
        raise AnalysisError(f"tool module '{module}' is not a module of {PACKAGE}")
    pkg_dir = _package_dir()
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):          # parents run first on import
            mod = ".".join(parts[:i])
            if mod in seen:
                continue
            path = _module_file(mod)
            if path is None:
                continue                            # an attribute, not a module
            seen[mod] = path
            todo.extend(_imports(path, mod))
    out = []
    for mod, path in seen.items():
        rel = os.path.relpath(path, pkg_dir).replace(os.sep, "/")
        out.append((f"{PACKAGE}/{rel}", os.path.realpath(path)))
    return tuple(sorted(out))


def python_tool(module: str, interpreter: str, *args: str) -> Tool:
    """A moltb helper module run as `interpreter -P -m module ARGS...`, with its files
    staged and keyed."""
    files = tuple(File(f"{TOOLS_PY}/{rel}", True, None, origin) for rel, origin in module_closure(module))
    return Tool(argv=(interpreter, "-P", "-m", module, *args), files=files, env=(("PYTHONPATH", TOOLS_PY),))


def helper_digest(*modules: str) -> str:
    """A content digest of helper modules that moltb's executor itself wraps actions
    with (they are not inputs of the action, but change its result)."""
    import xxhash
    h = xxhash.xxh3_128()
    for m in modules:
        for rel, path in module_closure(m):
            h.update(rel.encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def interpreter_paths() -> tuple[str, ...]:
    """The directories the running interpreter needs (its installation, a virtualenv's
    and its site-packages): what a namespace sandbox shows an action that runs Python
    helpers. Not the paths of editable installs: those may be a workspace."""
    import site
    import sys
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(sys.executable)}
    try:
        paths.update(site.getsitepackages())
        paths.add(site.getusersitepackages())
    except AttributeError:        # site was not imported (python -S)
        pass
    return tuple(sorted(p for p in paths if p and os.path.isdir(p)))


SEARCH_PATHS = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH")


def tools_env(tools, what: str) -> dict[str, str]:
    """The environment several tools of one action set: their search paths joined in
    order; any other variable two tools set differently is an error."""
    env: dict[str, str] = {}
    for t in tools:
        for k, v in t.env:
            old = env.get(k)
            if old is None or old == v:
                env[k] = v
            elif k in SEARCH_PATHS:
                env[k] = ":".join(dict.fromkeys([*old.split(":"), *v.split(":")]))
            else:
                raise AnalysisError(f"{what}: its tools set {k} differently ({old!r}, {v!r})")
    return env
