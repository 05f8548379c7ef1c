# MOLT_META: stderr=exact
import sys
print("warning: deprecated option", file=sys.stderr)
print("done")
