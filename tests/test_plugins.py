"""Rule and toolchain plugins, written against `molt_build.api` only and loaded from
the workspace's `plugin_dirs` or from Python entry points."""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import TempWorkspace

SHOUT_PLUGIN = '''
"""A rule that upper-cases a text file and a toolchain that says how loudly."""
from dataclasses import dataclass

from molt_build.api import (Attrs, DefaultInfo, Field, Provider, Rule, RuleContext, SourceList,
                            Toolchain, ToolchainContext, ToolchainInfo, ToolchainUnavailable)


@dataclass(frozen=True)
class ShoutInfo(Provider):
    level: int


class TextUpperAttrs(Attrs):
    srcs: SourceList = Field(description="The text file to upper-case.")


def text_upper(ctx: RuleContext):
    (src,) = ctx.files("srcs")
    out = ctx.declare_output(ctx.label.name + ".txt")
    level = ctx.toolchain[ShoutInfo].level
    script = 'tr a-z A-Z < "$1" > "$2" && echo "level $3" >> "$2"'
    ctx.action(mnemonic="TextUpper", argv=["/bin/sh", "-c", script, "sh", src.path, out.path, str(level)],
               inputs=[src], outputs=[out], progress=f"Shouting {ctx.label}")
    return [DefaultInfo(files=(out,))]


class ShoutToolchain(Toolchain):
    name = "shout"
    doc = "Says things loudly."

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:
        level = ctx.settings.get("level", 1)
        if not isinstance(level, int) or isinstance(level, bool):
            raise ToolchainUnavailable("[workspace.toolchains.shout] level must be an integer",
                                       hint="level = 1")
        return ToolchainInfo(name=self.name, fingerprint=f"shout|level {level}", version=f"shout 1.{level}",
                             providers={ShoutInfo: ShoutInfo(level)})


RULES = [Rule("text_upper", TextUpperAttrs, text_upper, doc="Upper-case a text file.")]
TOOLCHAINS = [ShoutToolchain()]
'''


def root_toml(level: object = 1, extra: str = "", plugin_dirs: str = '["plugins"]') -> str:
    lvl = f'"{level}"' if isinstance(level, str) else level
    return (f'[workspace]\nname = "p"\nplugin_dirs = {plugin_dirs}\n\n'
            f"[workspace.toolchains.shout]\nlevel = {lvl}\n{extra}")


TARGET = """
[loud]
rule = "text_upper"
srcs = ["quiet.txt"]
toolchains = ["shout"]
"""


def shout_ws(ws: TempWorkspace, pkg: str = "txt", level: object = 1) -> TempWorkspace:
    prefix = f"{pkg}/" if pkg else ""
    files = {"plugins/shouting.py": SHOUT_PLUGIN, f"{prefix}quiet.txt": "hello, quiet world\n"}
    if pkg:
        files[f"{pkg}/BUILD.toml"] = TARGET
        files["BUILD.toml"] = root_toml(level)
    else:
        files["BUILD.toml"] = root_toml(level) + TARGET
    return ws.write(files)


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


def listing(ws: TempWorkspace, **env) -> str:
    r = ws.run("toolchains", env=env or None)
    assert r.returncode == 0, r.stderr
    no_traceback(r)
    return r.stdout


def fingerprint_line(out: str, name: str) -> str:
    lines = out.splitlines()
    i = lines.index(f"{name}: available")
    (fp,) = [l for l in lines[i + 1:i + 3] if l.strip().startswith("fingerprint:")]
    return fp.split(":", 1)[1].strip()


# ------------------------------------------------------------------ plugin_dirs


def test_plugin_rule_and_toolchain_build(ws):
    shout_ws(ws)
    r = ws.run("build", "//txt:loud", "--toolchain", "shout")
    assert r.returncode == 0, r.stderr
    assert ws.out("txt/loud.txt", "shout-dev").read_text() == "HELLO, QUIET WORLD\nlevel 1\n"
    ran = ws.executed()
    assert [(e["label"], e["mnemonic"]) for e in ran] == [("//txt:loud", "TextUpper")]

    r = ws.run("build", "//txt:loud", "--toolchain", "shout")
    assert r.returncode == 0 and ws.finished()["actions"]["executed"] == 0, r.stderr

    # The target only allows the plugin toolchain.
    r = ws.run("build", "//txt:loud", "--toolchain", "native")
    assert r.returncode == 2 and "toolchains" in r.stderr and "shout" in r.stderr, r.stderr
    no_traceback(r)

    # A source edit reruns the action.
    (ws.root / "txt/quiet.txt").write_text("changed\n")
    r = ws.run("build", "//txt:loud", "--toolchain", "shout")
    assert r.returncode == 0, r.stderr
    assert ws.out("txt/loud.txt", "shout-dev").read_text() == "CHANGED\nlevel 1\n"


