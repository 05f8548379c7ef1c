"""Test reports in the shape Molt's differential runner writes (`moltb test
--report-format molt`), so a team's CI scripts read them unchanged: `failures.txt` with
one case file path per line (workspace-relative), and `summary.json` with `discovered,
total, passed, failed, oom, skipped, failed_files, skipped_files, item_results[{path,
status, duration_s}], python_exe, jobs, run_id, config, rss`. Every format also writes
`results.jsonl`: one line per test with its status, lanes, peak RSS, duration and
whether it came from the cache."""
from __future__ import annotations

import json
import os
import sys

# moltb's statuses in Molt's four.
MOLT_STATUS = {"PASSED": "passed", "FLAKY": "passed", "XFAIL": "passed", "FAILED": "failed", "XPASS": "failed",
               "TIMEOUT": "failed", "OOM": "oom", "SKIPPED": "skipped"}


def write_results_jsonl(base: str, tests: list[dict], atomic) -> None:
    lines = [json.dumps({"label": t["label"], "path": t.get("path"), "status": t["status"],
                         "lanes": t.get("lanes", []), "cached": t["cached"], "duration_s": t["duration_s"],
                         "max_rss_kb": t["max_rss_kb"], "runs": t["runs"]}, separators=(",", ":"))
             for t in tests]
    atomic(os.path.join(base, "results.jsonl"), "".join(line + "\n" for line in lines))


def molt_summary(tests: list[dict], jobs: int, limits: dict, rss: dict, run_id: str) -> dict:
    counts = {"passed": 0, "failed": 0, "oom": 0, "skipped": 0}
    items, failed, skipped = [], [], []
    for t in tests:
        status = MOLT_STATUS.get(t["status"], "failed")
        counts[status] += 1
        path = t.get("path") or t["label"]
        items.append({"path": path, "status": status, "duration_s": t["duration_s"], "label": t["label"],
                      "moltb_status": t["status"], "cached": t["cached"]})
        if status in ("failed", "oom"):
            failed.append(path)
        elif status == "skipped":
            skipped.append(path)
    return {"discovered": len(tests), "total": len(tests), **counts, "failed_files": failed,
            "skipped_files": skipped, "item_results": items, "python_exe": sys.executable, "jobs": jobs,
            "run_id": run_id, "config": limits, "rss": rss}


def write_molt_reports(base: str, tests: list[dict], jobs: int, limits: dict, rss: dict, run_id: str,
                       atomic) -> None:
    summary = molt_summary(tests, jobs, limits, rss, run_id)
    atomic(os.path.join(base, "summary.json"), json.dumps(summary, indent=1) + "\n")
    atomic(os.path.join(base, "failures.txt"), "".join(f"{p}\n" for p in summary["failed_files"]))
