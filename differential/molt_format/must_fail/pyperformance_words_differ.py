# MOLT_META: stdout=pyperformance
# Numbers are normalised, words are not.
import os
print("elapsed" if os.environ.get("MC_COMPILED") else "duration", 1.5)
