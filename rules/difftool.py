"""The run nodes of a differential case:

    python -m molt_build.rules.difftool reference OUT CASE VERSION -- PYTHON CASE ARGS...
    python -m molt_build.rules.difftool MARKER SPEC_JSON

`reference` runs the case under CPython VERSION with the case's MOLT_ENV (unless its
min_py/max_py excludes that version), recording stdout, stderr and the exit status
beside OUT (a program the kernel killed is not a result: the run dies the same way).
The compare node runs each lane's candidate (or reads its
recorded compile error), compares it with the reference (CPython's recorded run for a
.py case; the first lane for a .c case), with the other lanes and with the expected
stdout, and reports one status: PASSED, FAILED, XFAIL, XPASS, SKIPPED or OOM. The
status goes to $TEST_STATUS_FILE; a passing status (PASSED, XFAIL, SKIPPED) also writes
MARKER and exits 0, a failing one exits 1. The log (stdout) names each lane's result and
shows a unified diff of any output that differs.

The case's headers follow Molt's grammar (rules/casemeta.py); the comparison modes are
in rules/comparison.py. The expected-failure manifest is TOML: `[xfail]` with
`"//pkg:case" = "reason"` or `{reason = "...", lanes = ["native"]}`."""
from __future__ import annotations

import difflib
import json
import os
import signal
import subprocess
import sys
import tomllib

from molt_build.rules.casemeta import CaseMeta, parse
from molt_build.rules.comparison import exception_line, same_stderr, same_stdout
from molt_build.test_outcome import classify_failure, oom_kills

COMPILE_ERROR = b"moltb-compile-error"
SYNTAX = ("SyntaxError", "IndentationError", "TabError")
WASM_RUNNERS = ("wasm", "cranelift")


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


def is_python_compile_error(run: Run) -> bool:
    line = exception_line(run.stderr) or ""
    return run.code != 0 and line.split(":")[0].split(".")[-1] in SYNTAX


def run_env(meta: CaseMeta) -> dict[str, str]:
    return {**os.environ, **meta.env}


def run_lane(lane: dict, args: list[str], env: dict[str, str]) -> Run:
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
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env)
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


def udiff(a: bytes, b: bytes, name_a: str, name_b: str) -> str:
    return "".join(difflib.unified_diff(a.decode(errors="replace").splitlines(True),
                                        b.decode(errors="replace").splitlines(True), name_a, name_b))


