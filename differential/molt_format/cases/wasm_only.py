# MOLT_META: wasm=only
# Only the wasm-platform lane runs it; the native lane would fail.
import os
print("native" if os.environ.get("MC_COMPILED") and not os.environ.get("MC_PLATFORM") else "same")
