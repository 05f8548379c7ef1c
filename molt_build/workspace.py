"""Workspace discovery and the `[workspace]` table.

The workspace root is the nearest ancestor whose BUILD.toml has a `[workspace]` table.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from molt_build.build_file import read_build_file, read_bytes
from molt_build.errors import BuildFileError, UsageError

from molt_build.layout import BUILD_FILE, WORKSPACE_LINE


class WorkspaceConfig(BaseModel):
    """The `[workspace]` table of the root BUILD.toml."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(default="", description="The workspace's name.")
    default_toolchain: str = Field(default="native", description="Toolchain used when none is given.")
    default_profile: Literal["dev", "release"] = Field(default="dev", description="dev or release.")
    cache_dir: str | None = Field(default=None, description="Cache location, relative to the root.")
    plugin_dirs: list[str] = Field(default_factory=list,
                                   description="Directories of plugin modules (rules, toolchains).")
    remote: str | None = Field(default=None, description="Remote cache URL (grpc://host:port, grpcs://host:port).")
    executor: str | None = Field(default=None, description="Where actions run: dask://host:port (default: here).")
    toolchains: Union[dict[str, dict[str, Any]], list[str]] = Field(
        default_factory=dict, description="Per-toolchain settings tables ([workspace.toolchains.NAME]), or the "
                                          "labels of `toolchain` targets to register.")
    register_toolchains: list[str] = Field(default_factory=list,
                                           description="Labels of `toolchain` targets outside the root BUILD.toml "
                                                       "(Bazel's register_toolchains).")
    ignore: list[str] = Field(default_factory=list,
                              description="Root-relative directories never searched for packages.")

    @property
    def toolchain_settings(self) -> dict[str, dict[str, Any]]:
        """The [workspace.toolchains.NAME] settings tables."""
        return self.toolchains if isinstance(self.toolchains, dict) else {}

    @property
    def toolchain_labels(self) -> list[str]:
        """Labels of registered `toolchain` targets (`toolchains = [...]` and `register_toolchains`)."""
        return (list(self.toolchains) if isinstance(self.toolchains, list) else []) + list(self.register_toolchains)


def format_validation_error(err: ValidationError) -> list[tuple[str, str]]:
    """(field, message) pairs from a pydantic error, in words a BUILD.toml author knows:
    one per field (`deps = [1, 2]` is one mistake, not two), in the order they occur."""
    out: list[tuple[str, str]] = []
    more: dict[str, int] = {}
    for field, msg in _each_error(err):
        if field in more:
            more[field] += 1
        else:
            more[field] = 0
            out.append((field, msg))
    return [(f, m + (f" (and {more[f]} more error{'s' if more[f] > 1 else ''} in this field)" if more[f] else ""))
            for f, m in out]


def _each_error(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        # The field is the attribute itself (what `validate --json` reports and a tool
        # looks up); a position inside it (`deps[0]`) goes into the message instead.
        loc = str(e["loc"][0]) if e["loc"] else "?"
        inner = " ".join(f"item {p}" if isinstance(p, int) else f"'{p}'" for p in e["loc"][1:])
        kind = e["type"]
        value = e.get("input")
        if kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "missing":
            msg = "required field is missing"
        else:
            msg = e["msg"]
            if not isinstance(value, dict):
                msg += f", got {value!r} ({type(value).__name__})"
        out.append((loc, f"{inner}: {msg}" if inner else msg))
    return out


@dataclass
class Workspace:
    """A located workspace: its root directory, parsed config and root BUILD.toml data."""

    root: str
    config: WorkspaceConfig
    root_data: dict

    @property
    def cache_dir(self) -> str:
        env = os.environ.get("MOLTB_CACHE_DIR")
        if env:
            return os.path.abspath(env)
        if self.config.cache_dir:
            return os.path.normpath(os.path.join(self.root, self.config.cache_dir))
        return os.path.join(self.root, "cache")

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)




def find_root(start: str) -> tuple[str, dict]:
    """Walk up from `start` to the directory whose BUILD.toml has a [workspace] table.

    A package's BUILD.toml that does not parse is passed over, so the workspace above it
    is still found and loading reports that file (with the others) relative to the root.
    Its error is raised if it looks like a root (a `[workspace]` line) or if no workspace
    turns up: an outer workspace must not silently stand in for a broken root."""
    d = os.path.abspath(start)
    first_error: BuildFileError | None = None
    while True:
        bf = os.path.join(d, BUILD_FILE)
        if os.path.isfile(bf):
            try:
                data = read_build_file(bf, bf)
            except BuildFileError as e:
                try:
                    looks_like_root = WORKSPACE_LINE.search(read_bytes(bf, bf)) is not None
                except BuildFileError:
                    looks_like_root = False
                if looks_like_root:
                    raise
                first_error = first_error or e
                data = {}
            if isinstance(data.get("workspace"), dict):
                return d, data
        parent = os.path.dirname(d)
        if parent == d:
            if first_error is not None:
                raise first_error
            raise UsageError(f"no workspace found at or above {start}",
                             hint="create a BUILD.toml with a [workspace] table at the project root")
        d = parent


def load_workspace(start: str | None = None) -> Workspace:
    root, data = find_root(start or os.getcwd())
    try:
        config = WorkspaceConfig.model_validate(data["workspace"])
    except ValidationError as e:
        field, msg = format_validation_error(e)[0]
        raise BuildFileError(msg, file=BUILD_FILE, target="workspace", field=field) from None
    return Workspace(root, config, data)
