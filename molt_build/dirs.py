"""Making directories that other processes may remove at the same time (a `cache
clear`, the last holder of a lock taking its directory with it)."""
from __future__ import annotations

import os

ATTEMPTS = 5


def make_dir(d: str) -> None:
    """os.makedirs(d, exist_ok=True), safe against a concurrent removal: makedirs raises
    FileExistsError when another process made the directory and a third removed it
    before makedirs looked again; make it again then."""
    for attempt in range(ATTEMPTS):
        try:
            os.makedirs(d, exist_ok=True)
            return
        except FileExistsError:
            if attempt == ATTEMPTS - 1 or (os.path.lexists(d) and not os.path.isdir(d)):
                raise
