"""The compare node of a differential case:

    python -m molt_build.rules.difftool MARKER SPEC_JSON

Runs each lane's candidate (or reads its recorded compile error), compares it with the
reference (CPython's recorded run for a .py case; the first lane for a .c case) and
with the expected stdout, and reports one status: PASSED, FAILED, XFAIL, XPASS,
SKIPPED or OOM. The status goes to $TEST_STATUS_FILE; a passing status (PASSED, XFAIL,
SKIPPED) also writes MARKER and exits 0, a failing one exits 1. The log (stdout) names
each lane's result and shows a unified diff of any output that differs.

Per-case metadata is a comment in the case: `# MOLT_META: xfail=reason, skip,
stdout=relaxed, stderr=exception` (`//` comments in C). The expected-failure manifest is
TOML: `[xfail]` with `"//pkg:case" = "reason"` or `{reason = "...", lanes = ["native"]}`."""
from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import tomllib

from molt_build.test_outcome import classify_failure, oom_kills

COMPILE_ERROR = b"moltb-compile-error"
META = re.compile(r"^\s*(?:#|//)\s*MOLT_META\s*:(.*)$", re.M)
EXCEPTION_LINE = re.compile(rb"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)\b.*)$", re.M)
SYNTAX = (b"SyntaxError", b"IndentationError", b"TabError")


class BadManifest(Exception):
    """The expected-failure manifest cannot be read."""


class Run:
    """One program's observable behaviour."""

    def __init__(self, stdout: bytes = b"", stderr: bytes = b"", code: int = 0, compile_error: str = ""):
        self.stdout, self.stderr, self.code, self.compile_error = stdout, stderr, code, compile_error
        self.max_rss_kb = 0
        self.oom_killed = False      # the kernel's OOM killer struck while it ran

    def describe(self) -> str:
        return "compile error" if self.compile_error else f"exit {self.code}"


def parse_meta(text: str) -> dict[str, str]:
    meta: dict[str, str] = {}
    for m in META.finditer(text):
        for item in m.group(1).split(","):
            item = item.strip()
            if not item:
                continue
            key, _, value = item.partition("=")
            meta[key.strip().lower()] = value.strip() or "yes"
    return meta


def manifest_entry(path: str, label: str) -> tuple[str, list[str]] | None:
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise BadManifest(f"{path}: {e}") from None
    table = data.get("xfail", {})
    if not isinstance(table, dict):
        raise BadManifest(f"{path}: [xfail] must be a table of label = reason")
    entry = table.get(label)
    if entry is None:
        return None
    if isinstance(entry, str):
        return entry, []
    return str(entry.get("reason", "listed in the expected-failure manifest")), list(entry.get("lanes", []))


def exception_of(stderr: bytes) -> bytes:
    """The last `Type: message` line of a traceback (exception type and message)."""
    found = EXCEPTION_LINE.findall(stderr)
    return found[-1].strip() if found else b""


def is_python_compile_error(run: Run) -> bool:
    return run.code != 0 and exception_of(run.stderr).split(b":")[0].split(b".")[-1] in SYNTAX


def run_lane(lane: dict, args: list[str]) -> Run:
    with open(lane["program"], "rb") as f:
        head = f.read(len(COMPILE_ERROR))
    if head == COMPILE_ERROR:
        with open(lane["program"], "rb") as f:
            return Run(compile_error=f.read().decode(errors="replace"))
    argv = list(lane["run"]) + list(args)
    if not lane["run"][:-1] and not os.path.isabs(argv[0]):
        argv[0] = os.path.join(".", argv[0])          # a native program, by its exec-root path
    rss_file = ""
    if os.environ.get("TEST_RSS_FILE"):               # measured: run it from a small process
        from molt_build import rss_exec
        rss_file = os.path.join(os.environ.get("TMPDIR", "."), f"rss-{lane['name']}")
        argv = [sys.executable, "-S", "-E", rss_exec.__file__, rss_file, "0", "--", *argv]
    kills = oom_kills()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    code = proc.returncode
    if code < 0:
        code = 128 - code                               # as a shell reports a signal
    run = Run(proc.stdout, proc.stderr, code)
    run.oom_killed = kills >= 0 and oom_kills() > kills
    if rss_file:
        try:
            with open(rss_file) as f:
                run.max_rss_kb = int(f.read().strip() or 0)
        except (OSError, ValueError):
            pass
    return run


def is_oom(run: Run) -> bool:
    """Out of memory, as moltb names a failing test (see molt_build/test_outcome.py)."""
    if run.compile_error or run.code == 0:
        return False
    rlimit = int(os.environ.get("TEST_RLIMIT_MB") or 0)
    return classify_failure(run.code, run.stderr, rlimit, run.oom_killed)[0] == "OOM"


def relaxed(data: bytes) -> list[str]:
    lines = [ln.rstrip() for ln in data.decode(errors="replace").splitlines()]
    return [ln for ln in lines if ln]


def udiff(a: bytes, b: bytes, name_a: str, name_b: str) -> str:
    return "".join(difflib.unified_diff(a.decode(errors="replace").splitlines(True),
                                        b.decode(errors="replace").splitlines(True), name_a, name_b))


