# MOLT_META: expect_fail=molt expect_fail_reason=mc-refuses-it
# mc: unsupported
print("CPython runs it")
