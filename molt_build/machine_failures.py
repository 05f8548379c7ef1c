"""When an action's failure is the machine's (exit 36), not the action's: a full disk,
a read-only or unwritable cache."""
from __future__ import annotations

import errno
import os

from molt_build.errors import environment_problem


def machine_failed(exc: BaseException, cache_dir: str) -> bool:
    """An error storing an action's results that is the machine's (a full disk, a
    read-only or unwritable cache), not the action's."""
    if not isinstance(exc, OSError) or environment_problem(exc) is None:
        return False
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return True
    return bool(exc.filename) and os.path.abspath(str(exc.filename)).startswith(cache_dir + os.sep)


def exec_disk_full(res, cache_dir: str) -> bool:
    """An action that failed on a full file system: the cache's, where exec roots are
    (its output and even its stderr may not have been written: the failure says
    nothing of the action)."""
    try:
        st = os.statvfs(cache_dir)
    except OSError:
        return False
    free = st.f_bavail * st.f_frsize
    return free < 64 * 1024 or (b"No space left on device" in (res.stderr or b"")[-4096:]
                                and free < max(1 << 20, st.f_blocks * st.f_frsize // 100))
