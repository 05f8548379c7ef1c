"""The flags of `moltb build` and `moltb test`, once: names, kind, default, limits, help,
the commands that have them, the BuildRequest field each fills and whether it names the
request's snapshot. The quick parser, the typer options, BuildRequest's defaults and
the snapshot signature are all made from this table.

Import-light on purpose (stdlib only): the no-op fast path imports it first.
"""
from __future__ import annotations

BOOL, INT, FLOAT, STR, CHOICE, STRS = "bool", "int", "float", "str", "choice", "strs"   # STRS: repeatable
BUILD, TEST = "build", "test"
BOTH = (BUILD, TEST)


class Flag:
    """One flag. `key` names it in parsed values (and is the typer parameter name);
    `field` is the BuildRequest field it fills, through `convert` when the flag says
    the opposite (--no-cache fills use_cache). `signature`: the value names the
    snapshot. `no_op`: a no-op build with it can be answered from the snapshot alone."""

    __slots__ = ("names", "kind", "default", "help", "commands", "field", "convert", "choices",
                 "minimum", "maximum", "signature", "no_op", "key")

    def __init__(self, names, kind, default=None, help="", commands=BOTH, field=None, convert=None,
                 choices=(), minimum=None, maximum=None, signature=False, no_op=True):
        self.names = names
        self.kind = kind
        self.default = False if kind == BOOL else default
        self.help = help                 # a text, or {command: text} where they differ
        self.commands = commands
        self.key = names[-1].lstrip("-").replace("-", "_")
        self.field = field or self.key
        self.convert = convert
        self.choices = choices
        self.minimum = minimum
        self.maximum = maximum
        self.signature = signature
        self.no_op = no_op

    def help_for(self, command: str) -> str:
        return self.help if isinstance(self.help, str) else self.help[command]

    def problem(self, value) -> str | None:
        """What is wrong with a typed value, or None."""
        if self.choices and value is not None and value not in self.choices:
            return f"must be {_alternatives(self.choices)}"
        if value is None or self.kind not in (INT, FLOAT):
            return None
        if self.minimum is not None and not value >= self.minimum:
            return f"must be at least {self.minimum}"
        if self.maximum is not None and not value <= self.maximum:
            return f"must be at most {self.maximum}"
        return None

    def request_value(self, value):
        """The BuildRequest field's value for this flag's value."""
        if self.kind == STRS:
            return list(value or ())
        return self.convert(value) if self.convert else value


def _alternatives(choices) -> str:
    return ", ".join(choices[:-1]) + " or " + choices[-1]


def _negate(value: bool) -> bool:
    return not value


def _yes(value: str) -> bool:
    return value == "yes"


MAX_RUNS_PER_TEST = 1000     # --runs-per-test and --flaky-retries: each run is an action

