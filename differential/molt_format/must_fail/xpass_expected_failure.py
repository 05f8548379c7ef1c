# MOLT_META: expect_fail=molt expect_fail_reason=fixed-long-ago
# Every lane matches CPython: an expected failure that passes fails the case (XPASS).
print("fixed")
