import math
vals = [0.0, -0.0, 1.5, 2.675, 1e-7, 123456789.123, float("inf"), float("nan")]
for v in vals:
    print(repr(v), f"{v:.3f}", f"{v:e}", f"{v:g}")
print(math.isclose(0.1 * 3, 0.3), 0.1 * 3 == 0.3)
print(float.fromhex("0x1.8p1"), (0.5).as_integer_ratio(), (3.0).is_integer())
print(sum([0.1] * 10), math.fsum([0.1] * 10))
