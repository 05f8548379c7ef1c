# MOLT_META: wasm=no
# The wasm-platform lane would fail this case; wasm=no leaves it out.
import os
import sys
sys.exit(4 if os.environ.get("MC_PLATFORM") == "wasm" else 0)
