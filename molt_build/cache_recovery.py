"""Moving a damaged action-cache database aside, safely with other processes.

Several `moltb` processes may find the same damaged `actions.db` at once. The first
(under a lock file beside it) renames it, with its `-wal` and `-shm` files, to
`actions.db.corrupt-<UTC>`; the others see that the file at that path is no longer
the one they found damaged, and simply reopen. Connections still open on the old file
keep working on it until they notice too."""
from __future__ import annotations

import os
import time


def quarantine(path: str, ident: tuple[int, int] | None) -> str:
    """Move the database at `path` aside if it is still the file `ident` (device,
    inode) names, or if `ident` is None (it could not even be opened). Returns the new
    name, or '' when another process already did it."""
    import filelock
    with filelock.FileLock(path + ".recover.lock", timeout=60):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return ""
        if ident is not None and (st.st_dev, st.st_ino) != ident:
            return ""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
        dest = f"{path}.corrupt-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            try:
                os.replace(path + suffix, dest + suffix)
            except FileNotFoundError:
                pass
        return dest