def test_toolchains_lists_the_plugin_toolchain(ws):
    shout_ws(ws)
    out = listing(ws)
    assert "shout: available" in out.splitlines(), out
    assert "  version: shout 1.1" in out.splitlines(), out
    assert fingerprint_line(out, "shout") == "shout|level 1"
    for builtin in ("native", "wasm", "cranelift"):
        assert f"{builtin}: available" in out.splitlines(), out

    (ws.root / "BUILD.toml").write_text(root_toml(level="loud"))
    out = listing(ws)
    assert "shout: unavailable: [workspace.toolchains.shout] level must be an integer (level = 1)" in out, out
    r = ws.run("build", "//txt:loud", "--toolchain", "shout")
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    assert "toolchain 'shout' is not available" in r.stderr and "level must be an integer" in r.stderr


@pytest.mark.parametrize("pkg", [
    "",
    "txt",
], ids=["target-in-root-package", "target-in-subpackage"])
def test_changing_the_toolchain_setting_changes_fingerprint_and_reruns(ws, pkg):
    shout_ws(ws, pkg=pkg)
    label = f"//{pkg}:loud"
    out_rel = f"{pkg}/loud.txt" if pkg else "loud.txt"
    r = ws.run("build", label, "--toolchain", "shout")
    assert r.returncode == 0, r.stderr
    (first,) = [e["key"] for e in ws.events() if e["event"] == "action_finished"]
    fp1 = fingerprint_line(listing(ws), "shout")

    text = (ws.root / "BUILD.toml").read_text().replace("level = 1", "level = 2")
    (ws.root / "BUILD.toml").write_text(text)
    fp2 = fingerprint_line(listing(ws), "shout")
    assert (fp1, fp2) == ("shout|level 1", "shout|level 2")

    r = ws.run("build", label, "--toolchain", "shout")
    assert r.returncode == 0, r.stderr
    ran = ws.executed()
    assert [e["mnemonic"] for e in ran] == ["TextUpper"], ws.finished()
    assert ran[0]["key"] != first
    assert ws.out(out_rel, "shout-dev").read_text().endswith("level 2\n")


def test_plugin_redefining_a_builtin_rule_is_an_error_naming_both(ws):
    ws.write({
        "BUILD.toml": '[workspace]\nname = "p"\nplugin_dirs = ["plugins"]\n',
        "plugins/dup.py": """
            from molt_build.api import Attrs, Rule

            def impl(ctx):
                return []

            RULES = [Rule("genrule", Attrs, impl)]
        """,
        "g/BUILD.toml": '[x]\nrule = "genrule"\nouts = ["x.txt"]\ncmd = "echo x > $@"\n',
    })
    for args in (("build", "//g:x"), ("toolchains",), ("query", "//...")):
        r = ws.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        no_traceback(r)
        assert "duplicate rule 'genrule'" in r.stderr, r.stderr
        assert "molt_build.rules.genrule" in r.stderr and "plugins/dup.py" in r.stderr, r.stderr


def test_two_plugins_registering_one_toolchain_name_and_a_builtin_toolchain(ws):
    tc = """
        from molt_build.api import Toolchain, ToolchainInfo

        class T(Toolchain):
            name = "{name}"
            def resolve(self, ctx):
                return ToolchainInfo(name=self.name, fingerprint="x")

        TOOLCHAINS = [T()]
    """
    ws.write({
        "BUILD.toml": '[workspace]\nname = "p"\nplugin_dirs = ["plugins", "more"]\n',
        "plugins/a.py": tc.format(name="twin"),
        "more/b.py": tc.format(name="twin"),
    })
    r = ws.run("toolchains")
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    assert "duplicate toolchain 'twin'" in r.stderr, r.stderr
    assert "plugins/a.py" in r.stderr and "more/b.py" in r.stderr, r.stderr

    ws.write({"more/b.py": tc.format(name="native")})
    r = ws.run("toolchains")
    assert r.returncode == 2, r.stderr
    assert "duplicate toolchain 'native'" in r.stderr and "molt_build.toolchains.native" in r.stderr, r.stderr
    assert "more/b.py" in r.stderr, r.stderr


