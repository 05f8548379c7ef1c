# The native lane matches CPython, the wasm-platform lane does not: the lanes
# disagree with each other, and the case fails naming both.
import os
print("wasm" if os.environ.get("MC_PLATFORM") else "cpython and native")
