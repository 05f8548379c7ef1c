# MOLT_META: expect_fail=molt-native
# MOLT_META: expect_fail=molt-wasm expect_fail_reason=two-header-lines
# The same key on two lines accumulates: both lanes are expected to fail.
import os
print(os.environ.get("MC_COMPILED", "cpython"))