def test_broken_plugin_files_are_reported_by_file(ws):
    ws.write({
        "BUILD.toml": '[workspace]\nname = "p"\nplugin_dirs = ["nowhere"]\n',
        "plugins/good.py": SHOUT_PLUGIN,
        "plugins/broken.py": "def oops(:\n    pass\n",
        "g/BUILD.toml": '[x]\nrule = "genrule"\nouts = ["x.txt"]\ncmd = "echo x > $@"\n',
    })
    r = ws.run("build", "//g:x")
    assert r.returncode == 2 and "nowhere" in r.stderr and "plugin_dirs" in r.stderr, r.stderr
    no_traceback(r)

    ws.write({"BUILD.toml": '[workspace]\nname = "p"\nplugin_dirs = ["plugins"]\n'})
    for args in (("build", "//g:x"), ("toolchains",)):
        r = ws.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        no_traceback(r)
        assert "broken.py" in r.stderr and "SyntaxError" in r.stderr, r.stderr
        assert "line 1" in r.stderr, r.stderr

    ws.write({"plugins/broken.py": "import molt_build_no_such_module\n"})
    r = ws.run("build", "//g:x")
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    assert "broken.py" in r.stderr and "molt_build_no_such_module" in r.stderr, r.stderr

    ws.write({"plugins/broken.py": "NOTHING = 1\n"})
    r = ws.run("build", "//g:x")
    assert r.returncode == 2, r.stderr
    assert "broken.py" in r.stderr and "registers nothing" in r.stderr, r.stderr

    os.remove(ws.root / "plugins/broken.py")
    r = ws.run("build", "//g:x")
    assert r.returncode == 0, r.stderr
    assert ws.out("g/x.txt", "native-dev").read_text() == "x\n"


# ---------------------------------------------------------------- entry points


def install_entry_point_plugin(site, groups: list[str], module: str = "shout_ep") -> dict:
    """A tiny installed distribution: the module plus a dist-info with entry_points.txt
    on a directory that PYTHONPATH puts on sys.path."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(SHOUT_PLUGIN)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("".join(f"[{g}]\nshout = {module}\n\n" for g in groups))
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def entry_point_ws(ws: TempWorkspace) -> TempWorkspace:
    return ws.write({
        "BUILD.toml": '[workspace]\nname = "e"\n\n[workspace.toolchains.shout]\nlevel = 3\n',
        "txt/BUILD.toml": TARGET,
        "txt/quiet.txt": "entry point\n",
    })


def test_entry_point_plugin(ws, tmp_path):
    entry_point_ws(ws)
    env = install_entry_point_plugin(tmp_path / "site", ["molt_build.rules"])
    out = listing(ws, **env)
    assert "shout: available" in out.splitlines() and fingerprint_line(out, "shout") == "shout|level 3", out
    r = ws.run("build", "//txt:loud", "--toolchain", "shout", env=env)
    assert r.returncode == 0, r.stderr
    assert ws.out("txt/loud.txt", "shout-dev").read_text() == "ENTRY POINT\nlevel 3\n"

    # Without the plugin installed, the rule is unknown (not a traceback).
    r = ws.run("build", "//txt:loud", "--toolchain", "native", env={"MOLTB_NO_FASTPATH": "1"})
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    assert "unknown rule 'text_upper'" in r.stderr or "unknown toolchain" in r.stderr, r.stderr


def test_entry_point_plugin_listed_in_both_groups(ws, tmp_path):
    entry_point_ws(ws)
    env = install_entry_point_plugin(tmp_path / "site", ["molt_build.rules", "molt_build.toolchains"])
    r = ws.run("build", "//txt:loud", "--toolchain", "shout", env=env)
    assert r.returncode == 0, r.stderr
    assert ws.out("txt/loud.txt", "shout-dev").read_text() == "ENTRY POINT\nlevel 3\n"


def test_editing_an_entry_point_plugin_reruns_its_actions(ws, tmp_path):
    entry_point_ws(ws)
    site = tmp_path / "site"
    env = install_entry_point_plugin(site, ["molt_build.rules"])
    r = ws.run("build", "//txt:loud", "--toolchain", "shout", env=env)
    assert r.returncode == 0, r.stderr
    mod = site / "shout_ep.py"
    mod.write_text(mod.read_text().replace('echo "level $3"', 'echo "volume $3"'))
    r = ws.run("build", "//txt:loud", "--toolchain", "shout", env=env)
    assert r.returncode == 0, r.stderr
    assert ws.out("txt/loud.txt", "shout-dev").read_text() == "ENTRY POINT\nvolume 3\n"