def compare(ref: Run, got: Run, ref_name: str, lane: str, stdout_mode: str, stderr_mode: str,
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
    if not same_stdout(stdout_mode, ref.stdout, got.stdout):
        mode = "" if stdout_mode == "exact" else f", {stdout_mode}"
        problems.append(f"stdout differs ({ref_name} vs {lane}{mode}):\n" +
                        udiff(ref.stdout, got.stdout, f"{ref_name}/stdout", f"{lane}/stdout"))
    if ref.code != got.code:
        problems.append(f"exit code differs: {ref_name} {ref.code}, {lane} {got.code}")
    if not same_stderr(stderr_mode, ref.stderr, got.stderr):
        ea, eb = exception_line(ref.stderr), exception_line(got.stderr)
        detail = f": {ref_name} {ea!r}, {lane} {eb!r}" if ea is not None and eb is not None else \
            f":\n{udiff(ref.stderr, got.stderr, f'{ref_name}/stderr', f'{lane}/stderr')}"
        problems.append(f"stderr differs ({stderr_mode}){detail}")
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


def selected_lanes(lanes: list[dict], meta: CaseMeta) -> list[dict]:
    """`wasm=no` drops the lanes whose programs run under the wasm runtime; `wasm=only`
    keeps only those."""
    wasm = meta.one("wasm")
    if wasm == "no":
        return [l for l in lanes if l.get("platform") not in WASM_RUNNERS]
    if wasm == "only":
        return [l for l in lanes if l.get("platform") in WASM_RUNNERS]
    return lanes


def expected_failures(spec: dict, meta: CaseMeta, lanes: list[dict]) -> dict[str, str]:
    """Lane -> why it is expected to fail (BadManifest when the manifest is unreadable)."""
    names = [l["name"] for l in lanes]
    out = {n: meta.reason for n in names if meta.expects_failure_of(n)}
    everywhere = spec["xfail"] or (" ".join(meta.meta["xfail"]) or "marked xfail in the case"
                                   if "xfail" in meta.meta else "")
    if everywhere:
        out.update({n: everywhere for n in names})
    listed = manifest_entry(spec["manifest"], spec["label"])
    if listed:
        reason, only = listed
        out.update({n: reason for n in names if not only or n in only})
    return out


def verdict(marker: str, lines: list[str], problems: dict[str, list[str]], expected: dict[str, str],
            runs: list[tuple[str, Run]]) -> int:
    unexpected = {n: p for n, p in problems.items() if n not in expected}
    lines.extend(dict.fromkeys(p for ps in problems.values() for p in ps))
    if unexpected:
        for name, got in runs:
            if got.stderr:
                lines.append(f"--- {name} stderr ---\n{got.stderr.decode(errors='replace')[-4000:]}")
        return finish(marker, "FAILED", lines, runs)
    if problems:
        reasons = sorted({expected[n] for n in problems})
        return finish(marker, "XFAIL", lines + [f"expected failure: {'; '.join(reasons)}"], runs)
    if expected:
        return finish(marker, "XPASS", lines + [f"expected to fail ({'; '.join(sorted(set(expected.values())))}) "
                                                f"on {', '.join(sorted(expected))} but every lane matched: "
                                                "remove the mark"], runs)
    return finish(marker, "PASSED", lines, runs)


def in_range(version: str, meta: CaseMeta) -> bool:
    lo, hi = meta.py_range()
    v = tuple(int(x) for x in version.split("."))[:2]
    return (lo is None or v >= lo[:2]) and (hi is None or v <= hi[:2])


def range_text(meta: CaseMeta) -> str:
    return " ".join(f"{k}={meta.one(k)}" for k in ("min_py", "max_py") if meta.one(k))


def pairings(spec: dict, lanes: list[dict], meta: CaseMeta, lines: list[str]) -> tuple[list, list, str]:
    """(references to read, [(lane, [reference names])], why the case is skipped or '').

    The references are the CPython versions in the case's min_py/max_py range; a lane
    tied to one version is compared with that version's run (and left out when the
    version is out of range), any other lane with every reference of the matrix."""
    refs = [r for r in spec["references"] if in_range(r["version"], meta)]
    left_out = [r["version"] for r in spec["references"] if r["all"] and r not in refs]
    if left_out:
        lines.append(f"not compared with CPython {', '.join(left_out)}: outside {range_text(meta)}")
    for r in refs:
        if "unavailable" in r:
            lines.append(f"{r['name']}: unavailable: {r['unavailable']}")
    usable = {r["version"]: r for r in refs if "unavailable" not in r}
    matrix = [r["name"] for r in usable.values() if r["all"]]
    plan = []
    for lane in lanes:
        tied = lane.get("python", "")
        if tied:
            if tied not in usable:
                why = "unavailable" if any(r["version"] == tied for r in refs) else f"outside {range_text(meta)}"
                lines.append(f"{lane['name']}: not run: it follows CPython {tied}, {why}")
                continue
            plan.append((lane, [usable[tied]["name"]]))
        elif matrix:
            plan.append((lane, matrix))
        else:
            lines.append(f"{lane['name']}: not run: no reference interpreter")
    if not refs:
        return [], [], (f"{range_text(meta)} excludes every reference Python "
                        f"({', '.join(r['version'] for r in spec['references'])})")
    if not plan:
        missing = [r for r in refs if "unavailable" in r]
        why = "; ".join(f"{r['name']} unavailable" for r in missing) or "no lane follows an available CPython"
        return [], [], why
    wanted = {n for _, names in plan for n in names}
    return [r for r in usable.values() if r["name"] in wanted], plan, ""


def main(marker: str, spec: dict) -> int:
    meta = parse(read(spec["case"]).decode(errors="replace"))
    lines = [f"case {spec['case']} ({spec['label']})"]
    if meta.errors:
        return finish(marker, "FAILED", lines + meta.errors)
    if "skip" in meta.meta:
        return finish(marker, "SKIPPED", lines + [f"skipped: {' '.join(meta.meta['skip']) or 'marked skip'}"])
    why = meta.platform_skip()
    if why:
        return finish(marker, "SKIPPED", lines + [f"skipped: {why}"])
    for name, why in sorted(spec.get("unavailable", {}).items()):
        lines.append(f"{name}: unavailable: {why}")
    lanes = selected_lanes(spec["lanes"], meta)
    if not spec["lanes"]:
        return finish(marker, "SKIPPED", lines + ["skipped: no lane is available"])
    if not lanes:
        return finish(marker, "SKIPPED", lines + [f"skipped: wasm={meta.one('wasm')} leaves no lane"])
    python = spec["kind"] == "py"
    references: list[tuple[str, Run]] = []
    plan = [(lane, []) for lane in lanes]
    if python:
        wanted, plan, why = pairings(spec, lanes, meta, lines)
        if why:
            return finish(marker, "SKIPPED", lines + [f"skipped: {why}"])
        for i, r in enumerate(wanted):
            ref = Run(read(r["stdout"]), read(r["stderr"]), int(read(r["exit"]).strip() or b"0"))
            lines.insert(1 + i, f"{r['name']}: exit {ref.code}, {len(ref.stdout)} bytes of stdout")
            if is_oom(ref):
                lines.append(ref.stderr.decode(errors="replace")[-2000:])
                return finish(marker, "OOM", lines + [f"{r['name']} ran out of memory"])
            references.append((r["name"], ref))
        lanes = [lane for lane, _ in plan]
    stdout_mode, stderr_mode = meta.stdout_mode(spec.get("stdout", "exact")), meta.stderr_mode(spec["stderr"])
    try:
        expected = expected_failures(spec, meta, lanes)
    except BadManifest as e:
        return finish(marker, "FAILED", lines + [f"cannot use the expected-failure manifest: {e}"])
    env = run_env(meta)
    runs: list[tuple[str, Run]] = []
    for lane in lanes:
        got = run_lane(lane, spec["args"], env)
        runs.append((lane["name"], got))
        lines.append(f"{lane['name']}: {got.describe()}, {len(got.stdout)} bytes of stdout")
        if is_oom(got):
            lines.append(got.stderr.decode(errors="replace")[-2000:])
            return finish(marker, "OOM", lines + [f"{lane['name']} ran out of memory"], runs)
    problems: dict[str, list[str]] = {}
    by_name = dict(references)
    if python:
        for (lane, names), (name, got) in zip(plan, runs):
            for ref_name in names:
                p = compare(by_name[ref_name], got, ref_name, name, stdout_mode, stderr_mode, True)
                if p:
                    problems.setdefault(name, []).extend(p)
        diverging(runs, [tuple(names) for _, names in plan], expected, stdout_mode, stderr_mode, problems)
    else:
        (ref_name, ref), against = runs[0], runs[1:]
        for name, got in against:
            p = compare(ref, got, ref_name, name, stdout_mode, stderr_mode, False)
            if p:
                problems[name] = p
        references = [(ref_name, ref)]
    if spec["expected"]:
        want = read(spec["expected"])
        for name, got in (references if python else []) + runs:
            if not got.compile_error and not same_stdout(stdout_mode, want, got.stdout):
                problems.setdefault(name, []).append(
                    f"stdout differs from {spec['expected']}:\n" +
                    udiff(want, got.stdout, spec["expected"], f"{name}/stdout"))
    return verdict(marker, lines, problems, expected, runs)


def diverging(runs: list[tuple[str, Run]], against: list[tuple[str, ...]], expected: dict[str, str],
              stdout_mode: str, stderr_mode: str, problems: dict[str, list[str]]) -> None:
    """Candidate lanes (not expected to fail) compared with the same CPython runs that
    disagree with each other fail the case, whichever of them agrees with CPython."""
    checked = [(n, r, refs) for (n, r), refs in zip(runs, against) if n not in expected]
    for i, (a, ra, refs_a) in enumerate(checked):
        for b, rb, refs_b in checked[i + 1:]:
            if refs_a == refs_b and compare(ra, rb, a, b, stdout_mode, stderr_mode, True):
                for name in (a, b):
                    problems.setdefault(name, []).append(f"lanes disagree with each other: {a} vs {b}")


def reference(out: str, case: str, version: str, argv: list[str]) -> int:
    """Run CPython `version` on the case with its MOLT_ENV; record stdout, stderr, exit
    status. A case whose min_py/max_py excludes the version is not run."""
    meta = parse(read(case).decode(errors="replace"))
    if not meta.errors and not in_range(version, meta):
        for suffix, text in ((".stdout", ""), (".stderr", ""), ("", f"not run: outside {range_text(meta)}\n")):
            with open(out + suffix, "w") as f:
                f.write(text)
        return 0
    env = run_env(meta)
    with open(out + ".stdout", "wb") as so, open(out + ".stderr", "wb") as se:
        code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se, env=env).returncode
    if code == -signal.SIGKILL:
        os.kill(os.getpid(), signal.SIGKILL)          # killed (out of memory): not a result to keep
    with open(out, "w") as f:
        f.write(f"{code if code >= 0 else 128 - code}\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["reference"]:
        sys.exit(reference(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[6:]))
    sys.exit(main(sys.argv[1], json.loads(sys.argv[2])))
