# MOLT_META: expect_fail=molt expect_fail_reason=candidate-output-differs
# `molt` names every molt-* lane: both differ from CPython, as expected.
import os
print("compiled" if os.environ.get("MC_COMPILED") else "cpython")
