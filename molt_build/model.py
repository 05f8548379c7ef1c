"""The plain data the engine passes around: files, providers, actions and resolved
toolchains. Free of pydantic and of any rule: the cached-analysis path of a build
uses only this module. Plugins import these names from `molt_build.api`."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Mapping

from molt_build.errors import AnalysisError
from molt_build.labels import Label


@dataclass(frozen=True, slots=True)
class File:
    """A file in the exec root: a source (`pkg/a.c`) or a declared output (`moltb-out/...`)."""

    path: str
    is_source: bool = True
    owner: Label | None = None
    # A tool file from outside the workspace (e.g. one of moltb's own helper modules):
    # its absolute host path. `path` is where it is staged in the exec root.
    origin: str = ""

    @property
    def locator(self) -> str:
        """Where the file is read on the host: the origin, else the root-relative path."""
        return self.origin or self.path

    @property
    def basename(self) -> str:
        return posixpath.basename(self.path)

    @property
    def stem(self) -> str:
        return posixpath.splitext(self.basename)[0]

    @property
    def extension(self) -> str:
        return posixpath.splitext(self.path)[1]

    @property
    def dirname(self) -> str:
        return posixpath.dirname(self.path)


# ------------------------------------------------------------------------- providers

class Provider:
    """Base of provider types. Subclass as a frozen dataclass named `*Info` with
    hashable fields (tuples), so providers can be shared and memoised."""


@dataclass(frozen=True)
class DefaultInfo(Provider):
    """What every target offers: its default output files and, if runnable, its executable."""

    files: tuple[File, ...] = ()
    executable: File | None = None
    runfiles: tuple[File, ...] = ()




@dataclass(frozen=True)
class Tool:
    """A program an action runs, as inputs: the argv that starts it, the files it is
    made of (staged into the exec root and keyed by content, like any input) and the
    environment it needs (keyed). Declare it with `ctx.action(tools=[...])`."""

    argv: tuple[str, ...]
    files: tuple[File, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Action:
    """An action as plain data. Everything that can change its result is part of its key:
    argv, env, the content of every input, the declared outputs and (when
    `uses_toolchain`) the toolchain fingerprint."""

    owner: Label
    mnemonic: str
    argv: tuple[str, ...]
    inputs: tuple[File, ...]
    outputs: tuple[File, ...]
    env: tuple[tuple[str, str], ...] = ()
    progress: str = ""
    timeout: float | None = None
    uses_toolchain: bool = True
    config: str = ""
    test: bool = False            # a test run: its failure is a test result, not a build failure
    retries: int = 0              # a test run's own retry budget (flaky tests)
    toolchain: str = ""           # the toolchain it uses when not its configuration's (a lane)
    # Tags that change how it runs (Bazel's execution requirements): `requires-network`
    # keeps the network in the namespace sandbox, `no-sandbox` runs it in the light one.
    requirements: tuple[str, ...] = ()
    ram_mb: int = 0               # RAM estimate (0: none; the scheduler learns from its last run)
    cpu: int = 1                  # CPU slots it uses
    ram_declared: bool = False    # ram_mb comes from the target's `resources` (it wins over learning)
    # What test reports say about a test run (not keyed): e.g. ("case", its file), ("lanes", "a,b").
    report: tuple[tuple[str, str], ...] = ()


# ------------------------------------------------------------------------ toolchains

@dataclass(frozen=True)
class ToolchainInfo:
    """A resolved toolchain. `fingerprint` names tool identities, versions, target and
    flags; it enters every key of actions using the toolchain. `env` is keyed too;
    `private_env` is not (tool-private caches that never change outputs). `tool_files`
    are stat'ed by the no-op check so an upgraded tool invalidates it. `tool_dirs` are
    put in front of PATH at run time but not keyed: where a tool is installed does not
    change what it does; its version is in the fingerprint."""

    name: str
    fingerprint: str
    env: Mapping[str, str] = field(default_factory=dict)
    private_env: Mapping[str, str] = field(default_factory=dict)
    tool_files: tuple[str, ...] = ()
    tool_dirs: tuple[str, ...] = ()
    version: str = ""
    runner: str = "native"
    run_prefix: tuple[str, ...] = ()     # argv that runs a built executable (empty: run it directly)
    run_tool: Tool | None = None         # the same, as a tool an action that runs programs declares
    # Host directories its tools read, beyond the system's (bound read-only in a
    # namespace sandbox, with `tool_dirs`; `private_env` directories are bound writable).
    sandbox_paths: tuple[str, ...] = ()
    # Variables taken from the user's environment when the toolchain resolves: `pass_env`
    # ones are keyed (in `env`); `private_env` ones (tool-private state such as a
    # compiler's own cache) are not keyed and, being directories, are bound writable.
    pass_env: tuple[str, ...] = ()
    private_pass_env: tuple[str, ...] = ()
    providers: Mapping[type, Provider] = field(default_factory=dict)

    def __getitem__(self, provider_type: type) -> Any:
        try:
            return self.providers[provider_type]
        except KeyError:
            raise AnalysisError(f"toolchain '{self.name}' does not provide {provider_type.__name__}") from None

    def get(self, provider_type: type, default: Any = None) -> Any:
        return self.providers.get(provider_type, default)

