# MOLT_META: wasm=no note: tokens without an equals sign are ignored
import os
import sys
sys.exit(5 if os.environ.get("MC_PLATFORM") else 0)
