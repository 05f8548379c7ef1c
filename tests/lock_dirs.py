"""Remove the per-cache lock directories (on tmpfs) of caches a test created, so test
runs do not leave them behind. Only directories named after one of those caches go."""
from __future__ import annotations

import os
import shutil
from pathlib import Path



def drop_lock_dirs(base: Path) -> None:
    from molt_build.locks import TMPFS, lock_dir
    for db in Path(base).rglob("actions.db"):
        try:
            d = lock_dir(str(db.parent))
        except OSError:
            continue
        if os.path.dirname(d) == TMPFS and os.path.basename(d).startswith("moltb-locks-"):
            shutil.rmtree(d, ignore_errors=True)
