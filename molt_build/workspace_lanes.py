"""Lanes declared in BUILD.toml: `toolchain` targets (Bazel's `register_toolchains`).

A `toolchain` target in the root BUILD.toml is registered by itself; one elsewhere is
registered by label in `[workspace] toolchains = ["//tools:molt_native", ...]` (or
`register_toolchains`). Each registers its `lane` name beside the plugin toolchains,
before any other package loads, so targets may name it in `toolchains` and on the
command line. The lane is resolved by analysis: its toolchain target (and the compiler
target it names) is analysed in the host configuration, and the compiler's files enter
the key of every action that uses the lane (see rules/lanes.py).

Discovery reads the raw tables (the `rule` and `lane` keys) so that a target of the
root package may name a lane defined beside it; the full validation happens when the
toolchain target itself loads.
"""
from __future__ import annotations

import os

from molt_build.api import Toolchain, ToolchainContext, ToolchainInfo
from molt_build.build_file import read_build_file
from molt_build.errors import BuildFileError, LabelError
from molt_build.labels import Label, parse_label
from molt_build.layout import BUILD_FILE

RULE = "toolchain"
HOST = "host"                    # the configuration compilers are built in


class WorkspaceLane(Toolchain):
    """A lane declared by a `toolchain` target; analysis resolves it."""

    def __init__(self, name: str, label: Label, file: str):
        self.name = name
        self.label = label
        self.file = file
        self.doc = f"declared by {label} in {file}"

    def resolve(self, ctx: ToolchainContext) -> ToolchainInfo:  # pragma: no cover - analysis resolves it
        raise NotImplementedError("a workspace lane is resolved by analysis")


def _raw_table(ws, label: Label) -> tuple[dict | None, str]:
    display = os.path.join(label.pkg, BUILD_FILE) if label.pkg else BUILD_FILE
    if not label.pkg:
        return ws.root_data, display
    path = os.path.join(ws.root, label.pkg, BUILD_FILE)
    if not os.path.isfile(path):
        return None, display
    return read_build_file(path, display), display


def discover(ws) -> list[WorkspaceLane]:
    """The lanes of the root BUILD.toml's toolchain targets and of the registered labels."""
    found: list[tuple[Label, str, dict]] = []
    for name, table in ws.root_data.items():
        if name not in ("workspace", "package") and isinstance(table, dict) and table.get("rule") == RULE:
            found.append((Label("", name), BUILD_FILE, table))
    for text in ws.config.toolchain_labels:
        try:
            label = parse_label(text, "")
        except LabelError as e:
            raise BuildFileError(e.message, file=BUILD_FILE, target="workspace", field="toolchains") from None
        data, display = _raw_table(ws, label)
        table = data.get(label.name) if data is not None else None
        if not isinstance(table, dict) or table.get("rule") != RULE:
            raise BuildFileError(f"'{text}' is not a `toolchain` target", file=BUILD_FILE, target="workspace",
                                 field="toolchains", hint=f"declare [{label.name}] with rule = \"toolchain\" in "
                                                          f"{display}")
        if (label, display, table) not in found:
            found.append((label, display, table))
    lanes = []
    for label, display, table in found:
        lane = table.get("lane")
        if not isinstance(lane, str) or not lane:
            raise BuildFileError("a toolchain target needs a `lane` name", file=display, target=label.name,
                                 field="lane")
        lanes.append(WorkspaceLane(lane, label, display))
    return lanes


def register(registry, ws) -> None:
    """Add the workspace's lanes to the registry (a name taken twice is an error)."""
    for lane in discover(ws):
        registry.add_toolchain(lane, f"{lane.label} ({lane.file})")
