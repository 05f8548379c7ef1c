"""Test reports for `moltb test`: one log per test under `moltb-out/testlogs/`,
`summary.json`, `failures.txt` (one label per line, re-runnable with
`moltb test $(cat failures.txt)`) and `junit.xml`, written afresh by each invocation;
the event log keeps the history."""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

from molt_build.errors import EXIT_BUILD_FAILED, EXIT_NO_TESTS, EXIT_OK, EXIT_TESTS_FAILED, UsageError
from molt_build.layout import TESTLOGS_DIR
from molt_build.molt_reports import write_molt_reports, write_results_jsonl

FAILING = ("FAILED", "TIMEOUT", "XPASS", "OOM")
PRUNED = ("PASSED", "SKIPPED")          # logs not kept without --keep-pass-logs
ORDER = {"PASSED": 0, "SKIPPED": 1, "XFAIL": 2, "FLAKY": 3, "FAILED": 4, "TIMEOUT": 5, "XPASS": 5, "OOM": 6}


def counts_of(tests: list[dict]) -> dict:
    """The event log's counts (passed, failed, cached, flaky, xfail, skipped); failed
    covers every failing status, which are also counted on their own."""
    c = {"passed": 0, "failed": 0, "cached": 0, "flaky": 0, "xfail": 0, "skipped": 0,
         "xpass": 0, "oom": 0, "timeout": 0}
    for t in tests:
        s = t["status"]
        if t["cached"]:
            c["cached"] += 1
        if s == "PASSED":
            c["passed"] += 1
        elif s == "FLAKY":
            c["flaky"] += 1
        elif s == "XFAIL":
            c["xfail"] += 1
        elif s == "SKIPPED":
            c["skipped"] += 1
        else:
            c["failed"] += 1
            if s in ("XPASS", "OOM", "TIMEOUT"):
                c[s.lower()] += 1
    return c


