# MOLT_META: xfail=known-divergence
import os
print(bool(os.environ.get("MC_COMPILED")))
