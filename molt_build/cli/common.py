"""Options shared by commands, and the single error exit."""
from __future__ import annotations

import functools
import inspect
import os
import sys
from typing import Annotated, Literal, Optional

import typer

from molt_build import flags
from molt_build.errors import MoltbError, environment_problem

_TYPES = {flags.BOOL: bool, flags.INT: int, flags.FLOAT: float, flags.STR: str, flags.STRS: list[str]}


def flag_option(key: str, command: str = flags.BUILD):
    """The typer option of a flag of the table (flags.py), for a parameter's annotation."""
    f = flags.BY_KEY[key]
    kind = Literal[f.choices] if f.kind == flags.CHOICE else _TYPES[f.kind]
    if f.default is None:
        kind = Optional[kind]
    return Annotated[kind, typer.Option(*f.names, help=f.help_for(command), min=f.minimum, max=f.maximum)]


def table_command(command: str, patterns_help: str):
    """Declare `fn(patterns, **values)` with the table's options for `command` (`build`
    or `test`), in the table's order; typer passes the values keyed as the table does."""
    def declare(fn):
        params = [inspect.Parameter("patterns", inspect.Parameter.KEYWORD_ONLY,
                                    annotation=Annotated[list[str], typer.Argument(help=patterns_help)])]
        params += [inspect.Parameter(f.key, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                     annotation=flag_option(f.key, command)) for f in flags.COMMAND_FLAGS[command]]
        fn.__signature__ = inspect.Signature(params)
        fn.__annotations__ = {p.name: p.annotation for p in params}
        return fn
    return declare


CacheDir = flag_option("cache_dir")
Color = flag_option("color")
Quiet = flag_option("quiet")
Verbose = flag_option("verbose")


def abort(err: MoltbError) -> None:
    from molt_build import crash
    raise typer.Exit(crash.handle(err, sys.stderr, command=" ".join(sys.argv[1:2])))


def handles_errors(fn):
    """Turn user errors into their message and exit code, and an OS error saying the
    machine cannot take what moltb writes into exit 36; never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MoltbError as e:
            abort(e)
        except OSError as e:
            env = environment_problem(e)
            if env is None:
                raise
            abort(env)
    return wrapper


def apply_cache_dir(cache_dir: str | None) -> None:
    if cache_dir:
        os.environ["MOLTB_CACHE_DIR"] = os.path.abspath(cache_dir)
