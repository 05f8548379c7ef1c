"""What a failed action prints: the reason, the command to run it again by hand, and
its output."""
from __future__ import annotations

import shlex

from molt_build.executor import Spawn, SpawnResult
from molt_build.model import Action


def failure_text(progress, root: str, action: Action, why: str, res: SpawnResult | None,
                 spawn: Spawn | None) -> str:
    lines = [progress.red(f"FAILED: {action.owner} {action.progress} ({why})")]
    if spawn is not None:
        env = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(spawn.env.items()) if k != "TMPDIR")
        lines.append(f"  (cd {shlex.quote(root)} && env -i {env} {shlex.join(spawn.argv)})")
    if res is not None:
        for stream in (res.stdout, res.stderr):
            text = stream.decode(errors="replace").rstrip()
            if text:
                lines.append(text)
    return "\n".join(lines)


def failure_reason(res: SpawnResult, timeout: float | None) -> str:
    """Why a finished spawn failed (a build action, not a test's verdict)."""
    if res.timed_out:
        return f"timed out after {timeout:g}s"
    if res.error:
        return res.error
    if res.exit_code != 0:
        return f"exit code {res.exit_code}"
    return "declared output(s) not created: " + ", ".join(res.missing)