def compare(ref: Run, got: Run, ref_name: str, lane: str, stderr_mode: str, relaxed_stdout: bool,
            python: bool) -> list[str]:
    """What differs between two runs (empty: they agree)."""
    if got.compile_error:
        if ref.compile_error or (python and is_python_compile_error(ref)):
            return []          # neither side compiles: agreement
        return [f"{lane} failed to compile, {ref_name} did not:\n{got.compile_error}"]
    if ref.compile_error:
        return [f"{ref_name} failed to compile, {lane} did not ({got.describe()})"]
    # CPython's SyntaxError against a candidate that compiled and ran: the outputs decide.
    problems = []
    same = relaxed(ref.stdout) == relaxed(got.stdout) if relaxed_stdout else ref.stdout == got.stdout
    if not same:
        problems.append(f"stdout differs ({ref_name} vs {lane}):\n" +
                        udiff(ref.stdout, got.stdout, f"{ref_name}/stdout", f"{lane}/stdout"))
    if ref.code != got.code:
        problems.append(f"exit code differs: {ref_name} {ref.code}, {lane} {got.code}")
    if stderr_mode == "exact" and ref.stderr != got.stderr:
        problems.append(f"stderr differs ({ref_name} vs {lane}):\n" +
                        udiff(ref.stderr, got.stderr, f"{ref_name}/stderr", f"{lane}/stderr"))
    elif stderr_mode == "exception" and exception_of(ref.stderr) != exception_of(got.stderr):
        problems.append(f"exception differs: {ref_name} {exception_of(ref.stderr).decode(errors='replace')!r}, "
                        f"{lane} {exception_of(got.stderr).decode(errors='replace')!r}")
    return problems


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def finish(marker: str, status: str, lines: list[str], runs=()) -> int:
    sys.stdout.write("\n".join(lines) + f"\n{status}\n")
    peak = max((r.max_rss_kb for _, r in runs), default=0)
    if peak and os.environ.get("TEST_RSS_FILE"):      # the programs under test, not this tool
        with open(os.environ["TEST_RSS_FILE"], "w") as f:
            f.write(f"{peak}\n")
    path = os.environ.get("TEST_STATUS_FILE")
    if path:
        with open(path, "w") as f:
            f.write(status + "\n")
    if status in ("PASSED", "XFAIL", "SKIPPED"):
        with open(marker, "w") as f:
            f.write(status + "\n")
        return 0
    return 1


def main(marker: str, spec: dict) -> int:
    source = read(spec["case"]).decode(errors="replace")
    meta = parse_meta(source)
    lines = [f"case {spec['case']} ({spec['label']})"]
    if "skip" in meta:
        return finish(marker, "SKIPPED", lines + [f"skipped: {meta['skip']}"])
    stderr_mode = meta.get("stderr", spec["stderr"])
    relaxed_stdout = meta.get("stdout") == "relaxed"
    xfail, xfail_lanes = spec["xfail"], []
    if "xfail" in meta:
        xfail = meta["xfail"] if meta["xfail"] != "yes" else "marked xfail in the case"
    try:
        listed = manifest_entry(spec["manifest"], spec["label"])
    except BadManifest as e:
        return finish(marker, "FAILED", lines + [f"cannot use the expected-failure manifest: {e}"])
    if listed:
        xfail, xfail_lanes = listed
    python = spec["kind"] == "py"
    runs: list[tuple[str, Run]] = []
    for lane in spec["lanes"]:
        got = run_lane(lane, spec["args"])
        runs.append((lane["name"], got))
        lines.append(f"{lane['name']}: {got.describe()}, {len(got.stdout)} bytes of stdout")
        if is_oom(got):
            lines.append(got.stderr.decode(errors="replace")[-2000:])
            return finish(marker, "OOM", lines + [f"{lane['name']} ran out of memory"], runs)
    if python:
        r = spec["reference"]
        ref = Run(read(r["stdout"]), read(r["stderr"]), int(read(r["exit"]).strip() or b"0"))
        ref_name = "cpython"
        lines.insert(1, f"cpython: exit {ref.code}, {len(ref.stdout)} bytes of stdout")
        if is_oom(ref):
            lines.append(ref.stderr.decode(errors="replace")[-2000:])
            return finish(marker, "OOM", lines + ["cpython ran out of memory"], runs)
        against = runs
    else:
        ref_name, ref = runs[0]
        against = runs[1:]
    problems: dict[str, list[str]] = {}
    for name, got in against:
        p = compare(ref, got, ref_name, name, stderr_mode, relaxed_stdout, python)
        if p:
            problems[name] = p
    if spec["expected"]:
        want = Run(read(spec["expected"]))
        for name, got in ([(ref_name, ref)] if python else []) + runs:
            if got.compile_error:
                continue
            same = relaxed(want.stdout) == relaxed(got.stdout) if relaxed_stdout else want.stdout == got.stdout
            if not same:
                problems.setdefault(name, []).append(
                    f"stdout differs from {spec['expected']}:\n" +
                    udiff(want.stdout, got.stdout, spec["expected"], f"{name}/stdout"))
    if xfail_lanes:                       # the manifest names the lanes expected to fail
        failing = any(n in xfail_lanes for n in problems)
        others = {n: p for n, p in problems.items() if n not in xfail_lanes}
        if others:
            problems, xfail = others, ""
        elif not failing:
            problems = {}
    for name, ps in problems.items():
        lines.extend(ps)
    if problems:
        if xfail:
            return finish(marker, "XFAIL", lines + [f"expected failure: {xfail}"], runs)
        for name, got in runs:
            if got.stderr:
                lines.append(f"--- {name} stderr ---\n{got.stderr.decode(errors='replace')[-4000:]}")
        return finish(marker, "FAILED", lines, runs)
    if xfail:
        return finish(marker, "XPASS", lines + [f"expected to fail ({xfail}) but every lane matched: "
                                                "remove the xfail mark"], runs)
    return finish(marker, "PASSED", lines, runs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], json.loads(sys.argv[2])))
