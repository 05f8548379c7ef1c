"""Which remote cache and which executor a build uses, and opening them: a flag
(`--remote`, `--executor`), else the environment ($MOLTB_REMOTE, $MOLTB_EXECUTOR), else
`[workspace] remote` / `executor`. A remote that cannot be used (the `remote` extra is not
installed) is a warning: the build goes on with the local cache."""
from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from dataclasses import replace

from molt_build.build_file import read_build_file
from molt_build.errors import MoltbError, UsageError
from molt_build.layout import BUILD_FILE, WORKSPACE_LINE


def _setting(flag: str | None, env: str, field: str, root: str) -> str | None:
    """A flag, else an environment variable, else the [workspace] field (read plainly:
    an incremental build loads no workspace model; analysis validates the field)."""
    if flag:
        return flag
    if os.environ.get(env):
        return os.environ[env]
    table = workspace_table(root)
    value = table.get(field) if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


_TABLE_HEADER = re.compile(rb"^\s*\[", re.MULTILINE)


def workspace_table(root: str) -> dict | None:
    """The root BUILD.toml's [workspace] table. Only its own lines are parsed when they
    parse alone (a root package of thousands of targets is not read on every build);
    else the whole file."""
    path = os.path.join(root, BUILD_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    start = WORKSPACE_LINE.search(data)
    if start is not None:
        header_end = data.index(b"]", start.start()) + 1
        nxt = _TABLE_HEADER.search(data, header_end)
        chunk = data[start.start():nxt.start() if nxt else len(data)]
        try:
            table = tomllib.loads(chunk.decode("utf-8-sig")).get("workspace")
            if isinstance(table, dict):
                return table
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            pass
    try:
        table = read_build_file(path, path).get("workspace")
    except MoltbError:
        return None
    return table if isinstance(table, dict) else None


def remote_url(req, root: str) -> str | None:
    return _setting(req.remote, "MOLTB_REMOTE", "remote", root)


def open_runner(req, root: str, cache_dir: str, executor, jobs: int | None, remote, progress, events):
    """The action runner: local processes, a Dask cluster (`--executor dask://...`) or a
    REAPI Execution service (`--executor reapi://...`, which is then also the remote
    cache unless `--remote` names another)."""
    from molt_build.runner import LocalRunner
    url = _setting(req.executor, "MOLTB_EXECUTOR", "executor", root)
    if not url:
        return LocalRunner(executor, jobs or 1)
    if url.startswith("dask://"):
        if importlib.util.find_spec("distributed") is None:
            raise UsageError(f"--executor {url} needs the dask extra: pip install 'molt_build[dask]'")
        from molt_build.dask_runner import DaskRunner
        return DaskRunner(url, executor.sandbox_base, cache_dir, root, executor.requested, remote)
    if url.startswith(("reapi://", "reapis://")):
        if remote is None:
            cache_url = ("grpcs://" if url.startswith("reapis://") else "grpc://") + url.split("://", 1)[1]
            remote = open_remote(replace(req, remote=cache_url), root, cache_dir, executor.cas, progress, events)
        if remote is None:
            raise UsageError(f"--executor {url} needs the remote extra: pip install 'molt_build[remote]'")
        from molt_build.reapi_runner import ReapiRunner
        return ReapiRunner(remote, LocalRunner(executor, jobs or 1), jobs or 1)
    raise UsageError(f"executor '{url}' is not dask://host:port or reapi://host:port")


def open_remote(req, root: str, cache_dir: str, cas, progress, events):
    """A RemoteCache for the request, or None."""
    url = remote_url(req, root)
    if not url:
        return None

    def warn(text: str) -> None:
        progress.print(f"WARNING: {text}")
        events.emit("remote_warning", message=text)
    try:
        from molt_build.remote_cache import RemoteCache, RemoteSettings, check_url
    except ImportError as e:
        warn(f"--remote {url} needs the remote extra (pip install 'molt_build[remote]'): {e}; "
             "building with the local cache only")
        return None
    check_url(url)          # a malformed URL is the user's mistake: exit 2, naming it
    settings = RemoteSettings(url, req.remote_instance, req.remote_upload, req.remote_timeout,
                              token=os.environ.get("MOLTB_REMOTE_TOKEN", ""))
    events.emit("remote", url=url, instance=req.remote_instance, upload=req.remote_upload)
    return RemoteCache(settings, cas, cache_dir, warn)
