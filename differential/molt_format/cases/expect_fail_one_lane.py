# MOLT_META: expect_fail=molt-wasm expect_fail_reason=wasm-prints-differently
# Only the wasm-platform lane differs, and only it is expected to.
import os
print("wasm" if os.environ.get("MC_PLATFORM") == "wasm" else "native")
