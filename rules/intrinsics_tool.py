"""The stdlib-intrinsic lint, run by `intrinsics_check` actions:

    python -m molt_build.rules.intrinsics_tool scan [--calls a,b] MODULE.py OUT.json
    python -m molt_build.rules.intrinsics_tool report OUT.md SCAN.json...
    python -m molt_build.rules.intrinsics_tool gate MANIFEST RATCHET SCAN.json...

`scan` parses one module with `ast`: the intrinsic names it requires (calls of the
configured names, e.g. `_require_intrinsic("name")`, with a literal name), forbidden
fallbacks (an `except ImportError` around an intrinsic load, an import of a `_py_*`
host module), and its class: intrinsic-backed (every public function uses an
intrinsic), intrinsic-partial (some do), python-only (none). A call of another function
whose name mentions "intrinsic" with a literal name is a problem too (list it in
`intrinsic_calls`): an unrecognised call must never make a module look python-only.
`gate` fails on names missing from the manifest (naming module and line), on forbidden
fallbacks and when more modules are intrinsic-partial than the ratchet allows (the
ratchet may only go down). The manifest is TOML (`[intrinsics]` names) or `.pyi` stubs
(the `def` names); the ratchet TOML or JSON (`max_intrinsic_partial`)."""
from __future__ import annotations

import ast
import json
import sys
import tomllib

INTRINSIC_CALLS = ("require_intrinsic", "_require_intrinsic", "_intrinsic", "load_intrinsic")
IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")


def _literal_call(node: ast.AST) -> tuple[str, str] | None:
    """(function name, literal first argument) of a call like f("x")."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        return name, node.args[0].value
    return None


def _names_in(tree: ast.AST, calls=INTRINSIC_CALLS) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(tree):
        found = _literal_call(node)
        if found and found[0] in calls:
            out.append((found[1], node.lineno))
    return out


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    t = handler.type
    if t is None:
        return True
    names = t.elts if isinstance(t, ast.Tuple) else [t]
    return any(isinstance(n, ast.Name) and n.id in IMPORT_ERRORS for n in names)


def scan(path: str, display: str, calls=INTRINSIC_CALLS) -> dict:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=display)
    required = _names_in(tree, calls)
    problems = []
    for node in ast.walk(tree):
        found = _literal_call(node)
        if found and found[0] not in calls and "intrinsic" in found[0].lower():
            problems.append(f"{display}:{node.lineno}: calls {found[0]}('{found[1]}'), which is not one of the "
                            f"intrinsic calls ({', '.join(calls)}): list it in intrinsic_calls")
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            for name, line in _names_in(ast.Module(body=node.body, type_ignores=[]), calls):
                problems.append(f"{display}:{line}: fallback around intrinsic '{name}' (except ImportError)")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for m in mods:
                if m.split(".")[-1].startswith("_py_"):
                    problems.append(f"{display}:{node.lineno}: imports host module '{m}'")
    public = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]
    backed = [n.name for n in public if _names_in(n, calls)]
    if not required:
        kind = "python-only"
    elif public and len(backed) < len(public):
        kind = "intrinsic-partial"
    else:
        kind = "intrinsic-backed"
    lines: dict[str, int] = {}
    for name, line in required:
        lines.setdefault(name, line)
    return {"module": display, "class": kind, "intrinsics": sorted(lines), "lines": lines,
            "public": [n.name for n in public], "backed": backed, "problems": problems}


def report(scans: list[dict]) -> str:
    lines = ["# Stdlib intrinsic audit", "", "| module | class | intrinsics |", "|---|---|---|"]
    for s in sorted(scans, key=lambda s: s["module"]):
        lines.append(f"| {s['module']} | {s['class']} | {', '.join(s['intrinsics']) or '-'} |")
    counts: dict[str, int] = {}
    for s in scans:
        counts[s["class"]] = counts.get(s["class"], 0) + 1
    lines += ["", "Totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    return "\n".join(lines) + "\n"


def manifest_names(path: str) -> set[str]:
    """The intrinsics a manifest declares: `.pyi` stubs (every `def` name) or TOML
    (`[intrinsics]` keys)."""
    if path.endswith(".pyi"):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    with open(path, "rb") as f:
        return set(tomllib.load(f).get("intrinsics", {}))


def load_ratchet(path: str) -> dict:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    with open(path, "rb") as f:
        return tomllib.load(f)


def gate(known: set[str], ratchet: dict, scans: list[dict]) -> list[str]:
    errors = []
    for s in sorted(scans, key=lambda s: s["module"]):
        errors += s["problems"]
        for name in s["intrinsics"]:
            if name not in known:
                line = s.get("lines", {}).get(name)
                where = f"{s['module']}:{line}" if line else s["module"]
                errors.append(f"{where}: requires unknown intrinsic '{name}' (not in the manifest)")
    partial = sorted(s["module"] for s in scans if s["class"] == "intrinsic-partial")
    limit = ratchet.get("max_intrinsic_partial")
    if not isinstance(limit, int):
        errors.append("ratchet: max_intrinsic_partial must be an integer")
    elif len(partial) > limit:
        errors.append(f"ratchet: {len(partial)} intrinsic-partial modules, more than max_intrinsic_partial = "
                      f"{limit} ({', '.join(partial)})")
    elif len(partial) < limit:
        print(f"note: only {len(partial)} intrinsic-partial modules: lower max_intrinsic_partial to {len(partial)}")
    return errors


def _load_scans(paths: list[str]) -> list[dict]:
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            out.append(json.load(f))
    return out


def main(argv: list[str]) -> int:
    cmd, rest = argv[0], argv[1:]
    if cmd == "scan":
        calls = INTRINSIC_CALLS
        if rest[0] == "--calls":
            calls, rest = tuple(c for c in rest[1].split(",") if c), rest[2:]
        src, out = rest[0], rest[1]
        try:
            result = scan(src, src, calls)
        except SyntaxError as e:
            result = {"module": src, "class": "unparsable", "intrinsics": [], "public": [], "backed": [],
                      "problems": [f"{src}:{e.lineno}: syntax error: {e.msg}"]}
        with open(out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, sort_keys=True)
        return 0
    if cmd == "report":
        with open(rest[0], "w", encoding="utf-8") as f:
            f.write(report(_load_scans(rest[1:])))
        return 0
    if cmd == "gate":
        try:
            known, ratchet = manifest_names(rest[0]), load_ratchet(rest[1])
        except (OSError, SyntaxError, ValueError) as e:     # TOML, JSON and .pyi errors
            print(f"ERROR: cannot read the manifest or ratchet: {e}", file=sys.stderr)
            return 1
        scans = _load_scans(rest[2:])
        errors = gate(known, ratchet, scans)
        print(report(scans))
        for e in errors:
            print(f"ERROR: {e}", file=sys.stderr)
        return 1 if errors else 0
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
