"""The stdlib-intrinsic gate on the repository's stdlib/ sample, in a temp workspace."""
from __future__ import annotations

import shutil

from conftest import HEADER, REPO


def sample(ws):
    shutil.copytree(REPO / "stdlib", ws.root / "stdlib")
    return ws


def log(ws) -> str:
    return (ws.root / "moltb-out/testlogs/stdlib/intrinsics/test.log").read_text()


def scans_run(ws) -> list[str]:
    return sorted(e["label"] + " " + e["key"] for e in ws.executed() if e["mnemonic"] == "IntrinsicScan")


def test_sample_passes_and_reports(ws):
    sample(ws)
    r = ws.run("test", "//stdlib:intrinsics")
    assert r.returncode == 0, r.stderr
    audit = ws.out("stdlib/intrinsics.audit.md").read_text()
    assert "| stdlib/math_ops.py | intrinsic-partial | molt_math_isqrt |" in audit
    assert "| stdlib/string_ops.py | intrinsic-backed |" in audit
    assert "| stdlib/textwrap_lite.py | python-only | - |" in audit
    assert len(scans_run(ws)) == 5


def test_editing_one_module_reruns_one_scan_and_the_gate(ws):
    sample(ws)
    assert ws.run("test", "//stdlib:intrinsics").returncode == 0
    mod = ws.root / "stdlib/textwrap_lite.py"
    mod.write_text(mod.read_text() + "\n\ndef dedent(text: str) -> str:\n    return text\n")
    r = ws.run("test", "//stdlib:intrinsics")
    assert r.returncode == 0, r.stderr
    assert len(scans_run(ws)) == 1
    ran = {e["mnemonic"] for e in ws.executed()}
    assert ran == {"IntrinsicScan", "IntrinsicReport", "TestRun"}


def test_unknown_intrinsic_fails_the_gate_naming_module_and_name(ws):
    sample(ws)
    mod = ws.root / "stdlib/string_ops.py"
    mod.write_text(mod.read_text() + '\n\ndef title(s):\n    return require_intrinsic("molt_str_title")(s)\n')
    r = ws.run("test", "//stdlib:intrinsics")
    assert r.returncode == 3
    assert "stdlib/string_ops.py:17: requires unknown intrinsic 'molt_str_title'" in log(ws)   # module and line
    assert (ws.root / "moltb-out/testlogs/failures.txt").read_text() == "//stdlib:intrinsics\n"


def test_breaking_the_ratchet_fails_naming_the_modules(ws):
    sample(ws)
    mod = ws.root / "stdlib/string_ops.py"
    mod.write_text(mod.read_text() + "\n\ndef strip(s):\n    return s.strip()\n")   # now partial too
    r = ws.run("test", "//stdlib:intrinsics")
    assert r.returncode == 3
    text = log(ws)
    assert "2 intrinsic-partial modules, more than max_intrinsic_partial = 1" in text
    assert "stdlib/math_ops.py" in text and "stdlib/string_ops.py" in text


def test_fallbacks_and_host_modules_are_forbidden(ws):
    sample(ws)
    (ws.root / "stdlib/bad.py").write_text(
        "from _intrinsics import require_intrinsic\n"
        "import _py_host_math\n"
        "try:\n"
        "    _isqrt = require_intrinsic('molt_math_isqrt')\n"
        "except ImportError:\n"
        "    _isqrt = None\n"
        "\n"
        "def isqrt(n):\n"
        "    return _isqrt(n)\n")
    r = ws.run("test", "//stdlib:intrinsics")
    assert r.returncode == 3
    text = log(ws)
    assert "stdlib/bad.py:4: fallback around intrinsic 'molt_math_isqrt' (except ImportError)" in text
    assert "stdlib/bad.py:2: imports host module '_py_host_math'" in text


# ---------------------------------------------- a tree shaped like Molt's stdlib

def molt_tree(ws, modules: int = 30, unknown: bool = False):
    """`modules` modules calling `_require_intrinsic("molt_<m>_<f>")`, a `.pyi` manifest
    of `def molt_*` stubs and a JSON ratchet; module 0 is intrinsic-partial."""
    files = {"BUILD.toml": HEADER,
             "lib/BUILD.toml": '[intrinsics]\nrule = "intrinsics_check"\nsrcs = ["**/*.py"]\n'
                               'manifest = "intrinsics.pyi"\nratchet = "ratchet.json"\n'
                               'intrinsic_calls = ["_require_intrinsic"]\n',
             "lib/ratchet.json": '{"max_intrinsic_partial": 1}\n'}
    stubs = ["# The runtime's intrinsics.\nfrom typing import Any\n"]
    for m in range(modules):
        name = f"mod{m:02d}"
        body = ["from _intrinsics import _require_intrinsic\n"]
        for f in ("alpha", "beta"):
            body.append(f"\ndef {f}(x):\n    return _require_intrinsic(\"molt_{name}_{f}\", globals())(x)\n")
            stubs.append(f"def molt_{name}_{f}(x: Any) -> Any: ...\n")
        if m == 0:
            body.append("\ndef plain(x):\n    return x\n")
        files[f"lib/pkg{m % 3}/{name}.py"] = "".join(body)
    if unknown:
        files["lib/pkg1/mod01.py"] += "\ndef gamma(x):\n    return _require_intrinsic(\"molt_nowhere\", globals())(x)\n"
    files["lib/intrinsics.pyi"] = "".join(stubs)
    return ws.write(files)


def test_a_molt_shaped_tree_passes_and_an_unknown_intrinsic_fails_naming_module_and_line(ws):
    molt_tree(ws)
    r = ws.run("test", "//lib:intrinsics")
    assert r.returncode == 0, r.stderr
    audit = ws.out("lib/intrinsics.audit.md").read_text()
    assert "| lib/pkg0/mod00.py | intrinsic-partial | molt_mod00_alpha, molt_mod00_beta |" in audit
    assert "intrinsic-backed 29" in audit and "intrinsic-partial 1" in audit
    molt_tree(ws, unknown=True)
    r = ws.run("test", "//lib:intrinsics")
    assert r.returncode == 3, r.stderr
    text = (ws.root / "moltb-out/testlogs/lib/intrinsics/test.log").read_text()
    assert "lib/pkg1/mod01.py:10: requires unknown intrinsic 'molt_nowhere'" in text, text
    scans = [e for e in ws.executed() if e["mnemonic"] == "IntrinsicScan"]
    assert len(scans) == 1                      # one module edited: one scan


def test_an_intrinsic_call_that_is_not_configured_cannot_pass_as_python_only(ws):
    molt_tree(ws, modules=3)
    ws.write({"lib/pkg2/mod02.py": "def f(x):\n    return _load_intrinsic(\"molt_secret\")(x)\n"})
    r = ws.run("test", "//lib:intrinsics")
    assert r.returncode == 3, r.stderr
    text = (ws.root / "moltb-out/testlogs/lib/intrinsics/test.log").read_text()
    assert "lib/pkg2/mod02.py:2: calls _load_intrinsic('molt_secret')" in text and "intrinsic_calls" in text