FLAGS = (
    Flag(("-j", "--jobs"), INT, minimum=1,
         help={BUILD: "Parallel actions (default: cores, env MOLTB_JOBS).", TEST: "Parallel actions."}),
    Flag(("-k", "--keep-going"), BOOL,
         help={BUILD: "Build as much as possible after a failure.", TEST: "Go on after a build failure."}),
    Flag(("--toolchain",), STRS, field="toolchains", signature=True, help="Toolchain (repeatable)."),
    Flag(("--profile",), STR, signature=True, help="dev or release."),
    Flag(("--runs-per-test",), INT, 1, commands=(TEST,), minimum=1, maximum=MAX_RUNS_PER_TEST, signature=True,
         help=f"Run each test N times (at most {MAX_RUNS_PER_TEST})."),
    Flag(("--flaky-retries",), INT, 0, commands=(TEST,), minimum=0, maximum=MAX_RUNS_PER_TEST,
         help="Retry a failing run N times; a later pass is FLAKY."),
    Flag(("--test-output",), CHOICE, "errors", commands=(TEST,), choices=("errors", "all", "summary"),
         help="errors, all or summary."),
    Flag(("--junit",), STR, commands=(TEST,), help="Also write the JUnit XML here."),
    Flag(("--measure-rss",), BOOL, commands=(TEST,), help="Report each test's peak RSS."),
    Flag(("--rlimit-mb",), INT, 10240, commands=(TEST,), minimum=0,
         help="Address-space cap per test process, MiB (0: none)."),
    Flag(("--no-retry-oom",), BOOL, commands=(TEST,), field="retry_oom", convert=_negate,
         help="Do not rerun a test killed for memory alone."),
    Flag(("--keep-pass-logs",), BOOL, commands=(TEST,), help="Keep the logs of passing tests."),
    Flag(("--report-format",), CHOICE, "moltb", commands=(TEST,), choices=("moltb", "molt"),
         help="moltb, or molt: failures.txt as case paths and summary.json as Molt's runner writes them."),
    Flag(("--no-cache",), BOOL, field="use_cache", convert=_negate, signature=True,
         help={BUILD: "Run every action; do not read the cache.", TEST: "Run every action and test."}),
    Flag(("--explain",), BOOL, commands=(BUILD,), no_op=False,
         help="Say why each executed action was not a cache hit."),
    Flag(("--action-timeout",), FLOAT, commands=(BUILD,), field="timeout",
         help="Seconds before an action is killed."),
    Flag(("--cache-dir",), STR, signature=True, help="Cache directory (env MOLTB_CACHE_DIR)."),
    Flag(("--remote",), STR, signature=True,
         help="REAPI remote cache: grpc://host:port or grpcs://host:port (env MOLTB_REMOTE, [workspace] remote)."),
    Flag(("--executor",), STR,
         help="Where actions run: dask://host:port (a Dask cluster; env MOLTB_EXECUTOR, [workspace] executor). "
              "Default: here."),
    Flag(("--remote-instance",), STR, "", help="REAPI instance name."),
    Flag(("--remote-upload",), CHOICE, "yes", choices=("yes", "no"), convert=_yes,
         help="yes, or no: read the remote cache only."),
    Flag(("--remote-timeout",), FLOAT, 10.0, minimum=0.001, help="Seconds per remote call."),
    Flag(("--sandbox",), CHOICE, choices=("auto", "namespace", "light", "none"),
         help="auto (namespace where bubblewrap works, else light), namespace, light or none (env MOLTB_SANDBOX)."),
    Flag(("--local-ram-mb",), INT, minimum=1,
         help="RAM budget (MiB) of running actions; each starts only when its estimate fits "
              "(default: 67% of MemAvailable)."),
    Flag(("--profile-out",), STR, commands=(BUILD,), no_op=False, help="Write a Chrome trace JSON here."),
    Flag(("--watch",), BOOL, no_op=False,
         help={BUILD: "Rebuild on every change.", TEST: "Rebuild and retest on every change."}),
    Flag(("--no-server",), BOOL,
         help="Run in this process, not in the workspace's server (also MOLTB_SERVER=0)."),
    Flag(("--color",), CHOICE, "auto", choices=("auto", "yes", "no"), help="auto, yes or no."),
    Flag(("-q", "--quiet"), BOOL, help="Only errors and the summary."),
    Flag(("-v", "--verbose"), BOOL, help="More detail (event log path, ...)."),
)
BY_KEY = {f.key: f for f in FLAGS}
COMMAND_FLAGS = {c: tuple(f for f in FLAGS if c in f.commands) for c in BOTH}
_BY_NAME = {c: {n: f for f in flags for n in f.names} for c, flags in COMMAND_FLAGS.items()}


def field_defaults() -> dict[str, object]:
    """BuildRequest's defaults, from the flags' defaults."""
    return {f.field: f.request_value(f.default) for f in FLAGS}


def _typed(flag: Flag, text: str):
    """A flag's text as its typed value, or None when it is not one."""
    if flag.kind == INT:
        return int(text) if text.isascii() and text.isdigit() else None
    if flag.kind == FLOAT:
        try:
            return float(text)
        except ValueError:
            return None
    return text


def parse(args: list[str], command: str):
    """(patterns, values, given) for a command line of the table's flags: `values` has
    every flag of the command (defaults filled in), typed and checked; `given` maps each
    flag given to its value. None when the line is unusual or a value is invalid: the
    full CLI then parses it and explains."""
    by_name = _BY_NAME[command]
    patterns: list[str] = []
    given: dict[Flag, object] = {}
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            patterns.extend(args[i:])
            break
        if not a.startswith("-") or a == "-":
            patterns.append(a)
            continue
        name, eq, text = a.partition("=") if a[:2] == "--" else (a, "", "")   # as click: -j=2 is not -j 2
        if name[:2] == "-j" and len(name) > 2:    # -j2
            name, eq, text = "-j", "=", name[2:]
        flag = by_name.get(name)
        if flag is None or (flag.kind == BOOL and eq):
            return None
        if flag.kind == BOOL:
            given[flag] = True
            continue
        if not eq:
            if i >= len(args):
                return None
            text = args[i]
            i += 1
        value = _typed(flag, text)
        if value is None or flag.problem(value) is not None:
            return None
        if flag.kind == STRS:
            given[flag] = [*given.get(flag, ()), value]
        else:
            given[flag] = value
    if not patterns:
        return None
    values = {f.key: given.get(f, f.default) for f in COMMAND_FLAGS[command]}
    return patterns, values, given


def signature(command: str, values: dict) -> dict[str, list[str]]:
    """What names a request's snapshot, from its flags' values (the same from the quick
    parser and from the typer commands): the signature flags that differ from their
    default, and the command when it is not a plain build."""
    sig: dict[str, list[str]] = {} if command == BUILD else {"command": [command]}
    for f in COMMAND_FLAGS[command]:
        value = values[f.key]
        if f.signature and value != f.default and value != []:
            sig[f.names[-1]] = list(value) if f.kind == STRS else ["1"] if f.kind == BOOL else [str(value)]
    return sig


def request_fields(command: str, values: dict) -> dict:
    """BuildRequest's fields (all but the patterns) for a command's flag values."""
    fields = {f.field: f.request_value(values[f.key]) for f in COMMAND_FLAGS[command]}
    fields["command"] = command
    fields["sig_options"] = signature(command, values)
    return fields
