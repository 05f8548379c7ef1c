"""A deque backed by intrinsics."""
from _intrinsics import require_intrinsic


class Deque:
    def __init__(self):
        self._d = require_intrinsic("molt_deque_new")()

    def append(self, x):
        require_intrinsic("molt_deque_append")(self._d, x)
