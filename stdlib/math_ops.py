"""Math helpers: isqrt is an intrinsic, clamp is still plain Python (intrinsic-partial)."""
from _intrinsics import require_intrinsic


def isqrt(n: int) -> int:
    return require_intrinsic("molt_math_isqrt")(n)


def clamp(x: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, x))
