"""Which remote cache a build uses, and opening it: `--remote`, else $MOLTB_REMOTE,
else `[workspace] remote`. A remote that cannot be used (the `remote` extra is not
installed) is a warning: the build goes on with the local cache."""
from __future__ import annotations

import os

from molt_build.errors import MoltbError


def remote_url(req, root: str) -> str | None:
    if req.remote:
        return req.remote
    if os.environ.get("MOLTB_REMOTE"):
        return os.environ["MOLTB_REMOTE"]
    from molt_build.workspace import load_workspace
    try:
        return load_workspace(root).config.remote
    except MoltbError:
        return None


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
