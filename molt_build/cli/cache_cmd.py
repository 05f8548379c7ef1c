"""`moltb cache stats|prune|verify|export|import|clear`."""
from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Optional

import typer

from molt_build.cli import app
from molt_build.cli.common import CacheDir, handles_errors

cache_app = typer.Typer(help="Inspect and maintain the shared cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def resolve_cache_dir(cache_dir: str | None) -> str:
    """--cache-dir, else MOLTB_CACHE_DIR, else the workspace's cache."""
    if cache_dir:
        return os.path.abspath(cache_dir)
    if os.environ.get("MOLTB_CACHE_DIR"):
        return os.path.abspath(os.environ["MOLTB_CACHE_DIR"])
    from molt_build.workspace import load_workspace
    return load_workspace(os.getcwd()).cache_dir


def _out(data: dict, as_json: bool, text: str) -> None:
    sys.stdout.write(json.dumps(data, indent=1) + "\n" if as_json else text)


@cache_app.command()
@handles_errors
def stats(cache_dir: CacheDir = None, as_json: AsJson = False) -> None:
    """Entries, bytes, hit rate of recent builds, lock waits."""
    from molt_build.cache_ops import human, stats as cache_stats
    s = cache_stats(resolve_cache_dir(cache_dir))
    rate = "n/a" if s["recent_hit_rate"] is None else f"{s['recent_hit_rate'] * 100:.1f}%"
    _out(s, as_json,
         f"cache: {s['cache_dir']}\n"
         f"entries: {s['entries']}\n"
         f"blobs: {s['blobs']} ({human(s['bytes'])})\n"
         f"recent builds: {s['recent_builds']} ({s['recent_actions']} actions: {s['recent_executed']} executed, "
         f"{s['recent_cached']} cached; hit rate {rate})\n"
         f"lock waits: {s['recent_lock_waits']} in recent builds ({s['recent_lock_wait_s']:.2f} s), "
         f"{s['lock_waits']} in all {s['builds']} builds ({s['lock_wait_s']:.2f} s)\n")


@cache_app.command()
@handles_errors
def prune(
    max_size: Annotated[Optional[str], typer.Option("--max-size", help="e.g. 30G")] = None,
    max_age: Annotated[Optional[str], typer.Option("--max-age", help="e.g. 30d")] = None,
    cache_dir: CacheDir = None, as_json: AsJson = False,
) -> None:
    """Remove least recently used entries beyond --max-size / older than --max-age."""
    from molt_build.cache_ops import human, parse_age, parse_size, prune as cache_prune
    if max_size is None and max_age is None:
        raise typer.BadParameter("give --max-size and/or --max-age")
    r = cache_prune(resolve_cache_dir(cache_dir), parse_size(max_size) if max_size else None,
                    parse_age(max_age) if max_age else None)
    shared = f", {r.analyses_removed} shared analyses" if r.analyses_removed else ""
    _out(r.__dict__, as_json, f"removed {r.rows_removed} entries and {r.blobs_removed} blobs "
                              f"({human(r.bytes_removed)}){shared}; {human(r.bytes_kept)} kept\n")


@cache_app.command()
@handles_errors
def verify(cache_dir: CacheDir = None, as_json: AsJson = False) -> None:
    """Check the database and rehash every blob; report and drop what is damaged
    (exit 1 if anything was)."""
    from molt_build.cache_ops import human, verify as cache_verify
    r = cache_verify(resolve_cache_dir(cache_dir))
    text = (f"database: {r.database}\n"
            f"verified {r.blobs} blobs ({human(r.bytes)}): {len(r.corrupt)} corrupt, "
            f"{r.rows_dropped} entries dropped ({r.rows_malformed} malformed)\n"
            + "".join(f"  corrupt: {c}\n" for c in r.corrupt))
    _out({"database": r.database, "blobs": r.blobs, "bytes": r.bytes, "corrupt": r.corrupt,
          "rows_dropped": r.rows_dropped, "rows_malformed": r.rows_malformed}, as_json, text)
    raise typer.Exit(1 if r.corrupt or r.rows_malformed or r.database != "ok" else 0)


@cache_app.command("export")
@handles_errors
def export_cmd(file: Annotated[str, typer.Argument(help="Tarball to write (.tar or .tar.gz)")],
               cache_dir: CacheDir = None) -> None:
    """Write the cache to a tarball (for CI caches)."""
    from molt_build.cache_ops import human
    from molt_build.cache_transfer import export
    r = export(resolve_cache_dir(cache_dir), file)
    sys.stdout.write(f"exported {r['blobs']} blobs to {r['file']} ({human(r['bytes'])})\n")


@cache_app.command("import")
@handles_errors
def import_cmd(file: Annotated[str, typer.Argument(help="Tarball made by `moltb cache export`")],
               cache_dir: CacheDir = None) -> None:
    """Merge a tarball into the cache; unsafe or inconsistent tarballs are refused whole."""
    from molt_build.cache_transfer import import_
    r = import_(resolve_cache_dir(cache_dir), file)
    sys.stdout.write(f"imported {r['blobs']} blobs and {r['entries']} entries"
                     + (f" ({r['skipped_entries']} entries skipped: blobs missing)" if r["skipped_entries"] else "")
                     + "\n")


@cache_app.command()
@handles_errors
def clear(cache_dir: CacheDir = None) -> None:
    """Remove every entry and blob."""
    from molt_build.cache_ops import clear as cache_clear
    d = resolve_cache_dir(cache_dir)
    cache_clear(d)
    sys.stdout.write(f"cleared {d}\n")