def rss_summary(tests: list[dict]) -> dict:
    measured = [t for t in tests if t["max_rss_kb"]]
    if not measured:
        return {}
    top = max(measured, key=lambda t: t["max_rss_kb"])
    values = sorted(t["max_rss_kb"] for t in measured)
    return {"measured": len(measured), "max_kb": top["max_rss_kb"], "max_label": top["label"],
            "mean_kb": round(sum(values) / len(values)), "median_kb": values[len(values) // 2],
            "top": [{"label": t["label"], "max_rss_kb": t["max_rss_kb"]}
                    for t in sorted(measured, key=lambda t: -t["max_rss_kb"])[:5]]}


def collect(outcomes, cas, measure_rss: bool = False) -> list[dict]:
    """Per label: the worst status of its runs and shards, and their logs."""
    by_label: dict[str, list] = {}
    for o in outcomes:
        by_label.setdefault(o.label, []).append(o)
    tests = []
    for label in sorted(by_label):
        runs = by_label[label]
        status = max((r.status for r in runs), key=lambda s: ORDER.get(s, 3))
        parts = []
        for r in sorted(runs, key=lambda r: r.action.outputs[0].path):
            out = r.stdout or (cas.read_bytes(r.stdout_digest) if r.stdout_digest else b"") or b""
            err = r.stderr or (cas.read_bytes(r.stderr_digest) if r.stderr_digest else b"") or b""
            head = f"==> {r.action.progress} ({r.status}{', cached' if r.cached else ''}" \
                   f"{f', {r.attempts} attempts' if r.attempts > 1 else ''})\n"
            parts.append(head.encode() + out + err)
        report: dict[str, str] = {}
        for r in runs:
            for k, v in r.action.report:
                report[k] = ",".join(dict.fromkeys(filter(None, [*report.get(k, "").split(","), *v.split(",")])))
        tests.append({"label": label, "status": status, "cached": all(r.cached for r in runs),
                      "duration_s": round(sum(r.duration for r in runs), 3), "path": report.get("case"),
                      "lanes": report["lanes"].split(",") if report.get("lanes") else [],
                      "max_rss_kb": max(r.max_rss_kb for r in runs) or None if measure_rss else None,
                      "runs": len(runs), "log_bytes": b"".join(parts)})
    return tests


def log_path(root: str, label: str) -> str:
    pkg, name = label[2:].split(":", 1)
    return os.path.join(root, TESTLOGS_DIR, pkg, name, "test.log")


def write_reports(root: str, tests: list[dict], jobs: int, junit: str | None, limits: dict | None = None,
                  keep_pass_logs: bool = False, report_format: str = "moltb", run_id: str = "") -> dict:
    """Write the logs (a passing test's only with `keep_pass_logs`), summary.json,
    failures.txt and junit.xml. Each test keeps its log text under "log_bytes" for
    printing; its "log" is the kept file (or None)."""
    base = os.path.join(root, TESTLOGS_DIR)
    os.makedirs(base, exist_ok=True)
    for t in tests:
        p = log_path(root, t["label"])
        if t["status"] in PRUNED and not keep_pass_logs:
            try:
                os.unlink(p)          # no stale log from an earlier run next to a pass
            except OSError:
                pass
            t["log"] = None
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(t["log_bytes"])
        t["log"] = os.path.relpath(p, root)
    counts = counts_of(tests)
    public = [{k: v for k, v in t.items() if k != "log_bytes"} for t in tests]
    write_results_jsonl(base, tests, _atomic)
    if report_format == "molt":
        write_molt_reports(base, tests, jobs, limits or {}, rss_summary(tests), run_id, _atomic)
    else:
        summary = {"counts": counts, "jobs": jobs, "limits": limits or {}, "rss": rss_summary(tests),
                   "tests": public}
        _atomic(os.path.join(base, "summary.json"), json.dumps(summary, indent=1) + "\n")
        _atomic(os.path.join(base, "failures.txt"),
                "".join(f"{t['label']}\n" for t in tests if t["status"] in FAILING))
    suite = ET.Element("testsuite", name="moltb", tests=str(len(tests)),
                       failures=str(sum(t["status"] in FAILING for t in tests)),
                       time=f"{sum(t['duration_s'] for t in tests):.3f}")
    for t in tests:
        pkg, name = t["label"][2:].split(":", 1)
        case = ET.SubElement(suite, "testcase", classname=pkg or "//", name=t["label"], time=f"{t['duration_s']:.3f}")
        if t["status"] in FAILING:
            tail = t["log_bytes"][-4000:].decode(errors="replace")
            failure = ET.SubElement(case, "failure", message=t["status"])
            failure.text = tail
        elif t["status"] in ("SKIPPED", "XFAIL"):
            ET.SubElement(case, "skipped", message=t["status"])
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    xml_text = ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True)
    _atomic(os.path.join(base, "junit.xml"), xml_text + "\n")
    if junit:
        path = os.path.abspath(junit)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _atomic(path, xml_text + "\n")
        except OSError as e:
            raise UsageError(f"cannot write --junit {junit}: {e.strerror or e}") from None
    return counts


def _atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def print_results(tests: list[dict], root: str, mode: str, err) -> None:
    for t in tests:
        cached = "(cached) " if t["cached"] else ""
        err.write(f"{t['label']:<50} {cached}{t['status']} in {t['duration_s']:.1f}s\n")
        failing = t["status"] in FAILING
        if (mode == "all") or (mode == "errors" and failing):
            text = t["log_bytes"].decode(errors="replace").rstrip()
            if text:
                err.write(text + "\n")
        elif failing:
            err.write(f"  log: {t['log']}\n")


def exit_code(build_ok: bool, tests: list[dict]) -> int:
    if not build_ok:
        return EXIT_BUILD_FAILED
    if not tests:
        return EXIT_NO_TESTS
    return EXIT_TESTS_FAILED if any(t["status"] in FAILING for t in tests) else EXIT_OK
