"""String helpers, fully backed by intrinsics."""
from _intrinsics import require_intrinsic

_upper = require_intrinsic("molt_str_upper")
_find = require_intrinsic("molt_str_find")


def upper(s: str) -> str:
    return require_intrinsic("molt_str_upper")(s)


def find(s: str, sub: str) -> int:
    return require_intrinsic("molt_str_find")(s, sub)
