"""The analysed action graph as plain data, so a build whose BUILD files, plugins and
tools have not moved skips loading and analysis (like Bazel's in-memory analysis
cache, but kept on disk beside the outputs). Also carries each action's last key and
output digests: an action none of whose inputs or outputs changed is up to date
without recomputing its key (Ninja's stat check, with content-based early cutoff
still deciding for everything downstream of a change)."""
from __future__ import annotations

from dataclasses import dataclass

from molt_build.model import Action, DefaultInfo, File, ToolchainInfo
from molt_build.labels import Label

FORMAT = 10


@dataclass
class CachedAnalysis:
    actions: list[Action]
    top_level: list[tuple[str, str, list[str], str]]   # (label, config, default outputs, executable)
    skipped: list[tuple[str, str]]                     # (config, label)
    toolchains: dict[str, ToolchainInfo]
    prior: dict[str, tuple[str, list]]                 # identity -> (key, outputs)
    encoded: dict | None = None                        # the data it was decoded from (encode reuses it)
    build_view: tuple | None = None                    # made ahead by the server (delta.prepare)
    build_index: object = None


def _label(text: str) -> Label:
    pkg, name = text[2:].split(":", 1)
    return Label(pkg, name)


def encode(result, prior: dict[str, tuple[str, list]]) -> dict:
    """`result` is an AnalysisResult (or a CachedAnalysis being carried forward)."""
    if isinstance(result, CachedAnalysis) and result.encoded is not None:
        return {**result.encoded, "prior": prior}
    if isinstance(result, CachedAnalysis):
        actions, top, skipped, toolchains = result.actions, result.top_level, result.skipped, result.toolchains
    else:
        actions = result.actions
        top = [(str(ct.label), ct.config, [f.path for f in ct.providers[DefaultInfo].files if not f.is_source],
                ct.providers[DefaultInfo].executable.path if ct.providers[DefaultInfo].executable else "")
               for ct in result.top_level]
        skipped = [(c, str(l)) for c, l in result.skipped]
        toolchains = result.toolchains
    enc_actions = [(str(a.owner), a.mnemonic, a.argv, tuple((f.path, f.is_source, f.origin) for f in a.inputs),
                    tuple(o.path for o in a.outputs), a.env, a.progress, a.timeout, a.uses_toolchain, a.config, a.test,
                    a.retries, a.toolchain, a.requirements, a.ram_mb, a.cpu, a.ram_declared, a.report)
                   for a in actions]
    enc_tc = {n: (t.fingerprint, dict(t.env), dict(t.private_env), t.tool_files, t.tool_dirs, t.version, t.runner,
                  t.run_prefix, t.sandbox_paths, t.pass_env, t.private_pass_env) for n, t in toolchains.items()}
    return {"format": FORMAT, "actions": enc_actions, "top": top, "skipped": skipped, "toolchains": enc_tc,
            "prior": prior}


HELD: dict[str, tuple[tuple, CachedAnalysis]] = {}   # graph file -> (its identity, decoded): a server's


def load(path: str) -> CachedAnalysis | None:
    """The graph file's analysis: decoded already when the server holds it unchanged."""
    import os
    from molt_build.noop import read_marshal
    held = HELD.get(path)
    if held is not None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        if held[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
            return held[1]
    got = read_marshal(path)
    return decode(got[0]) if got is not None and got[0] else None


def hold(path: str, lines: list | None = None) -> None:
    """Keep the graph file's analysis decoded (the server: its commands inherit it),
    with what a build of it from the snapshot's `lines` needs made ahead."""
    from molt_build.noop import read_marshal
    got = read_marshal(path)
    held = HELD.get(path)
    if got is None or (held is not None and held[0] == got[1]):
        return
    cached = decode(got[0]) if got[0] else None
    if cached is not None:
        if lines is not None:
            from molt_build.delta import prepare
            prepare(cached, lines)
        HELD[path] = (got[1], cached)


def decode(data: dict) -> CachedAnalysis | None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    files: dict[tuple[str, bool, str], File] = {}
    actions = []
    for owner, mnemonic, argv, inputs, outputs, env, progress, timeout, uses_tc, config, test, retries, tc_name, \
            requirements, ram_mb, cpu, ram_declared, report in data["actions"]:
        label = _label(owner)
        ins = []
        for key in inputs:
            f = files.get(key)
            if f is None:
                f = files[key] = File(key[0], key[1], None, key[2])
            ins.append(f)
        outs = tuple(File(p, False, label) for p in outputs)
        actions.append(Action(label, mnemonic, argv, tuple(ins), outs, env, progress, timeout, uses_tc, config,
                              test, retries, tc_name, tuple(requirements), ram_mb, cpu, ram_declared,
                              tuple(tuple(x) for x in report)))
    toolchains = {n: ToolchainInfo(name=n, fingerprint=fp, env=env, private_env=penv, tool_files=tuple(tf),
                                   tool_dirs=tuple(td), version=ver, runner=runner, run_prefix=tuple(rp),
                                   sandbox_paths=tuple(sp), pass_env=tuple(pe), private_pass_env=tuple(ppe))
                  for n, (fp, env, penv, tf, td, ver, runner, rp, sp, pe, ppe) in data["toolchains"].items()}
    return CachedAnalysis(actions, [tuple(t) for t in data["top"]], [tuple(s) for s in data["skipped"]],
                          toolchains, data["prior"], {k: v for k, v in data.items() if k != "prior"})
