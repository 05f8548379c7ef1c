# MOLT_META: max_py=3.12
# Runs against CPython 3.11 and 3.12 only.
import sys
print(sys.version_info < (3, 13))
